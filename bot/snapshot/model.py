"""Snapshot objects: Kubernetes objects, ARM resources, their typed views, and the indexed whole."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.snapshot.frozen import as_mapping, as_seq, as_str, dig
from bot.snapshot.gaps import ALL, Gap
from bot.snapshot.timeutil import parse_time

# Keys that sit beside `properties` in an ARM resource envelope; everything else at the top level of a
# flattened `az` CLI object belongs to the properties.
_ENVELOPE_KEYS = frozenset(
    {"id", "name", "type", "location", "tags", "systemdata", "identity", "sku", "etag", "kind",
     "zones", "extendedlocation", "resourcegroup", "managedby", "plan", "properties"}
)


@dataclass(frozen=True, slots=True)
class SourceRef:
    path: str
    line: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class InputProblem:
    """Something in the input that could not be used; reported, never fatal on its own."""

    path: str
    line: int | None
    message: str
    level: str = "error"  # "error" (file or document skipped) or "warning" (ignored, harmless)

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class K8sObject:
    api_version: str
    kind: str
    namespace: str
    name: str
    raw: Mapping[str, Any]
    source: SourceRef

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    @property
    def metadata(self) -> Mapping[str, Any]:
        return as_mapping(self.raw.get("metadata"))

    @property
    def labels(self) -> Mapping[str, Any]:
        return as_mapping(self.metadata.get("labels"))

    @property
    def annotations(self) -> Mapping[str, Any]:
        return as_mapping(self.metadata.get("annotations"))

    @property
    def spec(self) -> Mapping[str, Any]:
        return as_mapping(self.raw.get("spec"))

    @property
    def status(self) -> Mapping[str, Any]:
        return as_mapping(self.raw.get("status"))

    @property
    def created(self) -> datetime | None:
        return parse_time(self.metadata.get("creationTimestamp"))

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""


@dataclass(frozen=True, slots=True)
class ArmResource:
    id: str
    type: str
    name: str
    properties: Mapping[str, Any]
    raw: Mapping[str, Any]
    source: SourceRef

    @property
    def type_lower(self) -> str:
        return self.type.lower()

    @property
    def created(self) -> datetime | None:
        return parse_time(dig(self.raw, "systemData", "createdAt")) or parse_time(
            self.prop("createdOn", "createdAt")
        )

    def prop(self, *names: str) -> Any:
        """A property by any of its spellings (REST `issuerURL` vs `az` `issuerUrl`), case-insensitively."""
        for name in names:
            if name in self.properties:
                return self.properties[name]
        lowered = {k.lower(): v for k, v in self.properties.items()}
        for name in names:
            if name.lower() in lowered:
                return lowered[name.lower()]
        return None

    @property
    def segments(self) -> dict[str, str]:
        return id_segments(self.id)

    @property
    def subscription(self) -> str | None:
        return self.segments.get("subscriptions")

    @property
    def resource_group(self) -> str | None:
        return self.segments.get("resourcegroups") or as_str(self.raw.get("resourceGroup"))


def id_segments(resource_id: str) -> dict[str, str]:
    """`/subscriptions/S/resourceGroups/R/...` as {'subscriptions': S, 'resourcegroups': R, ...} (keys
    lower-cased: MSI spells `resourcegroups` in its ids)."""
    parts = [p for p in resource_id.split("/") if p]
    return {parts[i].lower(): parts[i + 1] for i in range(0, len(parts) - 1, 2)}


def arm_properties(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    """Read both ARM shapes: nested `properties`, and the flattened `az` CLI shape."""
    nested = as_mapping(raw.get("properties"))
    flat = {k: v for k, v in raw.items() if k.lower() not in _ENVELOPE_KEYS}
    if not flat:
        return nested
    merged = dict(flat)
    merged.update(nested)
    return merged


@dataclass(frozen=True, slots=True)
class Identity:
    resource: ArmResource
    client_id: str
    principal_id: str
    tenant_id: str

    @property
    def id(self) -> str:
        return self.resource.id

    @property
    def name(self) -> str:
        return self.resource.name

    @property
    def resource_group(self) -> str:
        return self.resource.resource_group or "<resource-group>"


@dataclass(frozen=True, slots=True)
class FederatedCredential:
    resource: ArmResource
    parent_id: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.resource.name.rsplit("/", 1)[-1]

    @property
    def created(self) -> datetime | None:
        return self.resource.created


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    resource: ArmResource
    principal_id: str
    principal_type: str
    role_definition_id: str
    scope: str
    condition: str | None

    @property
    def role_guid(self) -> str:
        return self.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()

    @property
    def created(self) -> datetime | None:
        return parse_time(self.resource.prop("createdOn")) or self.resource.created


@dataclass(frozen=True, slots=True)
class RoleDefinition:
    resource: ArmResource
    guid: str
    role_name: str
    role_type: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    data_actions: tuple[str, ...]
    not_data_actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AksCluster:
    resource: ArmResource
    oidc_enabled: bool | None
    issuer_url: str | None
    workload_identity_enabled: bool | None
    kubernetes_version: str | None
    keda_addon_enabled: bool | None

    @property
    def name(self) -> str:
        return self.resource.name

    @property
    def resource_group(self) -> str:
        return self.resource.resource_group or "<resource-group>"


@dataclass(frozen=True, slots=True)
class PodLog:
    namespace: str
    pod: str
    container: str | None
    lines: tuple[str, ...]
    source: SourceRef


def _index(items: Iterable[Any], key: Any) -> dict[Any, tuple[Any, ...]]:
    grouped: dict[Any, list[Any]] = {}
    for item in items:
        grouped.setdefault(key(item), []).append(item)
    return {k: tuple(v) for k, v in grouped.items()}


@dataclass(frozen=True)
class Snapshot:
    """Everything the checks read. Built once by a reader; never changed afterwards."""

    source: str  # "bundle" or "cluster"
    origin: str  # the bundle directory or the kube context
    now: datetime | None
    now_source: str
    manifest: Mapping[str, Any]
    objects: tuple[K8sObject, ...]
    arm: tuple[ArmResource, ...]
    logs: tuple[PodLog, ...]
    problems: tuple[InputProblem, ...] = ()
    collected_kinds: frozenset[str] = frozenset()
    gaps: tuple[Gap, ...] = ()  # what a live collection could not read (from the manifest for a bundle)
    # indexes, derived in __post_init__
    _by_kind: Mapping[str, tuple[K8sObject, ...]] = field(init=False, repr=False)
    _by_key: Mapping[tuple[str, str, str], K8sObject] = field(init=False, repr=False)
    _arm_by_id: Mapping[str, ArmResource] = field(init=False, repr=False)
    _arm_by_type: Mapping[str, tuple[ArmResource, ...]] = field(init=False, repr=False)
    identities: tuple[Identity, ...] = field(init=False)
    federated_credentials: tuple[FederatedCredential, ...] = field(init=False)
    role_assignments: tuple[RoleAssignment, ...] = field(init=False)
    role_definitions: tuple[RoleDefinition, ...] = field(init=False)
    clusters: tuple[AksCluster, ...] = field(init=False)
    _identity_by_client: Mapping[str, Identity] = field(init=False, repr=False)
    _identity_by_principal: Mapping[str, Identity] = field(init=False, repr=False)
    _fics_by_parent: Mapping[str, tuple[FederatedCredential, ...]] = field(init=False, repr=False)
    _ras_by_principal: Mapping[str, tuple[RoleAssignment, ...]] = field(init=False, repr=False)
    _roledef_by_guid: Mapping[str, RoleDefinition] = field(init=False, repr=False)
    _ras_by_scope: Mapping[str, tuple[RoleAssignment, ...]] = field(init=False, repr=False)
    _ras_above_subscriptions: tuple[RoleAssignment, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "_by_kind", _index(self.objects, lambda o: o.kind))
        put(self, "_by_key", {(o.kind, o.namespace, o.name): o for o in self.objects})
        put(self, "_arm_by_id", {r.id.lower(): r for r in self.arm})
        put(self, "_arm_by_type", _index(self.arm, lambda r: r.type_lower))
        identities = tuple(_identity(r) for r in self.arm_of_type(_T_IDENTITY))
        fics = tuple(f for f in (_fic(r) for r in self.arm_of_type(_T_FIC)) if f is not None)
        ras = tuple(a for a in (_role_assignment(r) for r in self.arm_of_type(_T_RA)) if a is not None)
        defs = tuple(_role_definition(r) for r in self.arm_of_type(_T_RD))
        put(self, "identities", identities)
        put(self, "federated_credentials", fics)
        put(self, "role_assignments", ras)
        put(self, "role_definitions", defs)
        put(self, "clusters", tuple(_aks(r) for r in self.arm_of_type(_T_AKS)))
        put(self, "_identity_by_client", {i.client_id.lower(): i for i in identities if i.client_id})
        put(self, "_identity_by_principal", {i.principal_id.lower(): i for i in identities if i.principal_id})
        put(self, "_fics_by_parent", _index(fics, lambda f: f.parent_id.lower()))
        put(self, "_ras_by_principal", _index(ras, lambda a: a.principal_id.lower()))
        put(self, "_roledef_by_guid", {d.guid: d for d in defs})
        above = tuple(a for a in ras if _normal_scope(a.scope) in ("", "/") or _MG in _normal_scope(a.scope))
        put(self, "_ras_above_subscriptions", above)
        put(self, "_ras_by_scope", _index((a for a in ras if a not in above), lambda a: _normal_scope(a.scope)))

    # -- Kubernetes
    def of_kind(self, kind: str) -> tuple[K8sObject, ...]:
        return self._by_kind.get(kind, ())

    def get(self, kind: str, namespace: str, name: str) -> K8sObject | None:
        return self._by_key.get((kind, namespace, name))

    def has_kind(self, kind: str) -> bool:
        """Whether this kind was collected at all (an empty list collected on purpose counts)."""
        return kind in self._by_kind or kind in self.collected_kinds

    # -- Azure
    def arm_of_type(self, type_: str) -> tuple[ArmResource, ...]:
        return self._arm_by_type.get(type_.lower(), ())

    def arm_get(self, resource_id: str) -> ArmResource | None:
        return self._arm_by_id.get(resource_id.rstrip("/").lower())

    def has_arm_type(self, type_: str) -> bool:
        return type_.lower() in self._arm_by_type or type_.lower() in self.collected_kinds

    def complete(self, type_: str, key: str = ALL) -> bool:
        """Whether this ARM type was collected in full for `key` (an identity id, a principal id): a
        collection gap on the whole type or on that key means absence proves nothing."""
        if not self.has_arm_type(type_):
            return False
        wanted = type_.lower()
        return not any(g.kind.lower() == wanted and (g.key == ALL or g.key.lower() == key.lower())
                       for g in self.gaps)

    def identity_by_client_id(self, client_id: str) -> Identity | None:
        return self._identity_by_client.get(client_id.lower())

    def identity_by_principal_id(self, principal_id: str) -> Identity | None:
        return self._identity_by_principal.get(principal_id.lower())

    def fics_of(self, identity_id: str) -> tuple[FederatedCredential, ...]:
        return self._fics_by_parent.get(identity_id.lower(), ())

    def role_assignments_of(self, principal_id: str) -> tuple[RoleAssignment, ...]:
        return self._ras_by_principal.get(principal_id.lower(), ())

    def role_assignments_covering(self, resource_id: str) -> tuple[RoleAssignment, ...]:
        """Every assignment whose scope is the resource or one of its ancestors (root and management
        groups included, since their hierarchy is not in the snapshot). A dozen lookups, not a scan."""
        parts = _normal_scope(resource_id).split("/")
        found = list(self._ras_above_subscriptions)
        for end in range(2, len(parts) + 1):
            found += self._ras_by_scope.get("/".join(parts[:end]), ())
        return tuple(found)

    def role_definition(self, guid: str) -> RoleDefinition | None:
        return self._roledef_by_guid.get(guid.lower())

    # -- Logs
    def logs_of(self, namespace: str, pod: str) -> tuple[PodLog, ...]:
        return tuple(log for log in self.logs if log.namespace == namespace and log.pod == pod)


_MG = "/providers/microsoft.management/managementgroups/"


def _normal_scope(scope: str) -> str:
    return scope.rstrip("/").lower()


_T_IDENTITY = "Microsoft.ManagedIdentity/userAssignedIdentities"
_T_FIC = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
_T_RA = "Microsoft.Authorization/roleAssignments"
_T_RD = "Microsoft.Authorization/roleDefinitions"
_T_AKS = "Microsoft.ContainerService/managedClusters"


def _identity(r: ArmResource) -> Identity:
    return Identity(
        resource=r,
        client_id=as_str(r.prop("clientId")) or "",
        principal_id=as_str(r.prop("principalId")) or "",
        tenant_id=as_str(r.prop("tenantId")) or "",
    )


def _fic(r: ArmResource) -> FederatedCredential | None:
    marker = "/federatedidentitycredentials/"
    cut = r.id.lower().rfind(marker)
    if cut < 0:
        return None
    return FederatedCredential(
        resource=r,
        parent_id=r.id[:cut],
        issuer=as_str(r.prop("issuer")) or "",
        subject=as_str(r.prop("subject")) or "",
        audiences=tuple(a for a in as_seq(r.prop("audiences")) if isinstance(a, str)),
    )


def _role_assignment(r: ArmResource) -> RoleAssignment | None:
    principal = as_str(r.prop("principalId"))
    role = as_str(r.prop("roleDefinitionId"))
    if not principal or not role:
        return None
    scope = as_str(r.prop("scope"))
    if not scope:
        marker = "/providers/microsoft.authorization/roleassignments/"
        cut = r.id.lower().rfind(marker)
        scope = r.id[:cut] if cut > 0 else "/"
    return RoleAssignment(
        resource=r,
        principal_id=principal,
        principal_type=as_str(r.prop("principalType")) or "",
        role_definition_id=role,
        scope=scope,
        condition=as_str(r.prop("condition")),
    )


def _strings(values: Any) -> tuple[str, ...]:
    return tuple(v for v in as_seq(values) if isinstance(v, str))


def _role_definition(r: ArmResource) -> RoleDefinition:
    actions: list[str] = []
    not_actions: list[str] = []
    data_actions: list[str] = []
    not_data_actions: list[str] = []
    for perm in as_seq(r.prop("permissions")):
        perm_map = as_mapping(perm)
        actions += _strings(perm_map.get("actions"))
        not_actions += _strings(perm_map.get("notActions"))
        data_actions += _strings(perm_map.get("dataActions"))
        not_data_actions += _strings(perm_map.get("notDataActions"))
    guid = (as_str(r.raw.get("name")) or r.id.rsplit("/", 1)[-1]).lower()
    return RoleDefinition(
        resource=r,
        guid=guid,
        role_name=as_str(r.prop("roleName")) or guid,
        role_type=as_str(r.prop("type", "roleType")) or "",
        actions=tuple(actions),
        not_actions=tuple(not_actions),
        data_actions=tuple(data_actions),
        not_data_actions=tuple(not_data_actions),
    )


def _opt_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _aks(r: ArmResource) -> AksCluster:
    oidc = as_mapping(r.prop("oidcIssuerProfile"))
    security = as_mapping(r.prop("securityProfile"))
    keda = as_mapping(dig(r.prop("workloadAutoScalerProfile"), "keda"))
    issuer = oidc.get("issuerURL", oidc.get("issuerUrl"))
    return AksCluster(
        resource=r,
        oidc_enabled=_opt_bool(oidc.get("enabled")),
        issuer_url=as_str(issuer),
        workload_identity_enabled=_opt_bool(dig(security, "workloadIdentity", "enabled")),
        kubernetes_version=as_str(r.prop("currentKubernetesVersion", "kubernetesVersion")),
        keda_addon_enabled=_opt_bool(keda.get("enabled")),
    )
