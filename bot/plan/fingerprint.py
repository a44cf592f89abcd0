"""What a step's target looked like, as one short hash: computed from the snapshot when planning and from a
fresh read before applying; a difference is drift, and the executor refuses.

Kubernetes objects are compared on what a person or a controller edits (labels, annotations, spec), not on
resourceVersion alone: KEDA and the kubelet rewrite `status` constantly, which is no reason to refuse. Values
are redacted first, because a redacted bundle's object must match the live one it was collected from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from bot.redact import redact_any

_VOLATILE_ANNOTATIONS = ("deployment.kubernetes.io/revision",)


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def kube_fingerprint(obj: Mapping[str, Any] | None) -> str:
    if obj is None:
        return "absent"
    metadata = obj.get("metadata") or {}
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k not in _VOLATILE_ANNOTATIONS}
    return _digest(redact_any({"labels": metadata.get("labels") or {}, "annotations": annotations,
                               "spec": obj.get("spec")}))


def fics_fingerprint(fics: Iterable[tuple[str, str, str, Iterable[str]]]) -> str:
    """(name, issuer, subject, audiences) of every FIC on one identity."""
    return _digest(sorted([name.lower(), issuer, subject, sorted(audiences)] for name, issuer, subject, audiences
                          in fics))


def assignments_fingerprint(assignments: Iterable[tuple[str, str, str]]) -> str:
    """(id, role guid, scope) of the assignments of one principal that cover one scope."""
    return _digest(sorted([rid.lower(), role.lower(), scope.rstrip("/").lower()] for rid, role, scope
                          in assignments))

