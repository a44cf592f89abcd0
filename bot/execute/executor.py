"""Run a frozen plan: refuse on drift, dry-run everything first, then apply step by step, recording each
step as started before its call and finished after it. Undo walks the applied steps back, last first.

The executor never decides *whether* a plan may run (that is the approval gate's job); it makes sure the plan
still describes the live state, that every call would be accepted, and that what it did is on record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.execute import arm_steps, kube_steps
from bot.execute.arm_api import ArmApi
from bot.execute.errors import ExecuteError
from bot.execute.kube_api import KubeApi
from bot.execute.outcomes import Done, DryRun, RunContext
from bot.execute.records import Execution, Journal, NullJournal, Status, StepRecord, now_iso
from bot.plan.plan import Plan
from remediations.model import FicPut, KubeEdit, Restart, RoleAssignmentPut, Step


@dataclass(frozen=True)
class Drift:
    target: str
    what: str


@dataclass
class Executor:
    kube: KubeApi | None = None
    arm: ArmApi | None = None
    rollout_timeout: float = 300.0
    on_step: Callable[[StepRecord], None] | None = field(default=None)  # progress for a person watching

    def _kube(self) -> KubeApi:
        if self.kube is None:
            raise ExecuteError("this plan changes Kubernetes objects, but no cluster connection was given")
        return self.kube

    def _arm(self) -> ArmApi:
        if self.arm is None:
            raise ExecuteError("this plan changes Azure resources, but no Azure credential was given")
        return self.arm

    # -- re-validation
    def drift(self, plan: Plan) -> list[Drift]:
        """Targets whose state differs from what the plan was computed from."""
        found: list[Drift] = []
        seen: set[str] = set()
        for step in plan.steps:
            if step.observed is None or step.target in seen:
                continue
            seen.add(step.target)
            try:
                if isinstance(step.action, KubeEdit | Restart):
                    observed, version = kube_steps.observe(self._kube(), step)
                    if observed != step.observed:
                        was = f"resourceVersion {step.resource_version} → {version}" if step.resource_version else \
                            "its labels, annotations or spec differ"
                        found.append(Drift(step.target, "absent now" if observed == "absent" else
                                           f"changed since the plan was made ({was})"))
                elif arm_steps.observe(self._arm(), step) != step.observed:
                    what = ("its federated credentials" if isinstance(step.action, FicPut)
                            else "the role assignments of the principal over this scope")
                    found.append(Drift(step.target, f"{what} changed since the plan was made"))
            except ExecuteError as exc:
                found.append(Drift(step.target, f"could not be re-read: {exc}"))
        return found

    def dry_run(self, plan: Plan) -> list[DryRun]:
        results = []
        for step in plan.steps:
            try:
                if isinstance(step.action, KubeEdit | Restart):
                    results.append(kube_steps.dry_run(self._kube(), step))
                else:
                    results.append(arm_steps.dry_run(self._arm(), step))
            except ExecuteError as exc:
                results.append(DryRun(step.key, step.title, "refused", str(exc)))
        return results

    # -- apply
    def apply(self, plan: Plan, journal: Journal | None = None) -> Execution:
        journal = journal or NullJournal()
        execution = Execution.start(plan)
        drift = self.drift(plan)
        if drift and self._already_applied(plan):
            # The state moved exactly where this plan would have moved it: applying twice changes nothing.
            for record in execution.steps:
                record.status, record.message = Status.SKIPPED, "already so (the plan was applied before)"
            execution.outcome, execution.finished_at = "applied", now_iso()
            return execution
        if drift:
            return _refused(execution, [f"{d.target}: {d.what}" for d in drift] + ["plan again"])
        refused = [d for d in self.dry_run(plan) if d.outcome == "refused"]
        if refused:
            return _refused(execution, [f"{d.title}: {d.message}" for d in refused])
        ctx = RunContext(self.rollout_timeout)
        for step in plan.steps:
            record = execution.record(step.key)
            done = self._journaled(execution, record, journal, Status.FAILED, partial(self._apply_step, step, ctx),
                                   before=partial(self._before, step))
            if done.status is Status.FAILED:
                execution.outcome = "failed"
                execution.problems.append(f"{step.title}: {done.message}")
                break
        else:
            execution.outcome = "applied"
        execution.finished_at = now_iso()
        return execution

    def _journaled(self, execution: Execution, record: StepRecord, journal: Journal, failed: Status,
                   call: Callable[[], Done], before: Callable[[], Any] | None = None) -> Done:
        """One step on record: started (with its before-state, so a crash mid-call still leaves what to
        restore) before the call, finished after it; an error becomes the step's `failed` outcome."""
        try:
            if before is not None:
                record.before = before()
            record.status, record.started_at = Status.STARTED, now_iso()
            journal.step_started(execution, record)
            done = call()
        except (ExecuteError, ValueError) as exc:
            done = Done(failed, str(exc))
        _finish(record, done)
        journal.step_finished(execution, record)
        if self.on_step:
            self.on_step(record)
        return done

    def _already_applied(self, plan: Plan) -> bool:
        return bool(plan.steps) and all(self.holds(step)[0] for step in plan.steps)

    def _before(self, step: Step) -> Any:
        if isinstance(step.action, KubeEdit | Restart):
            return kube_steps.before(self._kube(), step)
        return arm_steps.before(self._arm(), step)

    def _apply_step(self, step: Step, ctx: RunContext) -> Done:
        if isinstance(step.action, KubeEdit | Restart):
            return kube_steps.apply(self._kube(), step, ctx)
        return arm_steps.apply(self._arm(), step)

    # -- undo
    def undo(self, applied: Execution, journal: Journal | None = None) -> Execution:
        """Put back the before-state of every step the execution changed, last first. A step whose target
        changed since is left alone and reported; the others are still undone."""
        journal = journal or NullJournal()
        undo = Execution(applied.plan, "undo", [])
        steps = {s.key: s for s in applied.plan.steps}
        changed = applied.changed[::-1]
        # Restarts go back last, as they were applied last: new pods must see the restored configuration.
        changed.sort(key=lambda r: isinstance(steps[r.key].action, Restart))
        for record in changed:
            step = steps[record.key]
            mine = StepRecord(step.key, f"undo: {step.title}", step.target)
            undo.steps.append(mine)
            done = self._journaled(undo, mine, journal, Status.UNDO_FAILED, partial(self._undo_step, step, record))
            if done.status is Status.UNDO_FAILED:
                undo.problems.append(f"{step.title}: {done.message}")
        undo.outcome = "partially-undone" if undo.problems else "undone"
        undo.finished_at = now_iso()
        return undo

    def _undo_step(self, step: Step, record: StepRecord) -> Done:
        if record.before is None and record.after is None and record.status is Status.STARTED:
            raise ExecuteError("no before-state was recorded (the process stopped during the call); check "
                               f"{step.target} by hand")
        if isinstance(step.action, KubeEdit | Restart):
            return kube_steps.undo(self._kube(), step, record, self.rollout_timeout)
        assert isinstance(step.action, FicPut | RoleAssignmentPut)
        return arm_steps.undo(self._arm(), step, record)

    # -- verification of the steps themselves (verify.py adds the fresh check)
    def holds(self, step: Step) -> tuple[bool, str]:
        try:
            if isinstance(step.action, KubeEdit | Restart):
                return kube_steps.holds(self._kube(), step)
            return arm_steps.holds(self._arm(), step)
        except ExecuteError as exc:
            return False, str(exc)


def _finish(record: StepRecord, done: Done) -> None:
    record.status, record.message, record.finished_at = done.status, done.message, now_iso()
    if done.before is not None or record.before is None:
        record.before = done.before
    record.after, record.sent = done.after, done.sent


def _refused(execution: Execution, problems: list[str]) -> Execution:
    execution.outcome = "refused"
    execution.problems = problems
    execution.finished_at = now_iso()
    return execution
