"""The executor's journal in SQL: every step's row goes `started` (with its before-state) before the call and
to its outcome after it, each with an audit event, and each write renews the applier's lease. A lease that
another process has taken over (start-up reconciliation decided this apply was dead) stops the run before
its next call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, update

from bot.approval.gate import Gate, ProposalView
from bot.execute.errors import ExecuteError
from bot.execute.records import Execution, StepRecord
from bot.redact import redact, redact_for_store
from bot.snapshot.timeutil import parse_time
from bot.store import chain
from bot.store.clock import naive_utc
from bot.store.schema import Proposal, StepExecution


def _at(text: str | None) -> datetime | None:
    parsed = parse_time(text) if text else None
    return naive_utc(parsed) if parsed else None


@dataclass
class SqlJournal:
    gate: Gate
    view: ProposalView
    run: str  # "apply" or "undo"
    actor: str
    lease_owner: str
    lease: timedelta

    def open(self, execution: Execution) -> None:
        """Every step on record as pending before the first call, so a review shows what never ran."""
        with self.gate.store.write() as conn:
            conn.execute(insert(StepExecution), [
                {"proposal_id": self.view.id, "run": self.run, "position": i, "step_key": r.key,
                 "title": redact(r.title), "target": redact(r.target), "status": r.status.value, "message": "",
                 "before": None, "after": None, "sent": None, "started_at": None, "finished_at": None}
                for i, r in enumerate(execution.steps)])

    def add(self, position: int, record: StepRecord) -> None:
        """Undo records appear as they are decided (which steps to put back is known only as it runs)."""
        with self.gate.store.write() as conn:
            conn.execute(insert(StepExecution).values(
                proposal_id=self.view.id, run=self.run, position=position, step_key=record.key,
                title=redact(record.title), target=redact(record.target), status=record.status.value, message=""))

    def _renew(self, conn: Connection) -> None:
        renewed = conn.execute(update(Proposal).where(Proposal.id == self.view.id,
                                                      Proposal.lease_owner == self.lease_owner)
                               .values(lease_until=self.gate.clock() + self.lease)).rowcount
        if renewed != 1:
            raise ExecuteError("this apply's lease was taken over (it was presumed dead and reconciled); "
                               "stopping before the next change")

    def _write(self, record: StepRecord, action: str, **detail: Any) -> None:
        values = {"status": record.status.value, "message": redact(record.message),
                  "before": redact_for_store(record.before), "after": redact_for_store(record.after),
                  "sent": redact_for_store(record.sent), "started_at": _at(record.started_at),
                  "finished_at": _at(record.finished_at)}
        with self.gate.store.write() as conn:
            self._renew(conn)
            updated = conn.execute(update(StepExecution).where(
                StepExecution.proposal_id == self.view.id, StepExecution.run == self.run,
                StepExecution.step_key == record.key).values(**values)).rowcount
            if updated != 1:
                raise ExecuteError(f"no journal row for step {record.key!r}")
            self.gate.audit(conn, chain.Event(
                self.actor, action, self.view.id, cluster=self.view.cluster,
                findings=self.view.findings, state="applying", break_glass=self.view.break_glass,
                detail={"run": self.run, "step": record.title, "target": record.target, "status": record.status.value,
                        "message": record.message, **detail}))

    def step_started(self, execution: Execution, record: StepRecord) -> None:
        if self.run == "undo":
            self.add(len(execution.steps) - 1, record)
        self._write(record, "step.started", before=record.before)

    def step_finished(self, execution: Execution, record: StepRecord) -> None:
        self._write(record, "step.finished", after=record.after, sent=record.sent)
