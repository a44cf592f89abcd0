"""What a fix plan is made of: steps, each one machine action with its human command.

A step says *what* to change (the desired value of some fields, a federated credential, a role assignment);
the executor (bot/execute/) decides *how*: it reads the live object, skips what is already true, computes
the patch against what it read, and records the before-state for undo. Plain frozen data, JSON both ways,
so a plan can be frozen, hashed, stored and applied by another process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from remediations.catalogue import Risk


class Plane(StrEnum):
    """Apply order: Azure first (it takes longest to take effect), then Kubernetes, restarts last."""

    AZURE = "azure"
    KUBERNETES = "kubernetes"
    RESTART = "restart"


PLANE_ORDER = {Plane.AZURE: 0, Plane.KUBERNETES: 1, Plane.RESTART: 2}


@dataclass(frozen=True, slots=True)
class Named:
    """A list element picked by its `name` (containers, env), so a path survives reordering."""

    name: str


PathPart = str | int | Named


class _Remove:
    _instance: _Remove | None = None

    def __new__(cls) -> _Remove:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "REMOVE"


REMOVE: Any = _Remove()


@dataclass(frozen=True, slots=True)
class FieldEdit:
    path: tuple[PathPart, ...]
    value: Any  # a JSON value, or REMOVE

    def shown_path(self) -> str:
        out = ""
        for part in self.path:
            if isinstance(part, Named):
                out += f"[{part.name}]"
            elif isinstance(part, int):
                out += f"[{part}]"
            else:
                out += ("." if out else "") + part
        return out


@dataclass(frozen=True, slots=True)
class KubeRef:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespace: str
    name: str

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"

    @property
    def path(self) -> str:
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if not self.namespace:  # cluster-scoped (ClusterTriggerAuthentication)
            return f"{root}/{self.plural}/{self.name}"
        return f"{root}/namespaces/{self.namespace}/{self.plural}/{self.name}"


@dataclass(frozen=True, slots=True)
class KubeEdit:
    """Set or remove fields of one object."""

    target: KubeRef
    edits: tuple[FieldEdit, ...]


@dataclass(frozen=True, slots=True)
class Restart:
    """`kubectl rollout restart`: a new pod template annotation, so the webhook mutates fresh pods."""

    target: KubeRef


@dataclass(frozen=True, slots=True)
class FicPut:
    identity_id: str
    name: str
    issuer: str
    subject: str
    audience: str

    @property
    def resource_id(self) -> str:
        return f"{self.identity_id}/federatedIdentityCredentials/{self.name}"


@dataclass(frozen=True, slots=True)
class RoleAssignmentPut:
    scope: str
    role_guid: str
    principal_id: str
    name: str  # a GUID derived from (scope, role, principal): planning twice gives the same assignment

    @property
    def resource_id(self) -> str:
        return f"{self.scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{self.name}"

    @property
    def role_definition_id(self) -> str:
        subscription = "/".join(self.scope.strip("/").split("/")[:2])
        return f"/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{self.role_guid}"


Action = KubeEdit | Restart | FicPut | RoleAssignmentPut


@dataclass(frozen=True, slots=True)
class Step:
    key: str  # what it changes; two findings asking for the same change share one step
    remediation: str
    title: str
    plane: Plane
    risk: Risk
    action: Action
    command: str  # the exact kubectl/az command a person could run instead
    undo_command: str
    settle_seconds: int = 0  # how long until the change takes effect where it matters (Entra, RBAC)
    findings: tuple[str, ...] = ()
    observed: str | None = None  # fingerprint of the target as planned (see bot/plan/fingerprint.py)
    resource_version: str | None = None

    @property
    def target(self) -> str:
        action = self.action
        if isinstance(action, KubeEdit | Restart):
            return action.target.ref
        return action.resource_id


@dataclass(frozen=True, slots=True)
class ManualProcedure:
    """A fix keda-auth never automates: rendered for a person to follow."""

    remediation: str
    title: str
    finding: str
    text: str
    objects: tuple[str, ...] = field(default=())


# -- JSON

def _path_json(path: tuple[PathPart, ...]) -> list[Any]:
    return [{"name": p.name} if isinstance(p, Named) else p for p in path]


def _path_from(raw: list[Any]) -> tuple[PathPart, ...]:
    return tuple(Named(p["name"]) if isinstance(p, dict) else p for p in raw)


def _edit_json(edit: FieldEdit) -> dict[str, Any]:
    out: dict[str, Any] = {"path": _path_json(edit.path)}
    if edit.value is REMOVE:
        out["remove"] = True
    else:
        out["value"] = edit.value
    return out


def action_json(action: Action) -> dict[str, Any]:
    if isinstance(action, KubeEdit):
        return {"type": "kube-edit", "target": _ref_json(action.target),
                "edits": [_edit_json(e) for e in action.edits]}
    if isinstance(action, Restart):
        return {"type": "restart", "target": _ref_json(action.target)}
    if isinstance(action, FicPut):
        return {"type": "fic-put", "identity_id": action.identity_id, "name": action.name, "issuer": action.issuer,
                "subject": action.subject, "audience": action.audience}
    return {"type": "role-assignment-put", "scope": action.scope, "role_guid": action.role_guid,
            "principal_id": action.principal_id, "name": action.name}


def _ref_json(ref: KubeRef) -> dict[str, str]:
    return {"group": ref.group, "version": ref.version, "kind": ref.kind, "plural": ref.plural,
            "namespace": ref.namespace, "name": ref.name}


def action_from(raw: dict[str, Any]) -> Action:
    kind = raw["type"]
    if kind == "kube-edit":
        edits = tuple(FieldEdit(_path_from(e["path"]), REMOVE if e.get("remove") else e["value"])
                      for e in raw["edits"])
        return KubeEdit(KubeRef(**raw["target"]), edits)
    if kind == "restart":
        return Restart(KubeRef(**raw["target"]))
    if kind == "fic-put":
        return FicPut(raw["identity_id"], raw["name"], raw["issuer"], raw["subject"], raw["audience"])
    if kind == "role-assignment-put":
        return RoleAssignmentPut(raw["scope"], raw["role_guid"], raw["principal_id"], raw["name"])
    raise ValueError(f"unknown action type {kind!r}")


def step_json(step: Step) -> dict[str, Any]:
    return {"key": step.key, "remediation": step.remediation, "title": step.title, "plane": step.plane.value,
            "risk": step.risk.name.lower(), "action": action_json(step.action), "command": step.command,
            "undo_command": step.undo_command, "settle_seconds": step.settle_seconds,
            "findings": list(step.findings), "observed": step.observed, "resource_version": step.resource_version}


def step_from(raw: dict[str, Any]) -> Step:
    return Step(key=raw["key"], remediation=raw["remediation"], title=raw["title"], plane=Plane(raw["plane"]),
                risk=Risk[str(raw["risk"]).upper()], action=action_from(raw["action"]), command=raw["command"],
                undo_command=raw["undo_command"], settle_seconds=int(raw.get("settle_seconds") or 0),
                findings=tuple(raw.get("findings") or ()), observed=raw.get("observed"),
                resource_version=raw.get("resource_version"))


def manual_json(proc: ManualProcedure) -> dict[str, Any]:
    return {"remediation": proc.remediation, "title": proc.title, "finding": proc.finding, "text": proc.text,
            "objects": list(proc.objects)}


def manual_from(raw: dict[str, Any]) -> ManualProcedure:
    return ManualProcedure(raw["remediation"], raw["title"], raw["finding"], raw["text"],
                           tuple(raw.get("objects") or ()))
