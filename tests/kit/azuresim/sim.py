"""AzureSim: an ARM + Entra ID simulator over HTTPS for the real Azure SDK clients and azure-identity.

    with AzureSim(tenant_id=TENANT, subscription_ids=[SUB]) as sim:
        cred = sim.admin_credential()                       # Owner on every subscription
        msi = ManagedServiceIdentityClient(cred, SUB, **sim.client_kwargs())
        ...
        sim.trust_issuer(issuer.issuer, issuer.jwks())      # what Entra fetches from the OIDC issuer
        WorkloadIdentityCredential(tenant_id=TENANT, client_id=..., token_file_path=...,
                                   **sim.credential_kwargs())

ARM and Entra are separate servers (`sim.arm`, `sim.entra`), so a test can fault or stop Entra alone.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from azure.identity import ClientSecretCredential

from tests.kit.azuresim.arm import ArmApp
from tests.kit.azuresim.authz import grants
from tests.kit.azuresim.entra import EntraApp
from tests.kit.azuresim.errors import arm_fault_body, entra_fault_body_for
from tests.kit.azuresim.groups import GROUP_TYPE
from tests.kit.azuresim.identities import IdentityKind
from tests.kit.azuresim.ids import is_guid, norm, parse
from tests.kit.azuresim.kinds import REGISTRY
from tests.kit.azuresim.rbac import RA_TYPE, ROLE_DEFINITION_ID
from tests.kit.azuresim.roledefs import RD_TYPE
from tests.kit.azuresim.roles import BUILTIN_BY_GUID, OWNER, Permission, RoleDefinition
from tests.kit.azuresim.store import Principal, Resource, RoleAssignment, Subscription, parse_time, rest_shape
from tests.kit.azuresim.world import World
from tests.kit.sim.oidc import OidcIssuer
from tests.kit.sim.server import SimServer
from tests.kit.sim.tls import authority

ADMIN_NAME = "keda-auth-sim-admin"
SUBSCRIPTION_TYPE = "Microsoft.Resources/subscriptions"
DEFAULT_LOCATION = "westeurope"  # for a resource group only known from the ids of what it holds
_CONTAINERS = re.compile(r"^/subscriptions/([^/]+)(?:/resourceGroups/([^/]+))?", re.IGNORECASE)
_ASSIGNMENTS = "/providers/microsoft.authorization/roleassignments/"
_DEFINITIONS = "/providers/microsoft.authorization/roledefinitions/"


class AzureSim:
    def __init__(self, tenant_id: str | None = None, subscription_ids: Sequence[str] = (),
                 extra_tenants: Sequence[str] = (), rbac_propagation_seconds: float = 0.0,
                 fic_propagation_seconds: float = 0.0, page_size: int = 100, legacy_fic_errors: bool = False) -> None:
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.world = World(self.tenant_id)
        settings = self.world.settings
        settings.page_size = page_size
        settings.rbac_propagation_seconds = rbac_propagation_seconds
        settings.fic_propagation_seconds = fic_propagation_seconds
        settings.legacy_fic_errors = legacy_fic_errors
        self._admins: dict[str, Principal] = {}
        for tenant in (self.tenant_id, *extra_tenants):
            self.add_tenant(tenant)
        for subscription in subscription_ids or [str(uuid.uuid4())]:
            self.add_subscription(subscription)
        self.arm = SimServer(ArmApp(self.world), fault_body=arm_fault_body, tls=True, name="azuresim-arm")
        self.entra_app = EntraApp(self.world)
        self.entra = SimServer(self.entra_app, fault_body=entra_fault_body_for(lambda: self.world.authority),
                               tls=True, name="azuresim-entra")

    # -- lifecycle
    def start(self) -> AzureSim:
        for server in (self.arm, self.entra):
            server.start()
        self.world.arm_url = self.arm.url
        self.world.authority = self.entra.url
        return self

    def stop(self) -> None:
        self.arm.stop()
        self.entra.stop()

    def __enter__(self) -> AzureSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- where clients connect
    @property
    def arm_url(self) -> str:
        return self.world.arm_url  # kept after stop() so a stopped server still has an address to fail on

    @property
    def authority_host(self) -> str:
        return self.world.authority

    @property
    def ca_path(self) -> Path:
        return authority().ca_path

    @property
    def subscription_ids(self) -> list[str]:
        return [s.subscription_id for s in self.world.store.subscriptions.values()]

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any azure-mgmt client: `XxxClient(cred, sub, **sim.client_kwargs())`."""
        return {"base_url": self.arm_url, "connection_verify": str(self.ca_path)}

    def credential_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for azure-identity credentials talking to this Entra."""
        return {"authority": self.authority_host, "connection_verify": str(self.ca_path)}

    # -- directory and subscriptions
    def add_tenant(self, tenant_id: str) -> None:
        self.world.store.add_tenant(tenant_id)
        admin = Principal(str(uuid.uuid4()), tenant_id, ADMIN_NAME, app_id=str(uuid.uuid4()),
                          secret=secrets.token_urlsafe(24))
        self._admins[tenant_id.lower()] = self.world.store.add_principal(admin)

    def add_subscription(self, subscription_id: str, tenant_id: str | None = None,
                         display_name: str | None = None) -> None:
        """A subscription in `tenant_id` (default: the primary tenant); that tenant's admin becomes Owner."""
        tenant = tenant_id or self.tenant_id
        store = self.world.store
        if not store.has_tenant(tenant):
            self.add_tenant(tenant)
        store.subscriptions[subscription_id.lower()] = Subscription(subscription_id, tenant,
                                                                    display_name or f"sim-{subscription_id[:8]}")
        admin = self._admins[tenant.lower()]
        scope = f"/subscriptions/{subscription_id}"
        name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope}/{admin.object_id}"))
        assignment_id = f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"
        # Created at time 0: in effect from the start whatever the propagation delay.
        store.role_assignments[assignment_id.lower()] = RoleAssignment(
            assignment_id, name, scope, f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{OWNER.guid}",
            OWNER.guid, admin.object_id, "ServicePrincipal", 0.0, admin.object_id)

    def admin(self, tenant_id: str | None = None) -> Principal:
        """The built-in admin service principal of a tenant (client id, object id, secret)."""
        return self._admins[(tenant_id or self.tenant_id).lower()]

    def admin_credential(self, tenant_id: str | None = None, **kwargs: Any) -> ClientSecretCredential:
        admin = self.admin(tenant_id)
        assert admin.app_id is not None and admin.secret is not None
        return ClientSecretCredential(admin.tenant_id, admin.app_id, admin.secret, disable_instance_discovery=True,
                                      **self.credential_kwargs(), **kwargs)

    def add_principal(self, display_name: str, principal_type: str = "User", tenant_id: str | None = None) -> str:
        """A directory user, group or (app-less) service principal; returns its object id."""
        principal = Principal(str(uuid.uuid4()), tenant_id or self.tenant_id, display_name, principal_type)
        return self.world.store.add_principal(principal).object_id

    # -- recorded state (what ARM has no API for: resources with given ids, principals and creation times)
    def preload(self, resources: list[dict[str, Any]]) -> None:
        """Store ARM resources as recorded (a ClusterState's or a bundle's), outside ARM's request flow.

        Each resource may come in the REST shape (nested `properties`) or the flattened `az` CLI shape
        (`clientId`, `principalId`, `scope`, `roleDefinitionId`... at the top, see store.rest_shape); it is
        served in the REST shape, keeping the given id, name, type, client/principal/tenant ids and
        `systemData`. Creation times (`systemData.createdAt`, role assignments' `properties.createdOn`) become
        the simulator's creation times, so lists keep their order and propagation delays count from them.
        Nothing the provider would add is invented (no provisioningState, no defaults); an identity without
        clientId/principalId/tenantId gets fresh ones, as creation would.

        Like creation: an identity gets its service principal (in its `tenantId`, which joins the directory if
        unknown), so Entra can issue tokens for it and assignments to it resolve. Subscriptions and resource
        groups named in ids and scopes are created when missing (in the primary tenant, the admin as Owner;
        a group takes the location of the first resource in it). Role definitions are stored before role
        assignments whatever the order given; an assignment's role must be built in or preloaded, its principal
        need not exist (recorded states hold assignments of deleted identities).

        Raises ValueError for a type the simulator does not serve, an id that does not match its type, or an
        assignment to an unknown role.
        """
        bodies = [rest_shape(r) for r in resources]
        locations = _group_locations(bodies)
        with self.world.store.lock:
            for body in sorted(bodies, key=_preload_order):
                kind = str(body.get("type") or "").lower()
                if kind == RA_TYPE.lower():
                    self._preload_assignment(body, locations)
                elif kind == RD_TYPE.lower():
                    self._preload_role_definition(body)
                elif kind == SUBSCRIPTION_TYPE.lower():
                    self._ensure_containers(str(body["id"]), locations, display_name=body["properties"].get(
                        "displayName"))
                elif kind == GROUP_TYPE.lower():
                    self._preload_group(body, locations)
                else:
                    self._preload_resource(body, locations)

    def _ensure_containers(self, resource_id: str, locations: dict[str, str], display_name: str | None = None) -> None:
        """The subscription and resource group an id or scope names, created when missing."""
        match = _CONTAINERS.match(resource_id)
        if match is None:
            return  # the root scope or a management group: nothing to create
        subscription, group = match.groups()
        store = self.world.store
        if store.subscription(subscription) is None:
            self.add_subscription(subscription, display_name=display_name)
        if group is not None:
            scope = f"/subscriptions/{subscription}/resourceGroups/{group}"
            if store.get(scope) is None:
                store.put(Resource(scope, GROUP_TYPE, {
                    "id": scope, "name": group, "type": GROUP_TYPE, "location": _location_of(scope, locations),
                    "properties": {"provisioningState": "Succeeded"}}, self.world.clock.now()))

    def _preload_group(self, body: dict[str, Any], locations: dict[str, str]) -> None:
        rid = parse(str(body["id"]))
        if rid.resource_group is None or rid.types:
            raise ValueError(f"not a resource group id: {body['id']}")
        self._ensure_containers(rid.subscription_scope, locations)
        body.setdefault("name", rid.resource_group)
        body.setdefault("location", _location_of(rid.group_scope, locations))
        created = parse_time((body.get("systemData") or {}).get("createdAt")) or self.world.clock.now()
        self.world.store.put(Resource(str(body["id"]), GROUP_TYPE, body, created))

    def _preload_resource(self, body: dict[str, Any], locations: dict[str, str]) -> None:
        rid = parse(str(body.get("id") or ""))
        kind = REGISTRY.get(rid.full_type.lower())
        given = str(body.get("type") or rid.full_type)
        if kind is None or kind.implicit:
            raise ValueError(f"azuresim does not serve {given} resources: {body.get('id')}")
        if given.lower() != kind.type.lower():
            raise ValueError(f"type {given} does not match the id {body['id']}")
        body["type"] = given
        body.setdefault("name", rid.name)
        self._ensure_containers(rid.text(), locations)
        store = self.world.store
        props: dict[str, Any] = body["properties"]
        created = (parse_time((body.get("systemData") or {}).get("createdAt"))
                   or parse_time(props.get("createdOn")) or parse_time(props.get("createdAt"))
                   or parse_time(props.get("creationTime")) or self.world.clock.now())
        previous = store.get(rid.text())
        if isinstance(kind, IdentityKind):
            if previous is not None:
                store.remove_principal(str(previous.body["properties"].get("principalId", "")))
            subscription = store.subscription(rid.subscription)
            assert subscription is not None  # _ensure_containers made it
            props.setdefault("tenantId", subscription.tenant_id)
            props.setdefault("principalId", str(uuid.uuid4()))
            props.setdefault("clientId", str(uuid.uuid4()))
            if not store.has_tenant(props["tenantId"]):
                self.add_tenant(props["tenantId"])
        resource = Resource(str(body["id"]), kind.type, body, created)
        store.put(resource)
        if isinstance(kind, IdentityKind):
            # What IdentityKind.on_created does: the identity's service principal, its app id the client id.
            store.add_principal(Principal(props["principalId"], props["tenantId"], str(body["name"]),
                                          app_id=props["clientId"], mi_resource_id=resource.id))

    def _preload_role_definition(self, body: dict[str, Any]) -> None:
        definition_id = str(body.get("id") or "")
        marker = definition_id.lower().rfind(_DEFINITIONS)
        guid = str(body.get("name") or definition_id.rsplit("/", 1)[-1])
        if marker < 0 or not is_guid(guid):
            raise ValueError(f"not a role definition id: {definition_id}")
        if guid.lower() in BUILTIN_BY_GUID:
            return  # the simulator's own copy of a built-in role stands
        scope = definition_id[:marker] or "/"
        self._ensure_containers(scope, {})
        props: dict[str, Any] = body["properties"]
        self.world.store.custom_roles[guid.lower()] = RoleDefinition(
            guid.lower(), str(props.get("roleName") or ""), str(props.get("description") or ""),
            tuple(Permission.from_body(p) for p in props.get("permissions") or []),
            str(props.get("type") or props.get("roleType") or "CustomRole"),  # nested REST / flattened CLI name
            tuple(props.get("assignableScopes") or [scope]), scope)

    def _preload_assignment(self, body: dict[str, Any], locations: dict[str, str]) -> None:
        store = self.world.store
        assignment_id = str(body.get("id") or "")
        marker = assignment_id.lower().rfind(_ASSIGNMENTS)
        if marker < 0:
            raise ValueError(f"not a role assignment id: {assignment_id}")
        props: dict[str, Any] = body["properties"]
        scope = str(props.get("scope") or assignment_id[:marker] or "/").rstrip("/") or "/"
        role_definition_id = str(props.get("roleDefinitionId") or "")
        match = ROLE_DEFINITION_ID.match(role_definition_id)
        if match is None or store.role_definition(match.group(1)) is None:
            raise ValueError(f"role assignment {assignment_id}: role definition {role_definition_id!r} is neither "
                             "built into azuresim nor preloaded")
        principal_id = str(props.get("principalId") or "")
        if not principal_id:
            raise ValueError(f"role assignment {assignment_id} names no principalId")
        self._ensure_containers(scope, locations)
        principal = store.principal(principal_id)
        store.role_assignments[norm(assignment_id)] = RoleAssignment(
            assignment_id, str(body.get("name") or assignment_id.rsplit("/", 1)[-1]), scope, role_definition_id,
            match.group(1).lower(), principal_id,
            str(props.get("principalType") or (principal.principal_type if principal else "ServicePrincipal")),
            parse_time(props.get("createdOn")) or self.world.clock.now(),
            str(props.get("createdBy") or self.admin().object_id),  # unknown creator: the subscription's admin
            props.get("description"), props.get("condition"), props.get("conditionVersion"))

    # -- Entra's view of OIDC issuers
    def trust_issuer(self, issuer_url: str, jwks: dict[str, Any]) -> None:
        """Make `issuer_url`'s discovery document and keys reachable for Entra (what AKS publishes)."""
        with self.world.store.lock:
            self.world.store.trusted_issuers[issuer_url] = jwks

    def distrust_issuer(self, issuer_url: str) -> None:
        """The issuer's discovery endpoint becomes unreachable for Entra (AADSTS90061)."""
        with self.world.store.lock:
            self.world.store.trusted_issuers.pop(issuer_url, None)

    def cluster_issuer(self, subscription_id: str, resource_group: str, cluster: str) -> OidcIssuer:
        """An OidcIssuer for an AKS cluster's issuer URL, already trusted by Entra."""
        resource = self.world.store.get(f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
                                        f"Microsoft.ContainerService/managedClusters/{cluster}")
        if resource is None:
            raise KeyError(f"no managed cluster {resource_group}/{cluster}")
        issuer = OidcIssuer(resource.body["properties"]["oidcIssuerProfile"]["issuerURL"])
        self.trust_issuer(issuer.issuer, issuer.jwks())
        return issuer

    def register_resource(self, resource_uri: str) -> None:
        """Let Entra issue tokens for another resource (default: ARM, Service Bus, Storage, Key Vault...)."""
        self.entra_app.resources.add(resource_uri.rstrip("/").lower())

    def is_allowed(self, principal_id: str, action: str, scope: str, *, data: bool = False) -> bool:
        """Whether RBAC (as propagated now) lets `principal_id` perform a control-plane action or, with
        `data=True`, a data action such as Microsoft.ServiceBus/namespaces/queues/messages/receive/action."""
        now = self.world.clock.now()
        return any(grants(p, action, data=data) for p in self.world.authz.permissions(principal_id, scope, now))

    # -- time and behaviour knobs
    def advance(self, seconds: float) -> None:
        """Move the simulator's clock (propagation delays, token and assertion lifetimes) forward."""
        self.world.clock.advance(seconds)

    @property
    def rbac_propagation_seconds(self) -> float:
        return self.world.settings.rbac_propagation_seconds

    @rbac_propagation_seconds.setter
    def rbac_propagation_seconds(self, value: float) -> None:
        self.world.settings.rbac_propagation_seconds = value

    @property
    def fic_propagation_seconds(self) -> float:
        return self.world.settings.fic_propagation_seconds

    @fic_propagation_seconds.setter
    def fic_propagation_seconds(self, value: float) -> None:
        self.world.settings.fic_propagation_seconds = value

    @property
    def legacy_fic_errors(self) -> bool:
        return self.world.settings.legacy_fic_errors

    @legacy_fic_errors.setter
    def legacy_fic_errors(self, value: bool) -> None:
        self.world.settings.legacy_fic_errors = value

    @property
    def spec_violations(self) -> list[str]:
        return list(self.world.spec.violations)


def _preload_order(body: dict[str, Any]) -> int:
    """Containers and role definitions first, role assignments last: what the later ones refer to."""
    kind = str(body.get("type") or "").lower()
    if kind in (SUBSCRIPTION_TYPE.lower(), GROUP_TYPE.lower(), RD_TYPE.lower()):
        return 0
    return 2 if kind == RA_TYPE.lower() else 1


def _group_locations(bodies: list[dict[str, Any]]) -> dict[str, str]:
    """Resource group scope (normalised) → the location of the first located resource in it; "" → any."""
    found: dict[str, str] = {}
    for body in bodies:
        match = _CONTAINERS.match(str(body.get("id") or ""))
        location = body.get("location")
        if match is None or not isinstance(location, str) or not location:
            continue
        found.setdefault("", location)
        if match.group(2) is not None:
            found.setdefault(norm(f"/subscriptions/{match.group(1)}/resourceGroups/{match.group(2)}"), location)
    return found


def _location_of(group_scope: str, locations: dict[str, str]) -> str:
    return locations.get(norm(group_scope)) or locations.get("") or DEFAULT_LOCATION
