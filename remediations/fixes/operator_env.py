"""Environment of the keda-operator container: hard-coded AZURE_* values out, KEDA's HTTP timeout up."""

from __future__ import annotations

from bot.diagnosis.findings import FixInput
from bot.templating import command
from remediations.fixes.kube import edit_step, kube_ref
from remediations.model import REMOVE, FieldEdit, Named, Step
from remediations.registry import remediation


def _env_path(container: str, name: str) -> tuple[str | Named, ...]:
    return ("spec", "template", "spec", "containers", Named(container), "env", Named(name))


@remediation("operator-remove-hardcoded-env", fixes=("wi-env-hardcoded-stale",))
def remove_hardcoded_env(fix: FixInput) -> list[Step]:
    ref = kube_ref("Deployment", fix.get("namespace"), fix.get("deployment"))
    container = fix.get("container")
    names = [n for n in fix.get("names").split(",") if n]
    edits = [FieldEdit(_env_path(container, name), REMOVE) for name in names]
    return [edit_step("operator-remove-hardcoded-env", ref, edits,
                      command("kubectl-set-env", namespace=ref.namespace, name=ref.name, container=container,
                              set=[], unset=names),
                      findings=("wi-env-hardcoded-stale",))]


@remediation("operator-http-timeout", fixes=("egress-or-timeout-to-entra",))
def http_timeout(fix: FixInput) -> list[Step]:
    ref = kube_ref("Deployment", fix.get("namespace"), fix.get("deployment"))
    container = fix.get("container")
    value = fix.get("value")
    name = "KEDA_HTTP_DEFAULT_TIMEOUT"
    edit = FieldEdit(_env_path(container, name), {"name": name, "value": value})
    return [edit_step("operator-http-timeout", ref, [edit],
                      command("kubectl-set-env", namespace=ref.namespace, name=ref.name, container=container,
                              set=[{"name": name, "value": value}], unset=[]),
                      findings=("egress-or-timeout-to-entra",))]
