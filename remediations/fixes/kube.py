"""Shared by the Kubernetes fixes: object references, step construction, the JSON-patch undo rendering."""

from __future__ import annotations

from bot.diagnosis.facts import WI_CLIENT_ID, WI_TENANT_ID, WI_TOKEN_EXPIRATION, WI_USE_LABEL
from remediations.catalogue import get
from remediations.model import FieldEdit, KubeEdit, KubeRef, Plane, Step

__all__ = ["WI_CLIENT_ID", "WI_TENANT_ID", "WI_TOKEN_EXPIRATION", "WI_USE_LABEL", "cli_kind", "edit_step", "kube_ref"]

_KINDS = {
    "Deployment": ("apps", "v1", "deployments"),
    "ServiceAccount": ("", "v1", "serviceaccounts"),
    "TriggerAuthentication": ("keda.sh", "v1alpha1", "triggerauthentications"),
    "ClusterTriggerAuthentication": ("keda.sh", "v1alpha1", "clustertriggerauthentications"),
    "ScaledObject": ("keda.sh", "v1alpha1", "scaledobjects"),
    "ScaledJob": ("keda.sh", "v1alpha1", "scaledjobs"),
}


def kube_ref(kind: str, namespace: str, name: str) -> KubeRef:
    try:
        group, version, plural = _KINDS[kind]
    except KeyError:
        raise ValueError(f"keda-auth does not patch {kind} objects") from None
    return KubeRef(group, version, kind, plural, "" if kind == "ClusterTriggerAuthentication" else namespace, name)


def cli_kind(ref: KubeRef) -> str:
    """How kubectl names the kind: fully qualified for custom resources, so no other CRD can shadow it."""
    return ref.plural if not ref.group or ref.group == "apps" else f"{ref.plural}.{ref.group}"


def edit_step(remediation: str, ref: KubeRef, edits: list[FieldEdit], command: str, *, findings: tuple[str, ...],
              title: str | None = None) -> Step:
    entry = get(remediation)
    key = f"edit:{ref.ref}:" + ",".join(e.shown_path() for e in edits)
    return Step(key=key, remediation=remediation, title=title or entry.title, plane=Plane.KUBERNETES,
                risk=entry.risk, action=KubeEdit(ref, tuple(edits)), command=command,
                undo_command="", findings=findings)
