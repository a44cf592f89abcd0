"""The human undo command of a step, rendered from what the target looked like when planned.

The executor undoes from the before-state it records at apply time; these commands are what a person
reviewing the plan is shown, and what they would run by hand.
"""

from __future__ import annotations

from typing import Any

from bot.templating import command
from remediations.edits import apply_ops, forward_ops, undo_ops
from remediations.fixes.federated_credential import identity_parts
from remediations.fixes.kube import cli_kind
from remediations.fixes.operator_restart import RESTARTED_AT
from remediations.model import FicPut, FieldEdit, KubeEdit, Restart, RoleAssignmentPut, Step

NOTHING = "(nothing to undo: already so when planned)"


def restart_edit() -> FieldEdit:
    """The field a restart writes; the value is the time of the restart, known only when it runs."""
    return FieldEdit(("spec", "template", "metadata", "annotations", RESTARTED_AT), "<time of the restart>")


def undo_command(step: Step, before: Any) -> str:
    action = step.action
    if isinstance(action, KubeEdit | Restart):
        if before is None:
            return NOTHING
        edits = list(action.edits) if isinstance(action, KubeEdit) else [restart_edit()]
        after = apply_ops(before, forward_ops(before, edits))
        ops = undo_ops(before, after, edits)
        if not ops:
            return NOTHING
        target = action.target
        return command("kubectl-patch", namespace=target.namespace, kind=cli_kind(target), name=target.name,
                       patch_type="json", patch=ops)
    if isinstance(action, FicPut):
        group, identity = identity_parts(action.identity_id)
        if before is None:
            return command("az-fic-delete", fic_name=action.name, identity_name=identity, resource_group=group)
        return command("az-fic-update", fic_name=action.name, identity_name=identity, resource_group=group,
                       issuer=before["issuer"], subject=before["subject"], audiences=before["audiences"])
    assert isinstance(action, RoleAssignmentPut)
    return command("az-role-assignment-delete", assignment_id=action.resource_id)
