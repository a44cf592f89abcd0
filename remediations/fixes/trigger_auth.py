"""TriggerAuthentication / ClusterTriggerAuthentication pod identity blocks."""

from __future__ import annotations

from bot.diagnosis.findings import FixInput
from bot.templating import command
from remediations.edits import json_pointer
from remediations.fixes.kube import cli_kind, edit_step, kube_ref
from remediations.model import REMOVE, FieldEdit, KubeRef, Step
from remediations.registry import remediation


def _ref(fix: FixInput) -> KubeRef:
    return kube_ref(fix.get("kind"), fix.get("namespace"), fix.get("name"))


def _json_patch_command(ref: KubeRef, ops: list[dict[str, object]]) -> str:
    return command("kubectl-patch", namespace=ref.namespace, kind=cli_kind(ref), name=ref.name, patch_type="json",
                   patch=ops)


def _block(fix: FixInput) -> tuple[str, ...]:
    """`podIdentity` or `azureKeyVault.podIdentity`, as the check names it."""
    path = tuple(p for p in fix.get("path").split(".") if p)
    if path not in (("podIdentity",), ("azureKeyVault", "podIdentity")):
        raise ValueError(f"not a pod identity block: {fix.get('path')!r}")
    return ("spec", *path)


@remediation("triggerauth-identityid-clientid", fixes=("identityid-not-clientid", "identity-recreated-drift"))
def identityid_clientid(fix: FixInput) -> list[Step]:
    ref = _ref(fix)
    path = (*_block(fix), "identityId")
    client_id = fix.get("client_id")
    return [edit_step("triggerauth-identityid-clientid", ref, [FieldEdit(path, client_id)],
                      _json_patch_command(ref, [{"op": "replace", "path": json_pointer(path), "value": client_id}]),
                      findings=("identityid-not-clientid", "identity-recreated-drift"))]


@remediation("triggerauth-identityid-remove-empty", fixes=("identityid-empty-string",))
def identityid_remove_empty(fix: FixInput) -> list[Step]:
    ref = _ref(fix)
    path = (*_block(fix), "identityId")
    return [edit_step("triggerauth-identityid-remove-empty", ref, [FieldEdit(path, REMOVE)],
                      _json_patch_command(ref, [{"op": "remove", "path": json_pointer(path)}]),
                      findings=("identityid-empty-string",))]


@remediation("triggerauth-keyvault-podidentity", fixes=("keyvault-podidentity-location",))
def keyvault_podidentity(fix: FixInput) -> list[Step]:
    ref = _ref(fix)
    leaf: dict[str, str] = {"provider": "azure-workload"}
    if fix.get("identity_id"):
        leaf["identityId"] = fix.get("identity_id")
    path = ("spec", "azureKeyVault", "podIdentity")
    return [edit_step("triggerauth-keyvault-podidentity", ref, [FieldEdit(path, leaf)],
                      command("kubectl-patch", namespace=ref.namespace, kind=cli_kind(ref), name=ref.name,
                              patch_type="merge", patch={"spec": {"azureKeyVault": {"podIdentity": leaf}}}),
                      findings=("keyvault-podidentity-location",))]
