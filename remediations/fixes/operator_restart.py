"""Restart the keda-operator: the webhook mutates pods only when they are created."""

from __future__ import annotations

from bot.diagnosis.findings import FixInput
from bot.templating import command
from remediations.catalogue import get
from remediations.fixes.kube import kube_ref
from remediations.model import Plane, Restart, Step
from remediations.registry import remediation

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


@remediation("operator-restart", fixes=("wi-pod-stale-not-restarted",))
def operator_restart(fix: FixInput) -> list[Step]:
    ref = kube_ref("Deployment", fix.get("namespace"), fix.get("deployment"))
    entry = get("operator-restart")
    return [Step(key=f"restart:{ref.ref}", remediation=entry.id, title=entry.title, plane=Plane.RESTART,
                 risk=entry.risk, action=Restart(ref),
                 command=command("kubectl-rollout-restart", namespace=ref.namespace, name=ref.name),
                 undo_command="", findings=("wi-pod-stale-not-restarted",))]
