"""Federate KEDA's ServiceAccount with an identity KEDA presents (its default one or an identityId override)."""

from __future__ import annotations

from bot.diagnosis.checks.federation import MAX_FICS
from bot.diagnosis.findings import FixInput
from bot.snapshot.model import id_segments
from bot.templating import command
from remediations.catalogue import get
from remediations.model import FicPut, Plane, Step
from remediations.registry import remediation

FIC_LIMIT = MAX_FICS  # per identity; Azure refuses the 21st
FIC_SETTLE_SECONDS = 300  # Entra may take minutes to trust a new credential (failure-modes.md A5)
FINDINGS = ("fic-missing-keda-sa", "fic-missing-override-identity", "fic-subject-wrong-namespace-or-sa",
            "fic-issuer-mismatch", "fic-audience-mismatch")


def identity_parts(identity_id: str) -> tuple[str, str]:
    """(resource group, identity name) of a user-assigned identity id."""
    segments = id_segments(identity_id)
    group = segments.get("resourcegroups")
    name = segments.get("userassignedidentities")
    if not group or not name:
        raise ValueError(f"not a user-assigned identity id: {identity_id!r}")
    return group, name


@remediation("fic-create", fixes=FINDINGS)
def fic_create(fix: FixInput) -> list[Step]:
    action = FicPut(fix.get("identity_id"), fix.get("name"), fix.get("issuer"), fix.get("subject"),
                    fix.get("audience"))
    group, identity = identity_parts(action.identity_id)
    entry = get("fic-create")
    return [Step(key=f"fic:{action.identity_id.lower()}:{action.issuer}|{action.subject}",
                 remediation=entry.id, title=f"{entry.title} ({identity})", plane=Plane.AZURE, risk=entry.risk,
                 action=action,
                 command=command("az-fic-create", fic_name=action.name, identity_name=identity, resource_group=group,
                                 issuer=action.issuer, subject=action.subject, audience=action.audience),
                 undo_command="", settle_seconds=FIC_SETTLE_SECONDS, findings=FINDINGS)]
