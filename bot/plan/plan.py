"""A frozen plan: its steps and manual procedures, hashed, serialisable, and checked when loaded back."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from bot.errors import InputError
from remediations.catalogue import Risk
from remediations.model import ManualProcedure, Step, manual_from, manual_json, step_from, step_json

FORMAT = "keda-auth-plan/v1"


@dataclass(frozen=True)
class PlannedFinding:
    id: str
    title: str
    objects: tuple[str, ...]
    automated: bool


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    manual: tuple[ManualProcedure, ...]
    findings: tuple[PlannedFinding, ...]
    created_at: str
    cluster: str | None = None
    source: str = ""
    notes: tuple[str, ...] = field(default=())  # what the planner left out, and why

    @property
    def hash(self) -> str:
        return plan_hash(self.steps)

    @property
    def id(self) -> str:
        return self.hash[:12]

    @property
    def risk(self) -> Risk:
        return max((s.risk for s in self.steps), default=Risk.MANUAL)

    @property
    def settle_seconds(self) -> int:
        return max((s.settle_seconds for s in self.steps), default=0)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "hash": self.hash, "created_at": self.created_at, "cluster": self.cluster,
                "source": self.source, "risk": self.risk.name.lower(),
                "findings": [{"id": f.id, "title": f.title, "objects": list(f.objects), "automated": f.automated}
                             for f in self.findings],
                "steps": [step_json(s) for s in self.steps], "manual": [manual_json(m) for m in self.manual],
                "notes": list(self.notes)}


def plan_hash(steps: tuple[Step, ...]) -> str:
    """Over the rendered steps and the state they were computed from: approving a hash approves exactly these
    commands against exactly that state."""
    text = json.dumps([step_json(s) for s in steps], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def plan_from_json(raw: Any) -> Plan:
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise InputError(f"not a keda-auth plan (expected format {FORMAT})")
    try:
        plan = Plan(steps=tuple(step_from(s) for s in raw["steps"]),
                    manual=tuple(manual_from(m) for m in raw.get("manual") or ()),
                    findings=tuple(PlannedFinding(f["id"], f["title"], tuple(f.get("objects") or ()),
                                                  bool(f.get("automated"))) for f in raw.get("findings") or ()),
                    created_at=str(raw["created_at"]), cluster=raw.get("cluster"), source=str(raw.get("source") or ""),
                    notes=tuple(raw.get("notes") or ()))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"the plan is malformed: {exc}") from exc
    if plan.hash != raw.get("hash"):
        raise InputError("the plan's steps do not match its hash: it was edited after it was made; plan again")
    return plan
