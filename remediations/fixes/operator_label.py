"""Label the keda-operator pod template so the Workload Identity webhook mutates its pods."""

from __future__ import annotations

from bot.diagnosis.findings import FixInput
from bot.templating import command
from remediations.fixes.kube import WI_USE_LABEL, cli_kind, edit_step, kube_ref
from remediations.model import FieldEdit, Step
from remediations.registry import remediation

PATH = ("spec", "template", "metadata", "labels", WI_USE_LABEL)


@remediation("operator-pod-label", fixes=("wi-pod-label-missing",))
def operator_pod_label(fix: FixInput) -> list[Step]:
    ref = kube_ref("Deployment", fix.get("namespace"), fix.get("deployment"))
    patch = {"spec": {"template": {"metadata": {"labels": {WI_USE_LABEL: "true"}}}}}
    return [edit_step("operator-pod-label", ref, [FieldEdit(PATH, "true")],
                      command("kubectl-patch", namespace=ref.namespace, kind=cli_kind(ref), name=ref.name,
                              patch_type="merge", patch=patch),
                      findings=("wi-pod-label-missing",))]
