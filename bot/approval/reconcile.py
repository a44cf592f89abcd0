"""Start-up reconciliation: an apply whose process died leaves its proposal `applying` with a lease that runs
out. Whoever starts next takes the lease over, re-checks each step the journal left `started` (is its change
in place?), records what it finds, and marks the proposal failed. It never applies anything: a person
decides whether to plan again or undo."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update

from bot.approval.gate import Gate, load
from bot.approval.proposals import frozen_plan
from bot.approval.runner import Connect, lease_owner
from bot.approval.states import State, transition
from bot.errors import KedaAuthError
from bot.execute.errors import ExecuteError
from bot.execute.records import Status
from bot.redact import redact
from bot.store import chain
from bot.store.schema import Proposal, StepExecution

RECONCILE_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class Reconciled:
    proposal_id: str
    found: tuple[str, ...]  # one sentence per interrupted step
    message: str


def stale(gate: Gate) -> list[str]:
    """Proposals left `applying` whose lease has run out."""
    with gate.store.read() as conn:
        return list(conn.execute(select(Proposal.id).where(
            Proposal.state == State.APPLYING.value,
            (Proposal.lease_until.is_(None)) | (Proposal.lease_until < gate.clock()))).scalars())


def reconcile(gate: Gate, connect: Connect, actor: str = "keda-auth") -> list[Reconciled]:
    return [done for proposal_id in stale(gate) if (done := reconcile_one(gate, proposal_id, connect, actor))]


def reconcile_one(gate: Gate, proposal_id: str, connect: Connect, actor: str) -> Reconciled | None:
    owner = lease_owner(actor)
    with gate.store.write() as conn:
        view = load(conn, proposal_id)
        now = gate.clock()
        # Take the lease over only if it is still the dead one: two starting replicas reconcile once.
        taken = conn.execute(update(Proposal).where(
            Proposal.id == proposal_id, Proposal.state == State.APPLYING.value,
            (Proposal.lease_until.is_(None)) | (Proposal.lease_until < now))
            .values(lease_owner=owner, lease_until=now + RECONCILE_LEASE)).rowcount == 1
    if not taken:
        return None
    run = "apply" if view.kind == "fix" else "undo"
    with gate.store.read() as conn:
        rows = conn.execute(select(StepExecution).where(StepExecution.proposal_id == proposal_id,
                                                        StepExecution.run == run)
                            .order_by(StepExecution.position)).mappings().all()
    interrupted = [r for r in rows if r["status"] == Status.STARTED.value]
    plan = frozen_plan(view)
    steps = {s.key: s for s in plan.steps}
    found: list[str] = []
    updates: list[tuple[str, str, str]] = []
    try:
        with connect(plan) as executor:
            for row in interrupted:
                holds, why = executor.holds(steps[row["step_key"]])
                in_place = holds if run == "apply" else not holds
                status = (Status.APPLIED if run == "apply" else Status.UNDONE) if in_place else (
                    Status.FAILED if run == "apply" else Status.UNDO_FAILED)
                sentence = (f"{row['title']}: the change is in place (the process stopped after making it)"
                            if in_place else f"{row['title']}: not in place (the process stopped before it took "
                                             f"effect; {why}); not retried")
                found.append(sentence)
                updates.append((row["step_key"], status.value, "reconciled: " + sentence))
    except (KedaAuthError, ExecuteError, OSError) as exc:
        found.append(f"could not re-check the interrupted steps: {exc}; check them by hand")
    never = [r["title"] for r in rows if r["status"] == Status.PENDING.value]
    message = ("interrupted (the applying process stopped); reconciled at start-up: " + "; ".join(found or [
        "no step was under way"]) + (f"; never run: {', '.join(never)}" if never else "")
               + "; nothing was re-applied: plan again or undo")
    with gate.store.write() as conn:
        for key, new_status, note in updates:
            conn.execute(update(StepExecution).where(StepExecution.proposal_id == proposal_id,
                                                     StepExecution.run == run, StepExecution.step_key == key)
                         .values(status=new_status, message=redact(note)))
        transition(conn, proposal_id, State.FAILED, gate.clock(), frm=(State.APPLYING,), message=redact(message),
                   lease_owner=None, lease_until=None)
        gate.audit(conn, chain.Event(actor, "apply.reconciled", proposal_id, cluster=view.cluster,
                                     findings=view.findings, state=State.FAILED.value, break_glass=view.break_glass,
                                     detail={"found": found, "never_run": never}))
    return Reconciled(proposal_id, tuple(found), message)
