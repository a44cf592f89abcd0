"""What a live collection could not read, carried into the Snapshot and the bundle's manifest.

A gap is not an error in the input: it is a hole in it, with the permission that would fill it. Checks
consult `Snapshot.complete()` so that "could not read" is never mistaken for "none exist".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# `Gap.key` when a whole kind or type is incomplete rather than one identity's or one principal's share.
ALL = "*"


@dataclass(frozen=True, slots=True)
class Gap:
    """Something a reader could not read. Reported as an `input-missing` finding; never fatal.

    `grant` names what would let keda-auth read it (the Kubernetes RBAC rule or the Azure role and scope),
    because "permission denied" alone leaves on-call guessing which rule to add.
    """

    source: str  # "kubernetes" or "azure"
    what: str  # human: "Deployments (apps/v1) in all namespaces"
    grant: str  # e.g. "RBAC rule: apiGroups [apps], resources [deployments], verbs [list] (ClusterRole)"
    reason: str  # short, redacted: "403 Forbidden: deployments.apps is forbidden: User ... cannot list ..."
    kind: str  # the Kubernetes kind or ARM resource type left incomplete
    key: str = ALL  # ARM only: the identity id / principal id whose share is missing, or ALL

    def as_json(self) -> dict[str, str]:
        return {"source": self.source, "what": self.what, "grant": self.grant, "reason": self.reason,
                "kind": self.kind, "key": self.key}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Gap:
        return Gap(str(data.get("source", "")), str(data.get("what", "")), str(data.get("grant", "")),
                   str(data.get("reason", "")), str(data.get("kind", "")), str(data.get("key") or ALL))


