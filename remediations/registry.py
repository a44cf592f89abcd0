"""Automated remediations register here with the finding ids they fix; each builds steps from a FixInput.

A builder is a pure function: no I/O, no clock. It names the change; the planner adds what the snapshot
says about the target (for drift detection), the executor works out the patch against the live object.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.diagnosis.findings import FixInput
from remediations.catalogue import Remediation, get
from remediations.model import Step

Builder = Callable[[FixInput], list[Step]]


@dataclass(frozen=True)
class Registered:
    remediation: Remediation
    fixes: tuple[str, ...]  # failure-mode ids (a contract: failure-modes.md Part B)
    build: Builder


REGISTRY: dict[str, Registered] = {}


def remediation(remediation_id: str, *, fixes: Sequence[str]) -> Callable[[Builder], Builder]:
    def register(build: Builder) -> Builder:
        entry = get(remediation_id)
        if not entry.automated:
            raise ValueError(f"{remediation_id} is a manual remediation; it has no steps")
        if remediation_id in REGISTRY:
            raise ValueError(f"remediation registered twice: {remediation_id}")
        REGISTRY[remediation_id] = Registered(entry, tuple(fixes), build)
        return build

    return register


def registered() -> dict[str, Registered]:
    import remediations.fixes  # noqa: F401  (registers every remediation module)

    return REGISTRY


def build_steps(fix: FixInput) -> list[Step]:
    entry = registered().get(fix.remediation)
    if entry is None:
        raise KeyError(f"no automated remediation {fix.remediation!r}")
    return entry.build(fix)
