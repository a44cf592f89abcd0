"""Asking for a change: a frozen plan (or the undo of an applied one) becomes a proposal, checked against the
policy before anyone is asked to approve it. Break-glass is a proposal approved by its own requester's
stated reason, flagged for every later review."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import insert, select

from bot.approval.gate import Gate, Origin, ProposalView, load
from bot.approval.policy import tier_name
from bot.approval.states import UNDOABLE, State
from bot.errors import InputError
from bot.execute.records import Execution, Status, StepRecord
from bot.plan.plan import Plan, plan_from_json
from bot.redact import redact, redact_for_store
from bot.store import chain
from bot.store.schema import Proposal, StepExecution
from remediations.catalogue import Risk
from remediations.model import KubeEdit, Restart


def plan_namespaces(plan: Plan) -> tuple[str, ...]:
    """The Kubernetes namespaces a plan writes to (what the namespace allowlist is checked against)."""
    return tuple(sorted({s.action.target.namespace for s in plan.steps if isinstance(s.action, KubeEdit | Restart)
                         and s.action.target.namespace}))


def new_id() -> str:
    return "p" + secrets.token_hex(10)  # 80 random bits: the id alone travels in Slack buttons


def _allowed(gate: Gate, plan: Plan, requester: str, origin: Origin, event: chain.Event) -> None:
    """Refuse (audited) what the policy would never let through, before anyone is asked to approve it."""
    policy = gate.policy
    checks = [policy.channel_allowed(origin.channel or "") if origin.via == "slack" else policy.cli_allowed(),
              policy.scope_allowed(plan.cluster, plan_namespaces(plan))]
    tier = policy.tier(plan.risk)
    if tier is None:
        raise gate.refuse(event, f"no one may approve {tier_name(plan.risk)} plans under {policy.source}: add "
                                 f"tiers.{tier_name(plan.risk)} with its approvers")
    for verdict in checks:
        if not verdict:
            raise gate.refuse(event, verdict.reason)


def _may_break_glass(gate: Gate, plan: Plan, requester: str, reason: str | None, event: chain.Event) -> None:
    """Break-glass skips the second pair of eyes, not the first: only someone who could approve this plan may
    use it."""
    if reason is None:
        return
    verdict = gate.policy.may_approve(requester, "", plan.risk, gate.groups_of)
    if not verdict:
        raise gate.refuse(event, f"break-glass refused: {verdict.reason}")


def propose(gate: Gate, plan: Plan, requester: str, origin: Origin, *, check_run_id: str | None = None,
            break_glass_reason: str | None = None) -> ProposalView:
    if not plan.steps:
        raise InputError("nothing to approve: every finding in this plan needs a person (see its manual procedures)")
    findings = [f.id for f in plan.findings]
    refused = chain.Event(requester, "proposal.refused", cluster=plan.cluster, findings=findings,
                          break_glass=break_glass_reason is not None,
                          detail={"plan_hash": plan.hash, "origin": origin.to_json()})
    _allowed(gate, plan, requester, origin, refused)
    _may_break_glass(gate, plan, requester, break_glass_reason, refused)
    return _insert(gate, kind="fix", payload=plan.to_json(), plan_hash=plan.hash, risk=plan.risk,
                   cluster=plan.cluster, namespaces=plan_namespaces(plan), findings=findings, requester=requester,
                   origin=origin, check_run_id=check_run_id, break_glass_reason=break_glass_reason,
                   detail={"steps": [s.title for s in plan.steps], "commands": [s.command for s in plan.steps]})


def propose_undo(gate: Gate, proposal_id: str, requester: str, origin: Origin, *,
                 break_glass_reason: str | None = None) -> ProposalView:
    """An undo is a change like any other: it is proposed, approved under the same tier, then applied."""
    with gate.store.read() as conn:
        original = load(conn, proposal_id)
        execution = applied_execution(conn, original)
    if original.kind != "fix" or original.state not in UNDOABLE:
        raise InputError(f"proposal {proposal_id} is {original.state}: only an applied, verified or failed fix "
                         "can be undone")
    if not execution.changed:
        raise InputError(f"proposal {proposal_id} changed nothing: there is nothing to undo")
    plan = execution.plan
    refused = chain.Event(requester, "proposal.refused", proposal_id, cluster=plan.cluster,
                          findings=original.findings, break_glass=break_glass_reason is not None,
                          detail={"undo_of": proposal_id, "origin": origin.to_json()})
    _allowed(gate, plan, requester, origin, refused)
    _may_break_glass(gate, plan, requester, break_glass_reason, refused)
    payload = redact_for_store(execution.to_json())
    return _insert(gate, kind="undo", payload=payload, plan_hash=payload_hash(payload), risk=plan.risk,
                   cluster=plan.cluster, namespaces=plan_namespaces(plan), findings=list(original.findings),
                   requester=requester, origin=origin, undoes=proposal_id, break_glass_reason=break_glass_reason,
                   detail={"undo_of": proposal_id, "steps": [f"undo: {r.title}" for r in execution.changed]})


def payload_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(chain.canonical(payload).encode()).hexdigest()


def frozen_plan(view: ProposalView) -> Plan:
    """The plan exactly as approved: a stored plan that no longer matches its hash is refused."""
    plan = plan_from_json(view.payload["plan"] if view.kind == "undo" else view.payload)
    if view.kind == "fix" and plan.hash != view.plan_hash:
        raise InputError(f"proposal {view.id}'s stored plan does not match the hash that was approved")
    if view.kind == "undo" and payload_hash(view.payload) != view.plan_hash:
        raise InputError(f"proposal {view.id}'s stored undo does not match the hash that was approved")
    return plan


def _insert(gate: Gate, *, kind: str, payload: dict[str, Any], plan_hash: str, risk: Risk, cluster: str | None,
            namespaces: tuple[str, ...], findings: list[str], requester: str, origin: Origin,
            check_run_id: str | None = None, undoes: str | None = None, break_glass_reason: str | None = None,
            detail: dict[str, Any]) -> ProposalView:
    now = gate.clock()
    tier = gate.policy.tier(risk)
    assert tier is not None
    state = State.APPROVED if break_glass_reason else State.PROPOSED
    message = (f"break-glass by {requester}: {redact(break_glass_reason)}" if break_glass_reason
               else f"waiting for {tier.required} approval{'s' if tier.required > 1 else ''}")
    proposal_id = new_id()
    with gate.store.write() as conn:
        conn.execute(insert(Proposal).values(
            id=proposal_id, kind=kind, undoes=undoes, payload=redact_for_store(payload), plan_hash=plan_hash,
            risk=tier_name(risk), cluster=cluster, namespaces=list(namespaces), findings=chain.joined(findings),
            requester=requester, origin=redact_for_store(origin.to_json()), check_run_id=check_run_id,
            created_at=now, expires_at=now + gate.policy.expiry(risk), state=state.value, state_changed_at=now,
            message=message, approvals=0, required=tier.required, break_glass=break_glass_reason is not None,
            break_glass_reason=redact(break_glass_reason) if break_glass_reason else None))
        gate.audit(conn, chain.Event(requester, "proposal.created", proposal_id, check_run_id, cluster, findings,
                                     State.PROPOSED.value, break_glass_reason is not None, {
                                         "kind": kind, "plan_hash": plan_hash, "risk": tier_name(risk),
                                         "origin": origin.to_json(), "undoes": undoes, **detail}))
        if break_glass_reason:
            gate.audit(conn, chain.Event(requester, "proposal.break-glass", proposal_id, check_run_id, cluster,
                                         findings, state.value, True, {"reason": break_glass_reason}))
        return load(conn, proposal_id)


def applied_execution(conn: Any, view: ProposalView) -> Execution:
    """The apply of a fix proposal, rebuilt from its step records (what an undo puts back)."""
    plan = plan_from_json(view.payload) if view.kind == "fix" else plan_from_json(view.payload["plan"])
    rows = conn.execute(select(StepExecution).where(StepExecution.proposal_id == view.id,
                                                    StepExecution.run == "apply")
                        .order_by(StepExecution.position)).mappings().all()
    records = [StepRecord(r["step_key"], r["title"], r["target"], Status(r["status"]), r["message"], r["before"],
                          r["after"], _iso(r["started_at"]), _iso(r["finished_at"]), r["sent"]) for r in rows]
    return Execution(plan, "apply", records, outcome=view.state.value)


def _iso(at: Any) -> str | None:
    return at.isoformat(timespec="milliseconds") + "Z" if at is not None else None
