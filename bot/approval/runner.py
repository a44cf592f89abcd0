"""Apply an approved proposal, and nothing else: the gate is re-checked at the moment of applying (kill
switch, allowlists, approvals still valid under today's policy and bound to the stored plan's hash, not
expired), one conditional UPDATE claims it, then the executor re-validates drift, dry-runs, applies with a
SQL journal, and verifies. Every outcome lands in the proposal's state and the audit trail."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import insert, select, update

from bot.approval.decisions import expire_if_due, risk_of
from bot.approval.gate import Gate, ProposalView
from bot.approval.journal import SqlJournal
from bot.approval.proposals import frozen_plan
from bot.approval.states import UNDOABLE, State, transition
from bot.diagnosis.engine import Report
from bot.errors import InputError, KedaAuthError, Refused
from bot.execute.errors import ExecuteError
from bot.execute.executor import Drift, Executor
from bot.execute.outcomes import DryRun
from bot.execute.records import Execution
from bot.execute.verify import FAILED, VERIFIED, Verification, verify
from bot.plan.plan import Plan
from bot.redact import redact, redact_for_store
from bot.store import chain
from bot.store.schema import Decision, Proposal
from bot.store.schema import Verification as VerificationRow

Connect = Callable[[Plan], AbstractContextManager[Executor]]


@dataclass
class ApplyResult:
    proposal: ProposalView
    drift: list[Drift] = field(default_factory=list)
    dry_run: list[DryRun] = field(default_factory=list)
    execution: Execution | None = None
    verification: Verification | None = None


def lease_owner(actor: str) -> str:
    return f"{actor} on {socket.gethostname()} pid {os.getpid()} run {uuid.uuid4().hex[:8]}"


def _event(view: ProposalView, actor: str, action: str, state: State, **detail: object) -> chain.Event:
    return chain.Event(actor, action, view.id, cluster=view.cluster, findings=view.findings, state=state.value,
                       break_glass=view.break_glass, detail=detail)


def check_may_apply(gate: Gate, view: ProposalView, actor: str) -> None:
    """Everything the gate requires at the moment of applying; a refusal is audited and changes nothing."""
    refused = _event(view, actor, "apply.refused", view.state)
    on, why = gate.kill_switch()
    if on:
        raise gate.refuse(refused, f"{why}; no fix is applied until it is turned off")
    if view.state is not State.APPROVED:
        raise gate.refuse(refused, f"proposal {view.id} is {view.state.value}, not approved"
                          + (f" ({view.approvals} of {view.required} approvals)" if view.state is State.PROPOSED
                             else ""))
    if view.expired(gate.clock()):
        with gate.store.write() as conn:
            expire_if_due(gate, conn, view)
        raise gate.refuse(refused, f"proposal {view.id} expired at {view.expires_at:%H:%M:%S} UTC before it was "
                                   "applied; propose the fix again")
    risk = risk_of(view)
    may = (actor == view.requester or bool(gate.policy.may_approve(actor, "", risk, gate.groups_of))
           or actor in view.approvers)
    if not may:
        raise gate.refuse(refused, f"{actor} may not apply proposal {view.id}: only its requester or an "
                                   "approver of its tier may")
    scope = gate.policy.scope_allowed(view.cluster, view.namespaces)
    if not scope:
        raise gate.refuse(refused, scope.reason)
    if not view.break_glass:
        _check_approvals(gate, view, actor, refused)
    if view.kind == "undo" and view.undoes:
        original = gate.proposal(view.undoes)
        if original.state not in UNDOABLE:
            raise gate.refuse(refused, f"proposal {original.id} is {original.state.value}: there is nothing to undo")


def _check_approvals(gate: Gate, view: ProposalView, actor: str, refused: chain.Event) -> None:
    """The approvals must still count under the policy as it is now, and be for this exact plan."""
    with gate.store.read() as conn:
        rows = conn.execute(select(Decision.actor, Decision.plan_hash).where(
            Decision.proposal_id == view.id, Decision.decision == "approve")).all()
    tier = gate.policy.tier(risk_of(view))
    valid = [r.actor for r in rows if r.plan_hash == view.plan_hash
             and gate.policy.may_approve(r.actor, view.requester, risk_of(view), gate.groups_of)]
    needed = tier.required if tier else 1
    if tier is None or len(valid) < needed:
        raise gate.refuse(refused, f"proposal {view.id} has {len(valid)} approval(s) valid under the current "
                                   f"policy ({gate.policy.source}); {needed} needed")


def apply_proposal(gate: Gate, proposal_id: str, actor: str, connect: Connect, *,
                   recheck: Callable[[], Report] | None = None, verify_budget: float = 120.0,
                   lease: timedelta = timedelta(minutes=10), dry_run_only: bool = False) -> ApplyResult:
    view = gate.proposal(proposal_id)
    if dry_run_only:
        # Changes nothing, so it needs no approval: approvers may want to see it before they decide.
        if view.kind == "undo":
            raise InputError("an undo has no dry-run: it puts back the recorded before-state of each step, and "
                             "leaves alone any target changed since")
        plan = frozen_plan(view)
        with connect(plan) as executor:
            result = ApplyResult(view, executor.drift(plan), executor.dry_run(plan))
        with gate.store.write() as conn:
            gate.audit(conn, _event(view, actor, "dry-run", view.state,
                                    drift=[f"{d.target}: {d.what}" for d in result.drift],
                                    results=[f"{d.outcome}: {d.title}" for d in result.dry_run]))
        return result
    check_may_apply(gate, view, actor)
    try:
        plan = frozen_plan(view)
    except InputError as exc:
        raise gate.refuse(_event(view, actor, "apply.refused", view.state), str(exc)) from exc
    owner = lease_owner(actor)
    with gate.store.write() as conn:
        now = gate.clock()
        claimed = transition(conn, view.id, State.APPLYING, now, frm=(State.APPROVED,), unexpired_at=now,
                             message=f"being applied by {actor}", lease_owner=owner, lease_until=now + lease)
        if claimed:
            gate.audit(conn, _event(view, actor, "apply.started", State.APPLYING, plan_hash=view.plan_hash,
                                    kind=view.kind))
    if not claimed:
        # Someone else claimed it between our checks and the UPDATE (or it expired): tell, change nothing.
        check_may_apply(gate, gate.proposal(view.id), actor)
        raise Refused(f"proposal {view.id} is already being applied")
    journal = SqlJournal(gate, view, "apply" if view.kind == "fix" else "undo", actor, owner, lease)
    try:
        with connect(plan) as executor:
            if view.kind == "undo":
                return _undo(gate, view, actor, executor, journal)
            return _apply(gate, view, actor, plan, executor, journal, recheck, verify_budget)
    except (KedaAuthError, ExecuteError, OSError) as exc:
        # Connecting failed, or a journal write did: the step records say what, if anything, changed.
        _finish(gate, view, actor, State.FAILED, f"stopped: {exc}")
        raise Refused(f"proposal {view.id} stopped: {exc}") from exc


def _finish(gate: Gate, view: ProposalView, actor: str, state: State, message: str, **detail: object) -> bool:
    with gate.store.write() as conn:
        moved = transition(conn, view.id, state, gate.clock(), frm=(State.APPLYING,), message=redact(message),
                           lease_owner=None, lease_until=None)
        if moved:
            gate.audit(conn, _event(view, actor, f"apply.{state.value}", state, message=message, **detail))
    return moved


def _apply(gate: Gate, view: ProposalView, actor: str, plan: Plan, executor: Executor, journal: SqlJournal,
           recheck: Callable[[], Report] | None, verify_budget: float) -> ApplyResult:
    """The executor refuses on drift and on a refused dry-run before any change; each outcome is recorded."""
    journal.open(Execution.start(plan))
    execution = executor.apply(plan, journal)
    result = ApplyResult(view, execution=execution)
    if execution.outcome == "refused":
        _finish(gate, view, actor, State.FAILED, "refused before any change: " + "; ".join(execution.problems),
                problems=execution.problems)
    elif execution.outcome != "applied":
        _finish(gate, view, actor, State.FAILED, "; ".join(execution.problems) or execution.outcome,
                problems=execution.problems)
    else:
        skipped = all(r.status.value == "skipped" for r in execution.steps)
        _finish(gate, view, actor, State.APPLIED, "already in place: nothing changed" if skipped
                else f"applied by {actor}")
        if recheck is not None:
            try:
                result.verification = verify(executor, execution, recheck, budget=verify_budget)
            except (KedaAuthError, OSError) as exc:
                _note(gate, view, actor, f"applied; could not verify: {exc}")
            else:
                record_verification(gate, view, actor, result.verification)
    result.proposal = gate.proposal(view.id)
    return result


def _note(gate: Gate, view: ProposalView, actor: str, message: str) -> None:
    with gate.store.write() as conn:
        conn.execute(update(Proposal).where(Proposal.id == view.id).values(message=redact(message)))
        gate.audit(conn, _event(view, actor, "verify.error", gate.proposal_state(conn, view.id), message=message))


def record_verification(gate: Gate, view: ProposalView, actor: str, verification: Verification) -> None:
    outcome = verification.outcome
    detail = {"outcome": outcome, "seconds": round(verification.seconds, 1),
              "steps": [vars(c) for c in verification.steps], "findings": [vars(c) for c in verification.findings]}
    to = {VERIFIED: State.VERIFIED, FAILED: State.FAILED}.get(outcome)
    with gate.store.write() as conn:
        now = gate.clock()
        conn.execute(insert(VerificationRow).values(proposal_id=view.id, at=now, outcome=outcome,
                                                 detail=redact_for_store(detail)))
        if to is not None:
            transition(conn, view.id, to, now, frm=(State.APPLIED,),
                       message="verified: the findings are gone" if to is State.VERIFIED
                       else "applied, but verification failed: the findings are still there")
        gate.audit(conn, _event(view, actor, "verify", to or State.APPLIED, **detail))


def reverify(gate: Gate, proposal_id: str, actor: str, connect: Connect, recheck: Callable[[], Report],
             budget: float = 0.0) -> Verification:
    """Verify an applied proposal again (after propagation): applied → verified, or still not yet."""
    from bot.approval.proposals import applied_execution

    view = gate.proposal(proposal_id)
    if view.state is not State.APPLIED:
        raise InputError(f"proposal {proposal_id} is {view.state.value}; only an applied one awaits verification")
    with gate.store.read() as conn:
        execution = applied_execution(conn, view)
    with connect(execution.plan) as executor:
        verification = verify(executor, execution, recheck, budget=budget)
    record_verification(gate, view, actor, verification)
    return verification


def _undo(gate: Gate, view: ProposalView, actor: str, executor: Executor, journal: SqlJournal) -> ApplyResult:
    execution = Execution.from_json(view.payload)
    undone = executor.undo(execution, journal)
    result = ApplyResult(view, execution=undone)
    if undone.outcome != "undone":
        _finish(gate, view, actor, State.FAILED, "partly undone: " + "; ".join(undone.problems))
    elif _finish(gate, view, actor, State.APPLIED, f"undone by {actor}"):
        with gate.store.write() as conn:
            original = view.undoes
            assert original is not None
            if transition(conn, original, State.UNDONE, gate.clock(), frm=UNDOABLE,
                          message=f"undone by {actor} (proposal {view.id})"):
                gate.audit(conn, chain.Event(actor, "proposal.undone", original, cluster=view.cluster,
                                             findings=view.findings, state=State.UNDONE.value,
                                             break_glass=view.break_glass, detail={"undo_proposal": view.id}))
    result.proposal = gate.proposal(view.id)
    return result
