"""Azure steps (federated credentials, role assignments): observe, dry-run, apply, undo, and whether they hold."""

from __future__ import annotations

from typing import Any

from bot.diagnosis.targets import scope_covers
from bot.execute.arm_api import FIC_WRITE, RA_WRITE, ArmApi, Fic
from bot.execute.errors import ExecuteError, WriteRefused
from bot.execute.outcomes import Done, DryRun
from bot.execute.records import Status, StepRecord
from bot.plan.fingerprint import assignments_fingerprint, fics_fingerprint
from remediations.fixes.federated_credential import FIC_LIMIT
from remediations.model import FicPut, RoleAssignmentPut, Step


def _wanted(action: FicPut) -> Fic:
    return Fic(action.name, action.issuer, action.subject, (action.audience,))


def _same(fic: Fic, action: FicPut) -> bool:
    return fic.issuer == action.issuer and fic.subject == action.subject and action.audience in fic.audiences


def observe(arm: ArmApi, step: Step) -> str:
    action = step.action
    if isinstance(action, FicPut):
        return fics_fingerprint((f.name, f.issuer, f.subject, f.audiences) for f in arm.list_fics(action.identity_id))
    assert isinstance(action, RoleAssignmentPut)
    held = [(a.id, a.role_guid, a.scope) for a in arm.assignments_covering(action.principal_id, action.scope)
            if scope_covers(a.scope, action.scope)]
    return assignments_fingerprint(held)


def before(arm: ArmApi, step: Step) -> Any:
    action = step.action
    if isinstance(action, FicPut):
        found = next((f for f in arm.list_fics(action.identity_id) if f.name.lower() == action.name.lower()), None)
        return found.as_json() if found else None
    return None  # a role assignment is only ever created, under a name of its own


def _fic_blocker(fics: list[Fic], action: FicPut) -> str | None:
    others = [f for f in fics if f.name.lower() != action.name.lower()]
    clash = next((f for f in others if f.issuer == action.issuer and f.subject == action.subject), None)
    if clash is not None:
        return (f"federated credential {clash.name} already has this issuer and subject (audience "
                f"{', '.join(clash.audiences)}); Entra refuses a second one. Plan again")
    if len(fics) >= FIC_LIMIT and len(others) == len(fics):
        return (f"the identity already has {len(fics)} federated credentials, the maximum of {FIC_LIMIT}: delete "
                "one it no longer needs, then plan again")
    return None


def dry_run(arm: ArmApi, step: Step) -> DryRun:
    action = step.action
    try:
        if isinstance(action, FicPut):
            if not arm.identity_exists(action.identity_id):
                return DryRun(step.key, step.title, "refused", f"identity {action.identity_id} does not exist")
            fics = arm.list_fics(action.identity_id)
            if any(_same(f, action) for f in fics):
                return DryRun(step.key, step.title, "already so")
            blocker = _fic_blocker(fics, action)
            if blocker:
                return DryRun(step.key, step.title, "refused", blocker)
            missing = arm.missing_actions(action.identity_id, [FIC_WRITE])
        else:
            assert isinstance(action, RoleAssignmentPut)
            if any(a.role_guid == action.role_guid and scope_covers(a.scope, action.scope)
                   for a in arm.assignments_covering(action.principal_id, action.scope)):
                return DryRun(step.key, step.title, "already so")
            if not arm.role_definition_exists(action.scope, action.role_guid):
                return DryRun(step.key, step.title, "refused",
                              f"role definition {action.role_guid} is not visible at {action.scope}")
            missing = arm.missing_actions(action.scope, [RA_WRITE])
    except WriteRefused as refused:
        return DryRun(step.key, step.title, "refused", str(refused), refused.permission)
    except ExecuteError as exc:
        return DryRun(step.key, step.title, "refused", str(exc))
    if missing:
        where = action.identity_id if isinstance(action, FicPut) else action.scope
        return DryRun(step.key, step.title, "refused", f"the caller may not perform {', '.join(missing)} at {where}",
                      ", ".join(missing))
    return DryRun(step.key, step.title, "would change")


def apply(arm: ArmApi, step: Step) -> Done:
    action = step.action
    if isinstance(action, FicPut):
        fics = arm.list_fics(action.identity_id)
        if any(_same(f, action) for f in fics):
            return Done(Status.SKIPPED, "already federated")
        blocker = _fic_blocker(fics, action)
        if blocker:
            raise ExecuteError(blocker)
        before = next((f for f in fics if f.name.lower() == action.name.lower()), None)
        wanted = _wanted(action)
        arm.put_fic(action, wanted)
        return Done(Status.APPLIED, "updated" if before else "created", before.as_json() if before else None,
                    wanted.as_json(), wanted.as_json())
    assert isinstance(action, RoleAssignmentPut)
    if any(a.role_guid == action.role_guid and scope_covers(a.scope, action.scope)
           for a in arm.assignments_covering(action.principal_id, action.scope)):
        return Done(Status.SKIPPED, "the principal already holds this role here")
    if arm.create_assignment(action) == "exists":
        return Done(Status.SKIPPED, "the principal already holds this role here")
    return Done(Status.APPLIED, "created", None, {"id": action.resource_id}, {"id": action.resource_id})


def undo(arm: ArmApi, step: Step, record: StepRecord) -> Done:
    action = step.action
    if isinstance(action, FicPut):
        now = next((f for f in arm.list_fics(action.identity_id) if f.name.lower() == action.name.lower()), None)
        if now is None or now.as_json() != record.after:
            return Done(Status.UNDO_FAILED, f"federated credential {action.name} changed since it was applied; "
                                            "left as it is")
        before = record.before
        if before is None:
            arm.delete_fic(action)
            return Done(Status.UNDONE, "deleted")
        arm.put_fic(action, Fic(before["name"], before["issuer"], before["subject"], tuple(before["audiences"])))
        return Done(Status.UNDONE, "restored")
    assert isinstance(action, RoleAssignmentPut)
    arm.delete_assignment(action.resource_id)
    return Done(Status.UNDONE, "deleted")


def holds(arm: ArmApi, step: Step) -> tuple[bool, str]:
    action = step.action
    if isinstance(action, FicPut):
        ok = any(_same(f, action) for f in arm.list_fics(action.identity_id))
        return ok, "federated credential visible" if ok else "no matching federated credential"
    assert isinstance(action, RoleAssignmentPut)
    ok = any(a.role_guid == action.role_guid and scope_covers(a.scope, action.scope)
             for a in arm.assignments_covering(action.principal_id, action.scope))
    return ok, "role assignment visible" if ok else "no such role assignment"
