"""Approve and reject. Each decision is authorised by the policy, bound to the plan hash the approver saw,
and counted by one conditional UPDATE: of fifty simultaneous clicks, exactly the one that reaches the
required count approves, and the rest are told what happened. Expiry is enforced here and again at apply."""

from __future__ import annotations

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bot.approval.gate import Gate, ProposalView, load
from bot.approval.policy import Verdict, tier_name
from bot.approval.states import State, transition
from bot.errors import Refused
from bot.redact import redact
from bot.store import chain
from bot.store.schema import Decision, Proposal
from remediations.catalogue import Risk

_RISKS = {tier_name(risk): risk for risk in Risk}  # a proposal stores its tier by the policy's name for it


def risk_of(view: ProposalView) -> Risk:
    return _RISKS[view.risk]


def _event(view: ProposalView, actor: str, action: str, state: State | None = None, **detail: object) -> chain.Event:
    return chain.Event(actor, action, view.id, cluster=view.cluster, findings=view.findings,
                       state=(state or view.state).value, break_glass=view.break_glass, detail=detail)


def _not_open(gate: Gate, view: ProposalView, actor: str, what: str) -> Refused:
    if view.state is State.APPROVED:
        why = f"it is already approved (by {', '.join(view.approvers) or 'break-glass'})"
    elif view.state is State.REJECTED:
        why = "it was rejected" + (f" by {view.rejected_by[-1][0]}" if view.rejected_by else "")
    else:
        why = f"it is {view.state.value}"
    return gate.refuse(_event(view, actor, f"{what}.refused"), f"cannot {what} proposal {view.id}: {why}")


def expire_if_due(gate: Gate, conn: Connection, view: ProposalView) -> bool:
    """Mark a waiting proposal expired once its time is up (one conditional UPDATE; audited once)."""
    now = gate.clock()
    if not view.expired(now):
        return False
    message = f"expired at {view.expires_at:%Y-%m-%d %H:%M:%S} UTC without being applied"
    if transition(conn, view.id, State.EXPIRED, now, frm=(State.PROPOSED, State.APPROVED), message=message):
        gate.audit(conn, _event(view, "keda-auth", "proposal.expired", State.EXPIRED, expired_at=str(view.expires_at)))
    return True


def _expired(gate: Gate, view: ProposalView, actor: str, what: str) -> Refused:
    with gate.store.write() as conn:
        expire_if_due(gate, conn, view)
    return gate.refuse(_event(view, actor, f"{what}.refused", State.EXPIRED),
                       f"proposal {view.id} expired at {view.expires_at:%H:%M:%S} UTC; propose the fix again")


def _insert_decision(conn: Connection, view: ProposalView, actor: str, decision: str, comment: str,
                     gate: Gate) -> bool:
    """False when this actor already decided on this proposal (a double click, or a second replica)."""
    values = {"proposal_id": view.id, "actor": actor, "decision": decision, "comment": redact(comment),
              "plan_hash": view.plan_hash, "at": gate.clock()}
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(Decision).values(**values).on_conflict_do_nothing(
        index_elements=["proposal_id", "actor", "decision"]).returning(Decision.id)
    # A returned row, not rowcount: with RETURNING, psycopg reports no rowcount for the insert.
    return conn.execute(statement).first() is not None


def approve(gate: Gate, proposal_id: str, actor: str, comment: str = "") -> ProposalView:
    view = gate.proposal(proposal_id)
    if view.state is not State.PROPOSED:
        raise _not_open(gate, view, actor, "approve")
    if view.expired(gate.clock()):
        raise _expired(gate, view, actor, "approve")
    verdict: Verdict = gate.policy.may_approve(actor, view.requester, risk_of(view), gate.groups_of)
    if not verdict:
        raise gate.refuse(_event(view, actor, "approve.refused"), verdict.reason)
    try:
        with gate.store.write() as conn:
            _count_approval(gate, conn, view, actor, comment)
    except _DuplicateError:
        raise gate.refuse(_event(view, actor, "approve.refused"),
                          f"you already approved proposal {view.id}") from None
    except _LostError:
        lost = gate.proposal(view.id)
        raise (_expired(gate, lost, actor, "approve") if lost.expired(gate.clock())
               else _not_open(gate, lost, actor, "approve")) from None
    return gate.proposal(view.id)


class _LostError(Exception):
    """Another decision or the clock got there first: this one is rolled back."""


class _DuplicateError(Exception):
    """The same person approving twice (a double click, or the same click on two replicas)."""


def _count_approval(gate: Gate, conn: Connection, view: ProposalView, actor: str, comment: str) -> None:
    if not _insert_decision(conn, view, actor, "approve", comment, gate):
        raise _DuplicateError
    now = gate.clock()
    # The row lock this UPDATE takes orders concurrent approvers; the state and expiry conditions make a late
    # one change nothing.
    counted = conn.execute(update(Proposal).where(Proposal.id == view.id, Proposal.state == State.PROPOSED.value,
                                                  Proposal.expires_at > now)
                           .values(approvals=Proposal.approvals + 1)).rowcount == 1
    if not counted:
        raise _LostError
    count = conn.execute(select(Proposal.approvals).where(Proposal.id == view.id)).scalar_one()
    after = State.APPROVED if count >= view.required else State.PROPOSED
    if after is State.APPROVED:
        transition(conn, view.id, State.APPROVED, now, frm=(State.PROPOSED,), unexpired_at=now,
                   message=f"approved by {actor}")
    else:
        conn.execute(update(Proposal).where(Proposal.id == view.id).values(
            message=f"{count} of {view.required} approvals (latest: {actor})"))
    gate.audit(conn, _event(view, actor, "proposal.approved" if after is State.APPROVED else "proposal.approval",
                            after, comment=comment, approvals=f"{count} of {view.required}",
                            plan_hash=view.plan_hash))


def reject(gate: Gate, proposal_id: str, actor: str, reason: str) -> ProposalView:
    view = gate.proposal(proposal_id)
    if view.state not in (State.PROPOSED, State.APPROVED):
        raise _not_open(gate, view, actor, "reject")
    if view.expired(gate.clock()):
        raise _expired(gate, view, actor, "reject")
    verdict = gate.policy.may_reject(actor, view.requester, risk_of(view), gate.groups_of)
    if not verdict:
        raise gate.refuse(_event(view, actor, "reject.refused"), verdict.reason)
    with gate.store.write() as conn:
        now = gate.clock()
        won = transition(conn, view.id, State.REJECTED, now, frm=(State.PROPOSED, State.APPROVED),
                         message=f"rejected by {actor}: {redact(reason)}" if reason else f"rejected by {actor}")
        if won:
            _insert_decision(conn, view, actor, "reject", reason, gate)
            gate.audit(conn, _event(view, actor, "proposal.rejected", State.REJECTED, reason=reason))
    if not won:
        raise _not_open(gate, gate.proposal(view.id), actor, "reject")
    return gate.proposal(view.id)


def expire_due(gate: Gate) -> list[str]:
    """Expire every waiting proposal whose time is up (a sweep for `status` views; apply checks on its own)."""
    now = gate.clock()
    with gate.store.read() as conn:
        due = conn.execute(select(Proposal.id).where(Proposal.state.in_((State.PROPOSED.value, State.APPROVED.value)),
                                                     Proposal.expires_at <= now)).scalars().all()
    expired = []
    for proposal_id in due:
        with gate.store.write() as conn:
            if expire_if_due(gate, conn, load(conn, proposal_id)):
                expired.append(proposal_id)
    return expired
