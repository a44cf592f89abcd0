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
from tests.kit.azuresim.roles import OWNER
from tests.kit.azuresim.store import Principal, RoleAssignment, Subscription
from tests.kit.azuresim.world import World
from tests.kit.sim.oidc import OidcIssuer
from tests.kit.sim.server import SimServer
from tests.kit.sim.tls import authority

ADMIN_NAME = "keda-auth-sim-admin"


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
