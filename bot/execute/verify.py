"""Did it work? Each step's change must be visible, and a fresh check must no longer find what the plan fixed.

Federated credentials take seconds to minutes and role assignments up to ~10 minutes to take effect, so a
finding that is still there while a step that fixes it is within its settling time is "not yet
(propagating)", not "failed". Verification polls within a time budget and says which it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.diagnosis.engine import Report
from bot.diagnosis.findings import Severity
from bot.execute.executor import Executor
from bot.execute.records import Execution, Status
from bot.plan.plan import PlannedFinding
from bot.snapshot.timeutil import parse_time

VERIFIED = "verified"
PROPAGATING = "not yet (propagating)"
FAILED = "failed"


@dataclass(frozen=True)
class Check:
    what: str  # a step title, or a finding id
    status: str
    message: str


@dataclass(frozen=True)
class Verification:
    outcome: str
    steps: tuple[Check, ...]
    findings: tuple[Check, ...]
    seconds: float


def _objects(refs: tuple[str, ...]) -> set[str]:
    return {r for r in refs if not r.startswith("Pod/")}  # pods are replaced by the fix itself


def _still_there(planned: PlannedFinding, report: Report) -> bool:
    for finding in report.findings:
        if finding.id != planned.id or finding.severity < Severity.WARNING:
            continue
        mine, theirs = _objects(planned.objects), _objects(finding.objects)
        if not mine or not theirs or mine & theirs:
            return True
    return False


def _settling(execution: Execution, finding_id: str, now: datetime) -> bool:
    steps = {s.key: s for s in execution.plan.steps}
    for record in execution.steps:
        step = steps[record.key]
        if record.status is not Status.APPLIED or not step.settle_seconds:
            continue
        if finding_id not in step.findings and not finding_id.endswith("propagation-delay"):
            continue
        done = parse_time(record.finished_at)
        if done is not None and (now - done).total_seconds() < step.settle_seconds:
            return True
    return False


def verify(executor: Executor, execution: Execution, recheck: Callable[[], Report] | None, *,
           budget: float = 120.0, interval: float = 5.0, sleep: Callable[[float], None] = time.sleep,
           now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Verification:
    started = time.monotonic()
    steps = {s.key: s for s in execution.plan.steps}
    wanted = [f for f in execution.plan.findings if f.automated]
    while True:
        step_checks = []
        for record in execution.steps:
            if record.status not in (Status.APPLIED, Status.SKIPPED):
                continue
            ok, message = executor.holds(steps[record.key])
            step_checks.append(Check(record.title, VERIFIED if ok else FAILED, message))
        finding_checks = []
        report = recheck() if recheck is not None else None
        extra = []
        if report is not None:
            at = now()
            for planned in wanted:
                if not _still_there(planned, report):
                    finding_checks.append(Check(planned.id, VERIFIED, "gone on a fresh check"))
                elif _settling(execution, planned.id, at):
                    finding_checks.append(Check(planned.id, PROPAGATING, "still reported; a change that fixes it "
                                                                         "is within its propagation time"))
                else:
                    finding_checks.append(Check(planned.id, FAILED, "still reported on a fresh check"))
            # A fix can only make a propagation-delay finding appear: the credential or role is new.
            extra = [Check(f.id, PROPAGATING, f.title) for f in report.findings
                     if f.id.endswith("propagation-delay") and f.severity >= Severity.WARNING]
        checks = step_checks + finding_checks + extra
        statuses = {c.status for c in checks}
        outcome = FAILED if FAILED in statuses else PROPAGATING if PROPAGATING in statuses else VERIFIED
        elapsed = time.monotonic() - started
        if outcome == VERIFIED or elapsed + interval > budget:
            return Verification(outcome, tuple(step_checks), tuple(finding_checks + extra), elapsed)
        sleep(interval)
