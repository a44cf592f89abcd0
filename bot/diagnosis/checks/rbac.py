"""Data-plane roles of the identity KEDA presents, on what each trigger reads (failure modes 21-24)."""

from __future__ import annotations

import re
import shlex
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import Enum

from bot.diagnosis import facts
from bot.diagnosis.chain import Chain, EffectiveIdentity, Trigger
from bot.diagnosis.checks.common import identity_lookup
from bot.diagnosis.checks.trigger_meta import EH, eventhub_storage_connection, rbac_undecidable, scaled_workload
from bot.diagnosis.facts import Capability
from bot.diagnosis.findings import Evidence, Finding, FixInput, MissingInput, Severity, Stage
from bot.diagnosis.registry import CheckContext, CheckResult, check
from bot.diagnosis.targets import Target, keyvault_target, scope_covers
from bot.snapshot import ArmResource, Identity, Snapshot
from bot.snapshot.frozen import as_mapping, as_seq, as_str, dig
from bot.snapshot.model import RoleAssignment
from bot.snapshot.timeutil import format_age, iso

T_RA = "Microsoft.Authorization/roleAssignments"
RBAC_TROUBLESHOOTING = "https://learn.microsoft.com/azure/role-based-access-control/troubleshooting"
AKS_KEDA_WI = "https://learn.microsoft.com/azure/aks/keda-workload-identity"
# Capabilities granted by control-plane `actions`; every other one needs `dataActions`.
_CONTROL_PLANE = frozenset({facts.MONITOR_READ.key, facts.LOG_ANALYTICS_READ.key})


class Verdict(Enum):
    OK = "ok"
    DELAY = "rbac-propagation-delay"
    INSUFFICIENT = "rbac-role-insufficient-sb"
    WRONG = "rbac-wrong-principal-or-scope"
    MISSING = "rbac-role-missing"


class Grant(Enum):
    SUFFICIENT = "sufficient"
    INSUFFICIENT = "insufficient"
    NONE = "none"
    UNKNOWN = "unknown"  # a custom role whose definition is not in the snapshot


@dataclass(frozen=True)
class Need:
    """One permission KEDA needs: this identity, this capability, at a scope covering `scope`."""

    trigger: Trigger
    eff: EffectiveIdentity
    identity: Identity
    target: Target
    scope: str
    vault: ArmResource | None = None  # a Key Vault on the access-policy model

    @property
    def principal(self) -> str:
        return self.identity.principal_id

    @property
    def capability(self) -> Capability:
        return self.target.capability


@dataclass(frozen=True)
class Result:
    verdict: Verdict
    need: Need
    assignments: tuple[RoleAssignment, ...] = ()  # the ones that explain the verdict
    others: tuple[RoleAssignment, ...] = ()  # sufficient roles held by someone else
    note: str = ""


# -- role evaluation ------------------------------------------------------------------------------------
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(p) for p in text.lower().split("*")) + r"\Z")


def allows(patterns: Sequence[str], excluded: Sequence[str], action: str) -> bool:
    wanted = action.lower()
    return any(_pattern(p).match(wanted) for p in patterns) and not any(
        _pattern(n).match(wanted) for n in excluded)


def grant_of(snapshot: Snapshot, guid: str, cap: Capability) -> Grant:
    if guid in {r.guid for r in cap.sufficient}:
        return Grant.SUFFICIENT
    if guid in {r.guid for r in cap.insufficient}:
        return Grant.INSUFFICIENT
    if guid in facts.BUILTIN_ROLES:
        return Grant.NONE
    definition = snapshot.role_definition(guid)
    if definition is None:
        return Grant.UNKNOWN
    if cap.key in _CONTROL_PLANE:
        allowed = allows(definition.actions, definition.not_actions, cap.data_action)
    else:
        allowed = allows(definition.data_actions, definition.not_data_actions, cap.data_action)
    if allowed:
        return Grant.SUFFICIENT
    if cap is facts.SB_RUNTIME and any(a.lower().startswith("microsoft.servicebus/") for a in definition.data_actions):
        return Grant.INSUFFICIENT  # a custom Service Bus role without Manage: same wall as Receiver
    return Grant.NONE


def role_name(snapshot: Snapshot, guid: str) -> str:
    known = facts.BUILTIN_ROLES.get(guid)
    if known is not None:
        return known.name
    definition = snapshot.role_definition(guid)
    return definition.role_name if definition is not None else f"role {guid}"


def _recent(snapshot: Snapshot, ra: RoleAssignment) -> bool:
    created, now = ra.created, snapshot.now
    if created is None or now is None:
        return False
    return (now - created).total_seconds() < facts.RBAC_PROPAGATION_SECONDS


def _is_group(ra: RoleAssignment) -> bool:
    return ra.principal_type.lower() == "group"


def classify(snapshot: Snapshot, need: Need) -> Result | MissingInput:
    if need.vault is not None:
        return _classify_access_policy(need)
    cap, scope, pid = need.capability, need.scope, need.principal.lower()

    def grant(ra: RoleAssignment) -> Grant:
        return grant_of(snapshot, ra.role_guid, cap)

    own = snapshot.role_assignments_of(pid)
    covering_all = snapshot.role_assignments_covering(scope)
    covering = [ra for ra in covering_all if ra.principal_id.lower() == pid]
    direct = [ra for ra in covering if grant(ra) is Grant.SUFFICIENT and not _is_group(ra)]
    if direct:
        if any(not _recent(snapshot, ra) for ra in direct):
            return Result(Verdict.OK, need)
        return Result(Verdict.DELAY, need, tuple(direct), note="recent")
    groups = [ra for ra in covering_all if _is_group(ra) and grant(ra) is Grant.SUFFICIENT]
    if groups:
        return Result(Verdict.DELAY, need, tuple(groups), note="group")
    unknown = [ra for ra in covering if grant(ra) is Grant.UNKNOWN]
    if unknown:
        guid = unknown[0].role_guid
        return MissingInput(f"the definition of role {guid}", f"az role definition list --name {guid} -o json",
                            f"to tell whether it lets {need.identity.name} {cap.description}")
    # People holding the role are no mix-up candidates; another service principal (the workload's) is.
    others = tuple(ra for ra in covering_all if ra.principal_id.lower() != pid and not _is_group(ra)
                   and ra.principal_type.lower() != "user" and grant(ra) is Grant.SUFFICIENT)
    weak = tuple(ra for ra in covering if grant(ra) is Grant.INSUFFICIENT)
    if weak and cap is facts.SB_RUNTIME:
        return Result(Verdict.INSUFFICIENT, need, weak, others)
    elsewhere = tuple(ra for ra in own if grant(ra) is Grant.SUFFICIENT and not scope_covers(ra.scope, scope))
    if elsewhere or others:
        return Result(Verdict.WRONG, need, elsewhere, others)
    return Result(Verdict.MISSING, need, weak)


def _classify_access_policy(need: Need) -> Result:
    vault = need.vault
    assert vault is not None
    for policy in as_seq(vault.prop("accessPolicies")):
        entry = as_mapping(policy)
        if (as_str(entry.get("objectId")) or "").lower() != need.principal.lower():
            continue
        secrets = {str(p).lower() for p in as_seq(dig(entry, "permissions", "secrets"))}
        if secrets & {"get", "all"}:
            return Result(Verdict.OK, need)
    return Result(Verdict.MISSING, need, note="access-policy")


# -- what each trigger needs ----------------------------------------------------------------------------
def _identity_of(chain: Chain, eff: EffectiveIdentity | None) -> Identity | MissingInput | None:
    """The resolved identity; None when another check owns the problem (no identity, or not a clientId)."""
    if eff is None or not eff.client_id:
        return None
    if eff.identity is not None:
        return eff.identity
    snapshot = chain.snapshot
    value = eff.client_id.lower()
    if snapshot.identity_by_principal_id(value) or any(
            value in (i.name.lower(), i.id.lower()) for i in snapshot.identities):
        return None  # identityId holds a principalId, name or resource id: identityid-not-clientid says so
    return identity_lookup(eff.client_id, "to resolve its principalId and check its role assignments")


def _trigger_targets(chain: Chain, trigger: Trigger) -> list[Target]:
    targets = list(chain.targets(trigger))
    if trigger.type == EH and eventhub_storage_connection(trigger):
        # The checkpoint blobs are read with the connection string, not the identity.
        targets = [t for t in targets if t.capability is not facts.BLOB_READ]
    return targets


def _needs(chain: Chain, trigger: Trigger, purpose: str, targets: list[Target]) -> Iterator[Need | MissingInput]:
    """The identity KEDA presents for `purpose` must cover each target; or what to add to decide it."""
    eff = chain.effective_identity(trigger, purpose)
    identity = _identity_of(chain, eff)
    if identity is None or eff is None:
        return
    if isinstance(identity, MissingInput):
        yield identity
        return
    for target in targets:
        scope = target.required_scope
        if target.missing is not None:
            yield target.missing
        elif scope is not None:
            vault = chain.snapshot.arm_get(scope) if target.capability is facts.KEYVAULT_SECRET_GET else None
            policies = vault is not None and vault.prop("enableRbacAuthorization") is False
            yield Need(trigger, eff, identity, target, scope, vault if policies else None)


def _scaler_needs(chain: Chain) -> Iterator[Need | MissingInput]:
    for trigger in chain.wi_triggers:
        if rbac_undecidable(trigger):
            continue  # sb-namespace-metadata / sb-entity-metadata report this trigger
        targets = _trigger_targets(chain, trigger)
        if targets:
            yield from _needs(chain, trigger, "scaler", targets)


def _keyvault_needs(chain: Chain) -> Iterator[Need | MissingInput]:
    seen: set[str] = set()
    for trigger in chain.triggers:
        auth = trigger.auth
        if auth is None or auth.ref in seen:
            continue
        block = as_mapping(auth.spec.get("azureKeyVault"))
        uri = as_str(block.get("vaultUri"))
        if not uri or dig(block, "podIdentity", "provider") != "azure-workload":
            continue
        seen.add(auth.ref)
        yield from _needs(chain, trigger, "keyvault", [keyvault_target(chain.snapshot, uri)])


_CACHE: weakref.WeakKeyDictionary[Chain, tuple[Result | MissingInput, ...]] = weakref.WeakKeyDictionary()


def results(chain: Chain) -> tuple[Result | MissingInput, ...]:
    """Every need judged once per chain; the four checks each report their own verdict."""
    cached = _CACHE.get(chain)
    if cached is not None:
        return cached
    snapshot = chain.snapshot
    found: list[Result | MissingInput] = []
    asked: set[str] = set()
    for need in (*_scaler_needs(chain), *_keyvault_needs(chain)):
        if isinstance(need, MissingInput):
            found.append(need)
        elif need.vault is None and not snapshot.complete(T_RA, need.principal):
            if need.principal.lower() not in asked:
                asked.add(need.principal.lower())
                found.append(MissingInput(
                    f"the role assignments of {need.identity.name}",
                    f"az role assignment list --assignee-object-id {need.principal} --all --include-inherited "
                    "-o json", "to check that it may read what KEDA scales on"))
        else:
            found.append(classify(snapshot, need))
    _CACHE[chain] = tuple(found)
    return _CACHE[chain]


# -- reporting ------------------------------------------------------------------------------------------
def _grouped(chain: Chain, verdict: Verdict) -> Iterator[list[Result]]:
    """Results of one verdict, one group per (principal, scope, capability): one fix serves them all."""
    groups: dict[tuple[str, str, str, str], list[Result]] = {}
    for item in results(chain):
        if isinstance(item, Result) and item.verdict is verdict:
            need = item.need
            key = (need.principal.lower(), need.scope.lower(), need.capability.key, item.note)
            groups.setdefault(key, []).append(item)
    yield from groups.values()


def _missing_inputs(chain: Chain) -> Iterator[MissingInput]:
    for item in results(chain):
        if isinstance(item, MissingInput):
            yield item


def _who(need: Need) -> str:
    return (f"{need.identity.name} (clientId {need.identity.client_id}, principalId {need.principal}; "
            f"from {need.eff.source})")


def _subjects(group: list[Result]) -> str:
    refs = list(dict.fromkeys(r.need.trigger.ref for r in group))
    if group[0].need.target.capability is facts.KEYVAULT_SECRET_GET and group[0].need.trigger.auth is not None:
        return f"the Key Vault secrets of {group[0].need.trigger.auth.ref}"
    return ", ".join(refs[:5]) + (f" and {len(refs) - 5} more" if len(refs) > 5 else "")


def _objects(group: list[Result]) -> list[str]:
    need = group[0].need
    owners = [r.need.trigger.owner.ref for r in group]
    auth = [need.trigger.auth.ref] if need.trigger.auth is not None else []
    return [*owners, *auth, f"azure:{need.identity.id}"]


def _grant_command(ctx: CheckContext, need: Need) -> str:
    return ctx.command("az-role-assignment-create", principal_id=need.principal,
                       role_guid=need.capability.grant.guid, scope=need.scope)


def _grant_fix(ctx: CheckContext, need: Need) -> FixInput:
    return ctx.fix("role-assignment-create", principal_id=need.principal, role_guid=need.capability.grant.guid,
                   scope=need.scope)


def _held(snapshot: Snapshot, ras: Sequence[RoleAssignment]) -> str:
    return "; ".join(f"{role_name(snapshot, ra.role_guid)} at {ra.scope}" for ra in ras[:4]) or "none"


def _expected(need: Need) -> str:
    names = ", ".join(r.name for r in need.capability.sufficient[:3])
    return f"{names} at {need.scope} or a parent scope"


def _note(need: Need) -> str:
    return f" ({need.target.note})" if need.target.note else ""


@check("rbac-role-missing", title="The identity KEDA uses has no data role on the target",
       stage=Stage.RBAC, severity=Severity.CRITICAL, needs=(), fixes=("role-assignment-create",),
       docs=(AKS_KEDA_WI, RBAC_TROUBLESHOOTING))
def role_missing(ctx: CheckContext) -> CheckResult:
    """The token is fine, but no role (or Key Vault access policy) lets it read what the trigger reads."""
    yield from _missing_inputs(ctx.chain)
    for group in _grouped(ctx.chain, Verdict.MISSING):
        need = group[0].need
        if group[0].note == "access-policy":
            yield _access_policy_finding(ctx, group)
            continue
        weak = group[0].assignments
        detail = (f"{_who(need)} is the identity KEDA presents for {_subjects(group)}, but it holds no role that "
                  f"lets it {need.capability.description} on {need.target.display}{_note(need)}. Grant "
                  f"{need.capability.grant.name} to its principalId at {need.scope}.")
        if weak:
            detail += f" It holds {_held(ctx.snapshot, weak)}, which does not allow this."
        detail += " No restart is needed; allow up to 10 minutes for the role to apply."
        yield ctx.finding(
            detail, objects=_objects(group),
            evidence=[Evidence(f"azure:{need.identity.id}", "role assignments (principalId "
                               f"{need.principal})", _expected(need),
                               _held(ctx.snapshot, ctx.snapshot.role_assignments_of(need.principal)))],
            commands=[_grant_command(ctx, need)], fix_inputs=[_grant_fix(ctx, need)])


def _access_policy_finding(ctx: CheckContext, group: list[Result]) -> Finding:
    need = group[0].need
    vault = need.vault
    assert vault is not None
    command = (f"az keyvault set-policy --name {shlex.quote(vault.name)} --object-id {shlex.quote(need.principal)}"
               " --secret-permissions get")
    return ctx.finding(
        f"{_who(need)} reads {_subjects(group)} from {need.target.display}, which uses access policies "
        "(enableRbacAuthorization: false), and no access policy gives this principal `get` on secrets.",
        objects=_objects(group),
        evidence=[Evidence(f"azure:{vault.id}", "properties.accessPolicies",
                           f"objectId {need.principal} with secrets get", "absent")],
        commands=[command])


@check("rbac-role-insufficient-sb", title="Service Bus Data Receiver/Sender cannot read runtime properties",
       stage=Stage.RBAC, severity=Severity.CRITICAL, needs=(), fixes=("role-assignment-create",),
       docs=("https://keda.sh/docs/latest/scalers/azure-service-bus/", "https://github.com/kedacore/keda/issues/806"))
def role_insufficient_sb(ctx: CheckContext) -> CheckResult:
    """KEDA reads entity runtime properties through the management API: Manage/EntityRead, i.e. Data Owner."""
    yield from _missing_inputs(ctx.chain)
    for group in _grouped(ctx.chain, Verdict.INSUFFICIENT):
        need = group[0].need
        held = _held(ctx.snapshot, group[0].assignments)
        detail = (f"{_who(need)}, used for {_subjects(group)}, holds only {held} on {need.target.display}. "
                  "KEDA reads queue and subscription runtime properties through the Service Bus management "
                  "API, which Receiver and Sender do not allow: `Manage,EntityRead claims required for this "
                  f"operation`. Grant {need.capability.grant.name} to this identity (not the workload's).")
        if group[0].others:
            detail += f" Other principals already hold it: {_principals(ctx.snapshot, group[0].others)}."
        yield ctx.finding(
            detail, objects=_objects(group),
            evidence=[Evidence(f"azure:{need.identity.id}", f"role assignments covering {need.scope}",
                               _expected(need), held)],
            commands=[_grant_command(ctx, need)], fix_inputs=[_grant_fix(ctx, need)])


def _principals(snapshot: Snapshot, ras: Sequence[RoleAssignment]) -> str:
    names = []
    for ra in ras:
        identity = snapshot.identity_by_principal_id(ra.principal_id)
        label = f"{identity.name} (principalId {ra.principal_id})" if identity else f"principal {ra.principal_id}"
        names.append(f"{label} with {role_name(snapshot, ra.role_guid)} at {ra.scope}")
    return "; ".join(dict.fromkeys(names[:4]))


def _workload_note(ctx: CheckContext, result: Result) -> str:
    """Name the scaled workload's identity when that is who holds the role (a common mix-up)."""
    workload = scaled_workload(ctx.snapshot, result.need.trigger.owner)
    client = (workload.client_id or "").lower() if workload else ""
    for ra in result.others:
        identity = ctx.snapshot.identity_by_principal_id(ra.principal_id)
        if workload and identity and client and identity.client_id.lower() == client:
            return (f" {identity.name} is the scaled workload's identity ({workload.sa_ref} is annotated with "
                    "its clientId); KEDA does not use it — it authenticates with its own ServiceAccount.")
    return ""


@check("rbac-wrong-principal-or-scope", title="The role is granted to another principal or at the wrong scope",
       stage=Stage.RBAC, severity=Severity.CRITICAL, needs=(), fixes=("role-assignment-create",),
       docs=("https://github.com/kedacore/keda/issues/5977", RBAC_TROUBLESHOOTING))
def wrong_principal_or_scope(ctx: CheckContext) -> CheckResult:
    """A matching role exists, but not for the identity KEDA presents or not over what the trigger reads."""
    yield from _missing_inputs(ctx.chain)
    for group in _grouped(ctx.chain, Verdict.WRONG):
        result = group[0]
        need = result.need
        parts = [f"{_who(need)} is the identity KEDA presents for {_subjects(group)} and needs "
                 f"{need.capability.grant.name} covering {need.scope}{_note(need)}."]
        evidence = []
        if result.assignments:
            parts.append(f"It holds {_held(ctx.snapshot, result.assignments)}, a scope that does not cover "
                         f"{need.target.display}.")
            evidence.append(Evidence(f"azure:{need.identity.id}", "role assignment scope",
                                     f"{need.scope} or a parent", ", ".join(ra.scope for ra in result.assignments)))
        if result.others:
            parts.append(f"The role is granted to other principals instead: {_principals(ctx.snapshot, result.others)}."
                         + _workload_note(ctx, result))
            evidence.append(Evidence(f"azure:{need.scope}", "role assignment principalId", need.principal,
                                     ", ".join(dict.fromkeys(ra.principal_id for ra in result.others))))
        parts.append("Grant the role to this principalId at the required scope; no restart is needed.")
        yield ctx.finding(" ".join(parts), objects=_objects(group), evidence=evidence,
                          commands=[_grant_command(ctx, need)], fix_inputs=[_grant_fix(ctx, need)])


@check("rbac-propagation-delay", title="The role was granted recently or through a group: not effective yet",
       stage=Stage.RBAC, severity=Severity.WARNING, needs=(), fixes=("manual-wait-propagation",),
       docs=(RBAC_TROUBLESHOOTING, "https://github.com/Azure/azure-service-bus/issues/246"))
def propagation_delay(ctx: CheckContext) -> CheckResult:
    """Role changes take up to 10 minutes; roles inherited through a group can take hours for a managed identity."""
    yield from _missing_inputs(ctx.chain)
    for group in _grouped(ctx.chain, Verdict.DELAY):
        result = group[0]
        need = result.need
        if result.note == "group":
            yield _group_finding(ctx, group)
            continue
        newest = max((ra for ra in result.assignments if ra.created), key=lambda ra: ra.created or 0, default=None)
        created = newest.created if newest else None
        age = format_age(ctx.snapshot.now - created) if created and ctx.snapshot.now else "?"
        yield ctx.finding(
            f"{role_name(ctx.snapshot, result.assignments[0].role_guid)} for {_who(need)} on {need.scope} was "
            f"created {age} before the snapshot ({iso(created) if created else '?'}). Role assignments take up "
            f"to 10 minutes to apply, so {_subjects(group)} may still be refused. Wait and re-check; restarting "
            "KEDA does not speed this up.",
            objects=_objects(group),
            evidence=[Evidence(f"azure:{result.assignments[0].resource.id}", "properties.createdOn",
                               f"older than {facts.RBAC_PROPAGATION_SECONDS // 60} minutes",
                               iso(created) if created else "?")])


def _group_finding(ctx: CheckContext, group: list[Result]) -> Finding:
    result = group[0]
    need = result.need
    ra = result.assignments[0]
    return ctx.finding(
        f"{_who(need)} has no direct role on {need.target.display}; {role_name(ctx.snapshot, ra.role_guid)} "
        f"at {ra.scope} is granted to group {ra.principal_id} instead. If the identity is a member, it picks up "
        "the group-inherited role only after its token cache expires (hours, up to about 24 h), and some data "
        "planes ignore group roles for managed identities. Assign the role to the identity directly.",
        objects=_objects(group),
        evidence=[Evidence(f"azure:{ra.resource.id}", "properties.principalType", "ServicePrincipal (direct)",
                           ra.principal_type)],
        commands=[_grant_command(ctx, need)],
        fixes=("manual-wait-propagation", "role-assignment-create"))
