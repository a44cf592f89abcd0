"""A ScaledObject's (or ScaledJob's) trigger: its authenticationRef and its Service Bus namespace."""

from __future__ import annotations

from bot.diagnosis.findings import FixInput
from bot.templating import command
from remediations.edits import json_pointer
from remediations.fixes.kube import cli_kind, edit_step, kube_ref
from remediations.model import REMOVE, FieldEdit, Step
from remediations.registry import remediation


def _trigger(fix: FixInput) -> tuple[str | int, ...]:
    index = fix.get("index")
    if not index.isdigit():
        raise ValueError(f"trigger index must be a number, not {index!r}")
    return ("spec", "triggers", int(index))


@remediation("scaledobject-authref", fixes=("authref-unresolved",))
def authref(fix: FixInput) -> list[Step]:
    ref = kube_ref(fix.get("kind"), fix.get("namespace"), fix.get("name"))
    base = (*_trigger(fix), "authenticationRef")
    kind = fix.get("ref_kind")
    edits = [FieldEdit((*base, "name"), fix.get("ref_name")), FieldEdit((*base, "kind"), kind or REMOVE)]
    ops: list[dict[str, object]] = [
        {"op": "replace", "path": json_pointer((*base, "name")), "value": fix.get("ref_name")}]
    ops.append({"op": "add", "path": json_pointer((*base, "kind")), "value": kind} if kind else
               {"op": "remove", "path": json_pointer((*base, "kind"))})
    return [edit_step("scaledobject-authref", ref, edits,
                      command("kubectl-patch", namespace=ref.namespace, kind=cli_kind(ref), name=ref.name,
                              patch_type="json", patch=ops),
                      findings=("authref-unresolved",))]


@remediation("scaledobject-sb-namespace", fixes=("sb-namespace-metadata",))
def sb_namespace(fix: FixInput) -> list[Step]:
    ref = kube_ref(fix.get("kind"), fix.get("namespace"), fix.get("name"))
    path = (*_trigger(fix), "metadata", "namespace")
    return [edit_step("scaledobject-sb-namespace", ref, [FieldEdit(path, fix.get("value"))],
                      command("kubectl-patch", namespace=ref.namespace, kind=cli_kind(ref), name=ref.name,
                              patch_type="json",
                              patch=[{"op": "add", "path": json_pointer(path), "value": fix.get("value")}]),
                      findings=("sb-namespace-metadata",))]
