"""Grant the identity KEDA presents the data role its trigger needs, at the target's scope."""

from __future__ import annotations

import uuid

from bot.diagnosis.findings import FixInput
from bot.templating import command
from remediations.catalogue import get
from remediations.model import Plane, RoleAssignmentPut, Step
from remediations.registry import remediation

RBAC_SETTLE_SECONDS = 600  # Azure RBAC can take up to ~10 minutes to apply (failure-modes.md A5)
FINDINGS = ("rbac-role-missing", "rbac-role-insufficient-sb", "rbac-wrong-principal-or-scope",
            "identity-recreated-drift", "eventhub-storage-auth-fallback")
_NAMESPACE = uuid.UUID("4b8f7b0e-6a55-4c2e-9b3a-6b6564616175")


def assignment_name(scope: str, role_guid: str, principal_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{scope.rstrip('/').lower()}|{role_guid.lower()}|{principal_id.lower()}"))


@remediation("role-assignment-create", fixes=FINDINGS)
def role_assignment_create(fix: FixInput) -> list[Step]:
    scope, role, principal = fix.get("scope"), fix.get("role_guid").lower(), fix.get("principal_id").lower()
    if not scope.startswith("/subscriptions/"):
        raise ValueError(f"not an Azure resource scope: {scope!r}")
    action = RoleAssignmentPut(scope, role, principal, assignment_name(scope, role, principal))
    entry = get("role-assignment-create")
    return [Step(key=f"ra:{scope.lower()}|{role}|{principal}", remediation=entry.id, title=entry.title,
                 plane=Plane.AZURE, risk=entry.risk, action=action,
                 command=command("az-role-assignment-create", principal_id=principal, role_guid=role, scope=scope),
                 undo_command="", settle_seconds=RBAC_SETTLE_SECONDS, findings=FINDINGS)]
