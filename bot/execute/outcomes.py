"""Small result types shared by the step handlers and the executor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.execute.records import Status


@dataclass(frozen=True)
class DryRun:
    key: str
    title: str
    outcome: str  # "would change", "already so", "refused"
    message: str = ""
    permission: str | None = None


@dataclass(frozen=True)
class Done:
    status: Status
    message: str = ""
    before: Any = None
    after: Any = None
    sent: Any = None


@dataclass
class RunContext:
    """What one apply run has changed so far: a restart is needed after a ServiceAccount changed, and not
    after the pod template changed (that rolls the pods out by itself)."""

    rollout_timeout: float
    changed: set[str] = field(default_factory=set)  # refs of Kubernetes objects patched in this run
    template_changed: set[str] = field(default_factory=set)  # Deployments whose pod template changed
