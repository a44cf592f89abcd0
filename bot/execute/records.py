"""What an execution leaves behind: one record per step (status, before/after state, timings), written to a
journal before and after every call, so a crash mid-plan leaves a trace of exactly what was under way.

Before/after states are redacted before they are recorded: secrets never reach a journal.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from bot.errors import InputError
from bot.plan.plan import Plan, plan_from_json
from bot.redact import redact_any


class Status(StrEnum):
    PENDING = "pending"
    STARTED = "started"  # the call was made or is being made: a crash here needs reconciling
    SKIPPED = "skipped"  # already so: nothing changed
    APPLIED = "applied"
    FAILED = "failed"
    UNDONE = "undone"
    UNDO_FAILED = "undo-failed"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def trimmed(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """The parts of a Kubernetes object a fix can touch, redacted: enough to undo, nothing else."""
    if obj is None:
        return None
    meta = obj.get("metadata") or {}
    kept = {k: meta[k] for k in ("name", "namespace", "resourceVersion", "generation", "labels", "annotations")
            if k in meta}
    out: dict[str, Any] = redact_any({"metadata": kept, "spec": obj.get("spec")})
    return out


@dataclass
class StepRecord:
    key: str
    title: str
    target: str
    status: Status = Status.PENDING
    message: str = ""
    before: Any = None
    after: Any = None
    started_at: str | None = None
    finished_at: str | None = None
    sent: Any = None  # the patch or request body as sent

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "target": self.target, "status": self.status.value,
                "message": self.message, "before": self.before, "after": self.after, "started_at": self.started_at,
                "finished_at": self.finished_at, "sent": self.sent}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> StepRecord:
        return cls(raw["key"], raw["title"], raw["target"], Status(raw["status"]), raw.get("message") or "",
                   raw.get("before"), raw.get("after"), raw.get("started_at"), raw.get("finished_at"), raw.get("sent"))


@dataclass
class Execution:
    plan: Plan
    kind: str  # "apply" or "undo"
    steps: list[StepRecord]
    outcome: str = "pending"  # applied, failed, refused, undone, partially-undone
    problems: list[str] = field(default_factory=list)
    started_at: str = field(default_factory=now_iso)
    finished_at: str | None = None

    @classmethod
    def start(cls, plan: Plan, kind: str = "apply") -> Execution:
        return cls(plan, kind, [StepRecord(s.key, s.title, s.target) for s in plan.steps])

    def record(self, key: str) -> StepRecord:
        return next(r for r in self.steps if r.key == key)

    @property
    def changed(self) -> list[StepRecord]:
        """Steps that changed something, or may have (started, never finished): what undo puts back."""
        return [r for r in self.steps if r.status in (Status.APPLIED, Status.STARTED)]

    def to_json(self) -> dict[str, Any]:
        return {"format": "keda-auth-execution/v1", "kind": self.kind, "plan": self.plan.to_json(),
                "plan_hash": self.plan.hash, "outcome": self.outcome, "problems": self.problems,
                "started_at": self.started_at, "finished_at": self.finished_at,
                "steps": [r.to_json() for r in self.steps]}

    @classmethod
    def from_json(cls, raw: Any) -> Execution:
        if not isinstance(raw, dict) or raw.get("format") != "keda-auth-execution/v1":
            raise InputError("not a keda-auth execution record")
        plan = plan_from_json(raw["plan"])
        return cls(plan, raw["kind"], [StepRecord.from_json(s) for s in raw["steps"]], raw.get("outcome") or "",
                   list(raw.get("problems") or ()), raw.get("started_at") or "", raw.get("finished_at"))


class Journal(Protocol):
    """Where step transitions go as they happen (a file for the CLI; SQL for the approval gate)."""

    def step_started(self, execution: Execution, record: StepRecord) -> None: ...

    def step_finished(self, execution: Execution, record: StepRecord) -> None: ...


class NullJournal:
    def step_started(self, execution: Execution, record: StepRecord) -> None:
        pass

    def step_finished(self, execution: Execution, record: StepRecord) -> None:
        pass


class FileJournal:
    """The whole execution as one JSON file, replaced atomically at every transition."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, execution: Execution) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(execution.to_json(), out, indent=1)
        os.replace(tmp, self.path)

    def step_started(self, execution: Execution, record: StepRecord) -> None:
        self.write(execution)

    def step_finished(self, execution: Execution, record: StepRecord) -> None:
        self.write(execution)


def read_execution(path: Path) -> Execution:
    try:
        return Execution.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"cannot read execution record {path}: {exc}") from exc
