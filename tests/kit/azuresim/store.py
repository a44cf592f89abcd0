"""The simulator's state: tenants, subscriptions, directory principals, ARM resources, role assignments,
custom roles, trusted OIDC issuers and long-running operations. One lock guards it all.

Everything ARM addresses is keyed by `ids.norm(id)`, so lookups are case-insensitive like ARM.
"""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.kit.azuresim.ids import is_within, norm
from tests.kit.azuresim.roles import BUILTIN_BY_GUID, RoleDefinition


@dataclass
class Principal:
    """A directory object: the service principal of an app or managed identity, or a user/group."""

    object_id: str
    tenant_id: str
    display_name: str
    principal_type: str = "ServicePrincipal"  # User, Group, ServicePrincipal
    app_id: str | None = None  # service principals only: the client id tokens are requested with
    secret: str | None = None  # an app's client secret (the admin's)
    mi_resource_id: str | None = None  # user-assigned identity behind this service principal


@dataclass
class Subscription:
    subscription_id: str
    tenant_id: str
    display_name: str


@dataclass
class Resource:
    id: str  # canonical casing, as ARM returns it
    type: str  # e.g. Microsoft.ServiceBus/namespaces/queues (lookup key, not necessarily the returned type)
    body: dict[str, Any]
    created: float
    state: dict[str, Any] = field(default_factory=dict)  # kind-specific bookkeeping, never returned


@dataclass
class RoleAssignment:
    id: str
    name: str
    scope: str
    role_definition_id: str
    role_guid: str
    principal_id: str
    principal_type: str
    created: float
    created_by: str
    description: str | None = None
    condition: str | None = None
    condition_version: str | None = None


@dataclass
class Operation:
    """An ARM asynchronous operation (Azure-AsyncOperation / Location polling)."""

    id: str
    done_at: float
    started: float
    resource_id: str


@dataclass
class Settings:
    page_size: int = 100
    rbac_propagation_seconds: float = 0.0
    fic_propagation_seconds: float = 0.0
    legacy_fic_errors: bool = False
    # AKS writes: 0 answers at once with provisioningState Succeeded (the LRO poller needs no polling); more makes
    # the cluster "Creating"/"Updating" that long behind an Azure-AsyncOperation URL, polled every
    # `lro_retry_after` whole seconds (the SDK parses Retry-After as an int; 0 makes it use its polling_interval).
    lro_seconds: float = 0.0
    lro_retry_after: int = 1


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tenants: dict[str, str] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.principals: dict[str, Principal] = {}
        self.resources: dict[str, Resource] = {}  # resource groups and resources
        self.role_assignments: dict[str, RoleAssignment] = {}
        self.custom_roles: dict[str, RoleDefinition] = {}
        self.trusted_issuers: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, Operation] = {}

    # -- directory
    def add_tenant(self, tenant_id: str) -> None:
        with self.lock:
            self.tenants[tenant_id.lower()] = tenant_id

    def has_tenant(self, tenant_id: str) -> bool:
        return tenant_id.lower() in self.tenants

    def add_principal(self, principal: Principal) -> Principal:
        with self.lock:
            self.principals[principal.object_id.lower()] = principal
        return principal

    def principal(self, object_id: str) -> Principal | None:
        return self.principals.get(object_id.lower())

    def app(self, tenant_id: str, client_id: str) -> Principal | None:
        with self.lock:
            for p in self.principals.values():
                if p.app_id and p.app_id.lower() == client_id.lower() and p.tenant_id.lower() == tenant_id.lower():
                    return p
        return None

    def remove_principal(self, object_id: str) -> None:
        with self.lock:
            self.principals.pop(object_id.lower(), None)

    # -- subscriptions
    def subscription(self, subscription_id: str) -> Subscription | None:
        return self.subscriptions.get(subscription_id.lower())

    # -- resources
    def get(self, resource_id: str) -> Resource | None:
        return self.resources.get(norm(resource_id))

    def put(self, resource: Resource) -> None:
        with self.lock:
            self.resources[norm(resource.id)] = resource

    def children(self, parent_id: str, resource_type: str) -> list[Resource]:
        """Direct children of `parent_id` of the given type, in creation order."""
        prefix = norm(parent_id) + "/"
        depth = prefix.count("/") + 1
        with self.lock:
            found = [r for key, r in self.resources.items()
                     if key.startswith(prefix) and r.type.lower() == resource_type.lower() and key.count("/") <= depth]
        return sorted(found, key=lambda r: r.created)

    def of_type(self, resource_type: str, within: str) -> list[Resource]:
        with self.lock:
            found = [r for r in self.resources.values() if r.type.lower() == resource_type.lower()
                     and is_within(r.id, within)]
        return sorted(found, key=lambda r: r.created)

    def delete_tree(self, resource_id: str) -> list[Resource]:
        """Remove a resource, everything below it and role assignments scoped inside it."""
        with self.lock:
            gone = [r for key, r in list(self.resources.items()) if is_within(key, resource_id)]
            for r in gone:
                del self.resources[norm(r.id)]
            for key, ra in list(self.role_assignments.items()):
                if is_within(ra.scope, resource_id):
                    del self.role_assignments[key]
        return gone

    # -- role definitions
    def role_definition(self, guid: str) -> RoleDefinition | None:
        return BUILTIN_BY_GUID.get(guid.lower()) or self.custom_roles.get(guid.lower())

    def role_definitions(self) -> list[RoleDefinition]:
        return [*BUILTIN_BY_GUID.values(), *self.custom_roles.values()]

    # -- operations
    def add_operation(self, resource_id: str, now: float, duration: float) -> Operation:
        op = Operation(str(uuid.uuid4()), now + duration, now, resource_id)
        with self.lock:
            self.operations[op.id.lower()] = op
        return op

    def snapshot(self, resource: Resource) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(resource.body)


# -- recorded resources (AzureSim.preload)
# Top-level keys of an ARM resource envelope; anything else at the top level is a property the `az` CLI
# flattened out of `properties` (bot/snapshot/model.py reads both shapes with the same list).
ENVELOPE_KEYS = frozenset({"id", "name", "type", "location", "tags", "systemdata", "identity", "sku", "etag",
                           "kind", "zones", "extendedlocation", "managedby", "plan", "properties"})
_CLI_ONLY_KEYS = frozenset({"resourcegroup"})  # `az` adds it; ARM never returns it


def rest_shape(raw: dict[str, Any]) -> dict[str, Any]:
    """The REST shape of a resource given in either shape: envelope keys at the top, the rest in `properties`
    (a nested value wins over a flattened one, as when reading a bundle)."""
    body: dict[str, Any] = {}
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        lowered = key.lower()
        if lowered in _CLI_ONLY_KEYS or lowered == "properties":
            continue
        (body if lowered in ENVELOPE_KEYS else flat)[key] = copy.deepcopy(value)
    nested = raw.get("properties")
    body["properties"] = {**flat, **(copy.deepcopy(nested) if isinstance(nested, dict) else {})}
    return body


def parse_time(text: Any) -> float | None:
    """Epoch seconds of an ARM timestamp (`2026-01-10T08:00:00Z`, `...07.8466405Z`), None if absent."""
    if not isinstance(text, str) or not text:
        return None
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()  # ARM times are UTC
