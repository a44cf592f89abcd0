"""`keda-auth setup azure --print`: the `az` commands that give the bot's own identity least privilege.

What the bot does in Azure, and the grant that allows exactly that:

- **reads** (bot/live/azure_reader.py, azure_targets.py): the managed identities KEDA presents and their federated
  credentials, the AKS cluster (its OIDC issuer), the Service Bus / Event Hubs / storage / Key Vault / Log Analytics
  / Azure Monitor resources the triggers name, and the role assignments on them: `Reader` on the identities'
  resource groups, the cluster and each target.
- **federated credentials** (bot/execute/arm_api.py: identity GET, FIC list / put / delete): `Managed Identity
  Contributor` on each user-assigned identity the fixes federate, and nowhere else.
- **role assignments** (arm_api.py: list at the scope, role definition GET, the permissions API, create, delete):
  `Role Based Access Control Administrator` on each target, with an ABAC condition that lets it create and delete
  assignments of only the data roles the fixes grant on that kind of target (bot/diagnosis/facts.py: the `grant` of
  each capability, which is what `role-assignment-create` assigns) and only to service principals (the fix sends
  `principalType: ServicePrincipal`). Never Owner, User Access Administrator or Contributor.

`identity-recreated-drift` re-creates the role an orphaned assignment held; when that role is not the capability's
grant (say Service Bus Data Receiver), the condition refuses it (403 at apply time, reported with the permission).

Pure functions: validation raises InputError (exit status 3), nothing here talks to Azure.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.diagnosis import facts
from bot.diagnosis.facts import Capability, Role
from bot.diagnosis.targets import (
    T_EH_NAMESPACE,
    T_KEYVAULT,
    T_MONITOR_ACCOUNT,
    T_SB_NAMESPACE,
    T_STORAGE,
    T_WORKSPACE,
)
from bot.errors import InputError

READER = facts.READER
RBAC_ADMIN = Role("f58310d9-a9f6-439a-9e8d-f62e7b41a168", "Role Based Access Control Administrator")
MI_CONTRIBUTOR = Role("e40ec5ca-96e0-45a2-b4ff-59039f2c2b59", "Managed Identity Contributor")
# Roles this command must never print: each could grant itself anything (or manage every resource).
USER_ACCESS_ADMIN = Role("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "User Access Administrator")
NEVER = frozenset({facts.OWNER.guid, facts.CONTRIBUTOR.guid, USER_ACCESS_ADMIN.guid})

PRINCIPAL_TYPE = "ServicePrincipal"  # what `az`, and the fix (arm_api.create_assignment), send
CONDITION_VERSION = "2.0"
T_IDENTITY = "Microsoft.ManagedIdentity/userAssignedIdentities"
T_AKS = "Microsoft.ContainerService/managedClusters"
_RA = "Microsoft.Authorization/roleAssignments"

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
# Resource group names: letters, digits, underscores, hyphens, periods and parentheses; 1-90; no trailing period.
_GROUP_NAME = re.compile(r"^[-\w.()]{1,90}$")
_BAD_SEGMENT = re.compile(r"[\s\x00-\x1f\x7f?#]")  # whitespace, control characters, and what ends a URL path
_PROVIDER = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)+$")


@dataclass(frozen=True)
class TargetKind:
    """A resource a trigger reads, and the capabilities whose fixes grant a role on it (or below it)."""

    arm_type: str
    label: str
    capabilities: tuple[Capability, ...]

    @property
    def roles(self) -> tuple[Role, ...]:
        return _unique(cap.grant for cap in self.capabilities)


TARGET_KINDS: tuple[TargetKind, ...] = (
    TargetKind(T_SB_NAMESPACE, "Service Bus namespace", (facts.SB_RUNTIME,)),
    TargetKind(T_EH_NAMESPACE, "Event Hubs namespace", (facts.EH_RECEIVE,)),
    TargetKind(T_STORAGE, "storage account", (facts.QUEUE_READ, facts.BLOB_READ)),  # queues; Event Hubs checkpoints
    TargetKind(T_KEYVAULT, "Key Vault", (facts.KEYVAULT_SECRET_GET,)),
    TargetKind(T_WORKSPACE, "Log Analytics workspace", (facts.LOG_ANALYTICS_READ,)),
    TargetKind(T_MONITOR_ACCOUNT, "Azure Monitor workspace (Managed Prometheus)", (facts.PROMETHEUS_READ,)),
)
_KINDS = {kind.arm_type.lower(): kind for kind in TARGET_KINDS}
# --monitor-target: any resource whose platform metrics an azure-monitor trigger reads.
MONITOR_METRICS = TargetKind("", "resource read by an azure-monitor trigger", (facts.MONITOR_READ,))


def _unique(roles: Iterable[Role]) -> tuple[Role, ...]:
    seen: dict[str, Role] = {}
    for role in roles:
        seen.setdefault(role.guid, role)
    return tuple(seen.values())


# -- validation ----------------------------------------------------------------------------------------------------


def guid(value: str, what: str) -> str:
    value = value.strip()
    if not _GUID.match(value):
        raise InputError(f"{what} must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), got {value!r}")
    return value.lower()


@dataclass(frozen=True)
class ArmId:
    """A parsed ARM id: /subscriptions/S[/resourceGroups/G[/providers/NS/type/name[/type/name...]]]."""

    subscription: str
    group: str | None = None
    provider: str | None = None
    types: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    @property
    def arm_type(self) -> str:
        return "/".join((self.provider or "", *self.types))

    def text(self, canonical_type: str | None = None) -> str:
        out = f"/subscriptions/{self.subscription}"
        if self.group is not None:
            out += f"/resourceGroups/{self.group}"
        if self.provider is not None:
            provider, *types = (canonical_type or self.arm_type).split("/")
            out += f"/providers/{provider}"
            for kind, name in zip(types, self.names, strict=True):
                out += f"/{kind}/{name}"
        return out


def parse_arm_id(value: str, what: str) -> ArmId:
    """The id's parts, or an InputError saying which shape was expected."""
    shape = (f"{what} must be an Azure resource id such as /subscriptions/SUBSCRIPTION/resourceGroups/GROUP/"
             f"providers/NAMESPACE/TYPE/NAME, got {value!r}")
    if _BAD_SEGMENT.search(value.strip("/ ")):
        raise InputError(f"{what} must not contain spaces, control characters, '?' or '#': {value!r}")
    parts = value.strip().rstrip("/").split("/")
    if len(parts) < 3 or parts[0] != "" or parts[1].lower() != "subscriptions" or any(p == "" for p in parts[1:]):
        raise InputError(shape)
    subscription = guid(parts[2], f"the subscription in {what}")
    rest = parts[3:]
    if not rest:
        return ArmId(subscription)
    if rest[0].lower() != "resourcegroups" or len(rest) < 2:
        raise InputError(shape)
    group = _group_name(rest[1], what)
    rest = rest[2:]
    if not rest:
        return ArmId(subscription, group)
    # providers/NS/type/name, then type/name pairs for child resources
    if rest[0].lower() != "providers" or len(rest) < 4 or len(rest) % 2 != 0 or not _PROVIDER.match(rest[1]):
        raise InputError(shape)
    pairs = rest[2:]
    return ArmId(subscription, group, rest[1], tuple(pairs[0::2]), tuple(pairs[1::2]))


def _group_name(name: str, what: str) -> str:
    if not _GROUP_NAME.match(name) or name.endswith("."):
        raise InputError(f"{what}: {name!r} is not a resource group name (1-90 letters, digits, '_', '-', '.', "
                         "'(' or ')', not ending in '.')")
    return name


def resource_group_id(value: str, subscription: str | None) -> str:
    """A resource group as its full id, from its id or from its name and --subscription."""
    if value.strip().startswith("/"):
        parsed = parse_arm_id(value, "--identity-rg")
        if parsed.group is None or parsed.provider is not None:
            raise InputError(f"--identity-rg takes a resource group: its name (with --subscription) or its id "
                             f"/subscriptions/SUBSCRIPTION/resourceGroups/GROUP, got {value!r}")
        return parsed.text()
    if subscription is None:
        raise InputError(f"--identity-rg {value!r} is a name: give --subscription too, or the group's full id")
    return ArmId(guid(subscription, "--subscription"), _group_name(value.strip(), "--identity-rg")).text()


def resource_id(value: str, what: str, arm_type: str | None = None) -> tuple[str, ArmId]:
    """A resource id in canonical form (keywords and the type spelled as ARM does, names as given)."""
    parsed = parse_arm_id(value, what)
    if parsed.provider is None:
        raise InputError(f"{what} takes a resource id (…/providers/NAMESPACE/TYPE/NAME), not a subscription or "
                         f"resource group: {value!r}")
    if arm_type is not None:
        if parsed.arm_type.lower() != arm_type.lower():
            raise InputError(f"{what} takes a {arm_type} id, got a {parsed.arm_type} id: {value!r}")
        return parsed.text(arm_type), parsed
    return parsed.text(), parsed


def target_id(value: str) -> tuple[str, TargetKind]:
    parsed = parse_arm_id(value, "--target")
    kind = _KINDS.get(parsed.arm_type.lower()) if parsed.provider is not None else None
    if kind is None:
        known = ", ".join(k.arm_type for k in TARGET_KINDS)
        got = parsed.arm_type if parsed.provider is not None else "no resource type"
        raise InputError(f"--target takes the id of one of {known} (got {got}: {value!r}); for the metrics of "
                         "another resource read by an azure-monitor trigger use --monitor-target")
    return parsed.text(kind.arm_type), kind


# -- grants --------------------------------------------------------------------------------------------------------


@dataclass
class Grant:
    role: Role
    scope: str
    why: list[str] = field(default_factory=list)
    allowed: tuple[Role, ...] = ()  # RBAC Administrator: the only roles it may assign and remove here

    def because(self, why: str) -> None:
        if why not in self.why:
            self.why.append(why)

    def condition(self) -> str | None:
        """The ABAC condition limiting role assignment writes and deletes to `allowed`, for service principals.
        (learn.microsoft.com: "Examples to delegate Azure role assignment management with conditions".)"""
        if not self.allowed:
            return None
        guids = ", ".join(role.guid for role in self.allowed)

        def clause(action: str, source: str) -> str:
            return (f"((!(ActionMatches{{'{_RA}/{action}'}})) OR "
                    f"(@{source}[{_RA}:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{guids}}} AND "
                    f"@{source}[{_RA}:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase "
                    f"{{'{PRINCIPAL_TYPE}'}}))")

        return f"{clause('write', 'Request')} AND {clause('delete', 'Resource')}"

    def argv(self, principal_id: str) -> list[str]:
        args = ["az", "role", "assignment", "create", "--assignee-object-id", principal_id,
                "--assignee-principal-type", PRINCIPAL_TYPE, "--role", self.role.guid, "--scope", self.scope]
        condition = self.condition()
        if condition is not None:
            args += ["--condition", condition, "--condition-version", CONDITION_VERSION]
        return args + ["--description", f"keda-auth: {self.why[0]}"]


@dataclass(frozen=True)
class AzureSetup:
    """What `setup azure` was asked for (raw option values)."""

    principal_id: str
    identity_groups: Sequence[str] = ()
    subscription: str | None = None
    targets: Sequence[str] = ()
    monitor_targets: Sequence[str] = ()
    fic_identities: Sequence[str] = ()
    aks: Sequence[str] = ()
    subscription_readers: Sequence[str] = ()


def covers(scope: str, other: str) -> bool:
    s, o = scope.rstrip("/").lower(), other.rstrip("/").lower()
    return o == s or o.startswith(s + "/")


def plan_grants(request: AzureSetup) -> list[Grant]:
    """Every grant, in a stable order: Readers, then the RBAC Administrators, then the Managed Identity
    Contributors, each sorted by scope. A Reader inside another Reader's scope is folded into it."""
    if not (request.identity_groups or request.targets or request.monitor_targets or request.fic_identities
            or request.aks or request.subscription_readers):
        raise InputError("nothing to grant: give --identity-rg, --target, --monitor-target, --fic-identity, --aks "
                         "or --subscription-reader")
    readers: dict[str, Grant] = {}
    admins: dict[str, Grant] = {}
    contributors: dict[str, Grant] = {}

    def read(scope: str, why: str) -> None:
        readers.setdefault(scope.lower(), Grant(READER, scope)).because(why)

    def administer(scope: str, label: str, kind: TargetKind) -> None:
        grant = admins.setdefault(scope.lower(), Grant(RBAC_ADMIN, scope))
        grant.allowed = _unique((*grant.allowed, *kind.roles))
        grant.because(f"assign (and undo) {' or '.join(r.name for r in kind.roles)} on the {label} or below it")

    for value in request.subscription_readers:
        sub = ArmId(guid(value.strip().removeprefix("/subscriptions/"), "--subscription-reader")).text()
        read(sub, "list identities, target resources and role assignments subscription-wide, as the live check does")
    for value in request.identity_groups:
        group = resource_group_id(value, request.subscription)
        read(group, f"read the managed identities in resource group {group.rsplit('/', 1)[-1]} and their federated "
                    "credentials")
    for value in request.aks:
        cluster, parsed = resource_id(value, "--aks", T_AKS)
        read(cluster, f"read AKS cluster {parsed.names[-1]} (its OIDC issuer URL)")
    for value in request.targets:
        scope, kind = target_id(value)
        name = scope.rsplit("/", 1)[-1]
        read(scope, f"read {kind.label} {name} and the role assignments on it")
        administer(scope, f"{kind.label} {name}", kind)
    for value in request.monitor_targets:
        scope, parsed = resource_id(value, "--monitor-target")
        label = f"{parsed.types[-1]} {parsed.names[-1]}"
        read(scope, f"read {label} (its metrics feed an azure-monitor trigger)")
        administer(scope, label, MONITOR_METRICS)
    for value in request.fic_identities:
        identity, parsed = resource_id(value, "--fic-identity", T_IDENTITY)
        if len(parsed.names) != 1:
            raise InputError(f"--fic-identity takes a user-assigned identity id, got {value!r}")
        contributors.setdefault(identity.lower(), Grant(MI_CONTRIBUTOR, identity)).because(
            f"create, correct and undo federated credentials on identity {parsed.names[0]}, and nothing else")

    kept = _fold(readers)
    ordered = [*kept, *_sorted(admins), *_sorted(contributors)]
    assert not any(g.role.guid in NEVER or any(r.guid in NEVER for r in g.allowed) for g in ordered)
    return ordered


def _sorted(grants: dict[str, Grant]) -> list[Grant]:
    return [grants[key] for key in sorted(grants)]


def _fold(readers: dict[str, Grant]) -> list[Grant]:
    """Readers whose scope another Reader covers add their reason to that one instead of a command of their own."""
    ordered = _sorted(readers)
    kept: list[Grant] = []
    for grant in ordered:  # sorted, so a covering scope (a prefix) comes first
        outer = next((k for k in kept if covers(k.scope, grant.scope)), None)
        if outer is None:
            kept.append(grant)
        else:
            for why in grant.why:
                outer.because(f"{why} (covered here)")
    return kept


# -- rendering -----------------------------------------------------------------------------------------------------


def _comment(text: str) -> list[str]:
    assert "\n" not in text and "\r" not in text  # values are validated: a comment cannot end early
    words, lines, line = text.split(" "), [], "#"
    for word in words:
        if len(line) + 1 + len(word) > 116 and line != "#":
            lines.append(line)
            line = "#  "
        line += " " + word
    return [*lines, line]


def describe(grant: Grant) -> list[str]:
    head = f"{grant.role.name} ({grant.role.guid})"
    if len(grant.why) == 1 and not grant.allowed:
        return _comment(f"{head}: {grant.why[0]}")
    lines = _comment(f"{head}:")
    for why in grant.why:
        lines += _comment(f"- {why}")
    if grant.allowed:
        lines += _comment("- condition: it may create and delete assignments of only "
                          + ", ".join(f"{r.name} ({r.guid})" for r in grant.allowed)
                          + f", and only for principals of type {PRINCIPAL_TYPE}")
    return lines


def render(request: AzureSetup) -> str:
    principal = guid(request.principal_id, "--principal-id")
    grants = plan_grants(request)
    lines = [
        *_comment(f"keda-auth setup azure: least-privilege Azure roles for the bot's identity (principal "
                  f"{principal})."),
        *_comment("Review, then run with an account that may assign roles at these scopes. keda-auth never grants "
                  "roles by itself."),
    ]
    for grant in grants:
        lines += ["", *describe(grant), shlex.join(grant.argv(principal))]
    if not request.subscription_readers:
        lines += ["", *_comment("Note: keda-auth check lists identities, target resources and each identity's role "
                                "assignments subscription-wide. Where Reader on the subscription is not granted, "
                                "those lists may be refused and reported as input-missing; "
                                "--subscription-reader SUBSCRIPTION adds it.")]
    return "\n".join(lines) + "\n"
