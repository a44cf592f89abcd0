"""What a check reports: findings with evidence, and notes about inputs it could not see."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class Severity(IntEnum):
    INFO = 0
    WARNING = 1
    CRITICAL = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class Stage(IntEnum):
    """Where in the chain a failure sits (failure-modes.md Part C); lower stages are root causes."""

    VERSION = 1
    CLUSTER = 2
    INJECTION = 3
    IDENTITY = 4
    FEDERATION = 5
    TRIGGER = 6
    RBAC = 7
    NETWORK = 8
    INPUT = 9


@dataclass(frozen=True, slots=True)
class Evidence:
    source: str  # the object or resource, e.g. "Deployment/keda/keda-operator"
    field: str  # the path inside it
    expected: str
    actual: str


@dataclass(frozen=True, slots=True)
class FixInput:
    """What an automated remediation needs to act on one finding: the exact objects and values.

    The check that finds the problem knows them (which Deployment, which clientId, which issuer), so it
    says them once here; the remediation turns them into steps (remediations/registry.py).
    """

    remediation: str
    params: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, remediation: str, **params: str) -> FixInput:
        return cls(remediation, tuple(sorted((k, str(v)) for k, v in params.items())))

    def get(self, key: str) -> str:
        for name, value in self.params:
            if name == key:
                return value
        raise KeyError(f"{self.remediation} needs {key!r}")

    def as_dict(self) -> dict[str, str]:
        return dict(self.params)


@dataclass(frozen=True, slots=True)
class Finding:
    id: str
    severity: Severity
    title: str
    detail: str
    objects: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    fixes: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()
    stage: Stage = Stage.INPUT
    symptoms: tuple[str, ...] = field(default=())  # corroborating log lines and events
    fix_inputs: tuple[FixInput, ...] = ()


@dataclass(frozen=True, slots=True)
class MissingInput:
    """A check could not decide because the snapshot lacks something; says exactly what to add."""

    what: str  # e.g. "the federated credentials of identity keda-id"
    add: str  # e.g. "az identity federated-credential list -g rg --identity-name keda-id -o json"
    why: str = ""
