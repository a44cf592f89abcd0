"""Workload Identity annotations on KEDA's ServiceAccount (or, for the token expiration, on the pod template)."""

from __future__ import annotations

from bot.diagnosis.findings import FixInput
from bot.templating import command
from remediations.fixes.kube import WI_CLIENT_ID, WI_TENANT_ID, WI_TOKEN_EXPIRATION, cli_kind, edit_step, kube_ref
from remediations.model import FieldEdit, Step
from remediations.registry import remediation


def _annotate(remediation_id: str, fix: FixInput, key: str, value: str, findings: tuple[str, ...]) -> list[Step]:
    ref = kube_ref("ServiceAccount", fix.get("namespace"), fix.get("service_account"))
    return [edit_step(remediation_id, ref, [FieldEdit(("metadata", "annotations", key), value)],
                      command("kubectl-annotate", namespace=ref.namespace, kind=cli_kind(ref), name=ref.name,
                              key=key, value=value),
                      findings=findings)]


@remediation("sa-annotate-client-id", fixes=("wi-sa-clientid-missing", "identityid-not-clientid",
                                             "identity-recreated-drift", "wi-env-hardcoded-stale"))
def sa_client_id(fix: FixInput) -> list[Step]:
    return _annotate("sa-annotate-client-id", fix, WI_CLIENT_ID, fix.get("client_id"),
                     ("wi-sa-clientid-missing", "identityid-not-clientid", "identity-recreated-drift"))


@remediation("sa-annotate-tenant-id", fixes=("tenant-mismatch", "wi-env-hardcoded-stale"))
def sa_tenant_id(fix: FixInput) -> list[Step]:
    return _annotate("sa-annotate-tenant-id", fix, WI_TENANT_ID, fix.get("tenant_id"), ("tenant-mismatch",))


@remediation("sa-annotate-token-expiration", fixes=("wi-token-expiration-invalid",))
def sa_token_expiration(fix: FixInput) -> list[Step]:
    value = fix.get("value")
    if fix.get("kind") == "ServiceAccount":
        return _annotate("sa-annotate-token-expiration", fix, WI_TOKEN_EXPIRATION, value,
                         ("wi-token-expiration-invalid",))
    ref = kube_ref("Deployment", fix.get("namespace"), fix.get("name"))
    patch = {"spec": {"template": {"metadata": {"annotations": {WI_TOKEN_EXPIRATION: value}}}}}
    return [edit_step("sa-annotate-token-expiration", ref,
                      [FieldEdit(("spec", "template", "metadata", "annotations", WI_TOKEN_EXPIRATION), value)],
                      command("kubectl-patch", namespace=ref.namespace, kind=cli_kind(ref), name=ref.name,
                              patch_type="merge", patch=patch),
                      findings=("wi-token-expiration-invalid",),
                      title="Set a valid token expiration on the keda-operator pod template")]
