"""The approval gate, end to end on a live chain (the simulators) and a real store (SQLite and PostgreSQL):
nothing is applied without an authorised approval of exactly the approved plan, fifty simultaneous clicks
apply once, every refusal is audited and changes nothing, and an apply that died is reconciled, never redone.

The live chain is shared by the tests of this module; each test that needs it asks for a freshly broken plan
(KEDA's ServiceAccount lost its client-id annotation: annotate it, then restart the operator), and counts the
real writes the Kubernetes API server received.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.approval import decisions, proposals, runner
from bot.approval.gate import Gate, Origin, ProposalView
from bot.approval.kill_switch import set_kill_switch
from bot.approval.reconcile import reconcile
from bot.approval.states import State
from bot.errors import Refused
from bot.execute.executor import Executor
from bot.execute.outcomes import Done, RunContext
from bot.plan.plan import Plan, plan_hash
from bot.store.clock import utcnow
from bot.store.db import Store
from bot.store.schema import Decision, Proposal
from remediations.model import Step, step_from
from tests.kit.gate_kit import (
    LiveChain,
    actions,
    audit_events,
    bundle_plan,
    migrated_store,
    policy,
    step_rows,
    verified_chain,
)
from tests.kit.scenario import scenario

REQUESTER = "U0REQ1"
ALICE, BOB, CAROL, MALLORY = "U0AAA1", "U0BBB2", "U0CCC3", "U0ZZZ9"
CLI = Origin("cli", user="req", host="laptop")
BOTH_WRITES = ["PATCH ServiceAccount", "PATCH Deployment"]  # the annotation, then the restart


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveChain]:
    with scenario(tmp_path_factory.mktemp("chain")) as sc:
        yield LiveChain(sc)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with migrated_store(database_url) as opened:
        yield opened


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def refused_reason(store: Store, proposal_id: str | None, action: str) -> list[tuple[str, str]]:
    """(actor, reason) of each `action` event (e.g. approve.refused)."""
    return [(e["actor"], json.loads(e["detail"])["reason"]) for e in audit_events(store, proposal_id)
            if e["action"] == action]


def decision_count(store: Store, proposal_id: str) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(Decision)
                                .where(Decision.proposal_id == proposal_id)).scalar_one())


def proposal_count(store: Store) -> int:
    with store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(Proposal)).scalar_one())


# -- fifty clicks at once


def test_fifty_concurrent_approvers_and_appliers_apply_exactly_once(store: Store, live: LiveChain) -> None:
    approvers = [f"U0AP{i:02d}" for i in range(25)]
    gate = Gate(store, policy(approvers))
    plan = live.broken_plan()
    before = live.state(plan)
    proposal_id = proposals.propose(gate, plan, REQUESTER, CLI).id
    live.start_counting()
    barrier = threading.Barrier(50)
    deciding = set(approvers)  # approvers whose click has not been answered yet
    lock = threading.Lock()

    def approve(actor: str) -> ProposalView | Refused:
        barrier.wait()
        try:
            return decisions.approve(gate, proposal_id, actor, "lgtm")
        except Refused as exc:
            return exc
        finally:
            with lock:
                deciding.discard(actor)

    def apply(actor: str) -> runner.ApplyResult | Refused:
        barrier.wait()
        deadline = time.monotonic() + 120
        while True:
            with lock:
                waiting = bool(deciding)  # read before the attempt: an approval may land during it
            try:
                return runner.apply_proposal(gate, proposal_id, actor, live.connect)
            except Refused as exc:
                if f"{proposal_id} is proposed, not approved" not in str(exc) or not waiting:
                    return exc  # definitive: someone else applied it, or nobody approved it
            assert time.monotonic() < deadline, "the approvers never finished"
            time.sleep(0.01)  # not approved yet: click again

    with ThreadPoolExecutor(max_workers=50) as pool:
        futures = [pool.submit(approve, actor) for actor in approvers] + [
            pool.submit(apply, actor) for actor in approvers]
        outcomes = [f.result(timeout=300) for f in futures]

    applied = [o for o in outcomes if isinstance(o, runner.ApplyResult)]
    approved = [o for o in outcomes if isinstance(o, ProposalView)]
    refused = [o for o in outcomes if isinstance(o, Refused)]
    assert len(applied) == 1 and len(approved) == 1 and len(refused) == 48, outcomes
    for exc in refused:
        assert proposal_id in str(exc) and len(str(exc).split()) >= 5, f"not a sentence: {exc}"
    assert applied[0].execution is not None and applied[0].execution.outcome == "applied"

    view = gate.proposal(proposal_id)
    assert view.state is State.APPLIED, view.message
    assert view.approvals == 1 and len(view.approvers) == 1
    trail = actions(store, proposal_id)
    assert trail.count("apply.started") == 1
    assert trail.count("proposal.approved") == 1
    assert trail.count("apply.applied") == 1
    rows = step_rows(store, proposal_id)
    assert [(r["run"], r["position"], r["status"]) for r in rows] == [("apply", 0, "applied"), ("apply", 1, "applied")]
    assert live.writes() == BOTH_WRITES, "the cluster was not changed exactly once"
    assert live.client_id_annotated() and live.state(plan) != before
    report = verified_chain(store)
    assert report.ok, report.broken
    assert report.events == report.head_seq == len(audit_events(store))


def test_the_same_click_twice_counts_once(store: Store) -> None:
    gate = Gate(store, policy(required=2))
    proposal_id = proposals.propose(gate, bundle_plan(), REQUESTER, CLI).id
    barrier = threading.Barrier(2)

    def click() -> ProposalView | Refused:
        barrier.wait()
        try:
            return decisions.approve(gate, proposal_id, ALICE)
        except Refused as exc:
            return exc

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = [f.result(timeout=60) for f in [pool.submit(click), pool.submit(click)]]

    refused = [o for o in outcomes if isinstance(o, Refused)]
    assert len(refused) == 1 and f"you already approved proposal {proposal_id}" in str(refused[0])
    view = gate.proposal(proposal_id)
    assert (view.state, view.approvals, view.approvers) == (State.PROPOSED, 1, (ALICE,))
    assert "1 of 2 approvals" in view.message
    assert decision_count(store, proposal_id) == 1
    assert actions(store, proposal_id).count("proposal.approval") == 1
    assert verified_chain(store).ok


# -- who may approve


def test_the_requester_may_not_approve_their_own_fix_unless_the_policy_says_so(store: Store) -> None:
    gate = Gate(store, policy([ALICE, BOB]))
    proposal_id = proposals.propose(gate, bundle_plan(), ALICE, CLI).id
    with pytest.raises(Refused, match="you requested this fix; a different approver is required"):
        decisions.approve(gate, proposal_id, ALICE)
    view = gate.proposal(proposal_id)
    assert (view.state, view.approvals) == (State.PROPOSED, 0)
    assert refused_reason(store, proposal_id, "approve.refused") == [
        (ALICE, "you requested this fix; a different approver is required")]

    lenient = Gate(store, policy([ALICE, BOB], requester_may_approve=True))
    own = proposals.propose(lenient, bundle_plan(), ALICE, CLI).id
    assert decisions.approve(lenient, own, ALICE, "mine, allowed").state is State.APPROVED
    assert gate.proposal(own).approvers == (ALICE,)


def test_unauthorised_approve_and_reject_are_refused_audited_and_change_nothing(store: Store) -> None:
    gate = Gate(store, policy([ALICE, BOB]))
    proposal_id = proposals.propose(gate, bundle_plan(), REQUESTER, CLI).id
    before = gate.proposal(proposal_id)

    with pytest.raises(Refused, match=f"{MALLORY} is not an approver for patch plans"):
        decisions.approve(gate, proposal_id, MALLORY, "looks fine to me")
    with pytest.raises(Refused, match=f"{MALLORY} is not an approver for patch plans"):
        decisions.reject(gate, proposal_id, MALLORY, "no")

    assert gate.proposal(proposal_id) == before
    assert decision_count(store, proposal_id) == 0
    for action in ("approve.refused", "reject.refused"):
        ((actor, reason),) = refused_reason(store, proposal_id, action)
        assert actor == MALLORY and "is not an approver for patch plans" in reason
    assert actions(store, proposal_id) == ["proposal.created", "approve.refused", "reject.refused"]


def test_two_required_approvals_leave_it_proposed_after_the_first(store: Store) -> None:
    gate = Gate(store, policy([ALICE, BOB], required=2))
    proposal_id = proposals.propose(gate, bundle_plan(), REQUESTER, CLI).id
    first = decisions.approve(gate, proposal_id, ALICE)
    assert (first.state, first.approvals) == (State.PROPOSED, 1)
    assert "1 of 2" in first.message
    second = decisions.approve(gate, proposal_id, BOB)
    assert (second.state, second.approvals, second.approvers) == (State.APPROVED, 2, (ALICE, BOB))
    assert actions(store, proposal_id) == ["proposal.created", "proposal.approval", "proposal.approved"]


# -- expiry


def test_an_expired_proposal_cannot_be_approved_and_expires_once(store: Store) -> None:
    clock = FakeClock(utcnow())
    gate = Gate(store, policy(), clock=clock)
    proposal_id = proposals.propose(gate, bundle_plan(), REQUESTER, CLI).id
    clock.advance(minutes=31)
    with pytest.raises(Refused, match=r"expired .*propose the fix again"):
        decisions.approve(gate, proposal_id, ALICE)
    assert gate.proposal(proposal_id).state is State.EXPIRED
    with pytest.raises(Refused, match="it is expired"):
        decisions.approve(gate, proposal_id, BOB)
    assert actions(store, proposal_id).count("proposal.expired") == 1
    assert decision_count(store, proposal_id) == 0


def test_an_approved_but_expired_proposal_is_never_applied(store: Store, live: LiveChain) -> None:
    clock = FakeClock(utcnow())
    gate = Gate(store, policy(), clock=clock)
    plan = live.broken_plan()
    proposal_id = proposals.propose(gate, plan, REQUESTER, CLI).id
    decisions.approve(gate, proposal_id, ALICE)
    before = live.state(plan)
    live.start_counting()
    clock.advance(minutes=30)  # expires_at is not "before"
    with pytest.raises(Refused, match=r"expired .* before it was applied; propose the fix again"):
        runner.apply_proposal(gate, proposal_id, REQUESTER, live.connect)
    assert gate.proposal(proposal_id).state is State.EXPIRED
    assert "apply.started" not in actions(store, proposal_id)
    assert actions(store, proposal_id).count("proposal.expired") == 1
    assert live.writes() == [] and live.state(plan) == before


def test_expire_due_sweeps_every_waiting_proposal_once(store: Store) -> None:
    clock = FakeClock(utcnow())
    gate = Gate(store, policy(), clock=clock)
    waiting = proposals.propose(gate, bundle_plan(), REQUESTER, CLI).id
    approved = proposals.propose(gate, bundle_plan(), REQUESTER, CLI).id
    decisions.approve(gate, approved, ALICE)
    clock.advance(minutes=29)
    assert decisions.expire_due(gate) == []
    fresh = proposals.propose(gate, bundle_plan(), REQUESTER, CLI).id
    clock.advance(minutes=2)
    assert sorted(decisions.expire_due(gate)) == sorted([waiting, approved])
    assert decisions.expire_due(gate) == []
    assert [gate.proposal(p).state for p in (waiting, approved, fresh)] == [State.EXPIRED, State.EXPIRED,
                                                                           State.PROPOSED]
    assert actions(store).count("proposal.expired") == 2


# -- deny paths never apply


def test_a_rejected_proposal_is_never_applied(store: Store, live: LiveChain) -> None:
    gate = Gate(store, policy())
    plan = live.broken_plan()
    proposal_id = proposals.propose(gate, plan, REQUESTER, CLI).id
    rejected = decisions.reject(gate, proposal_id, BOB, "not during the release freeze")
    assert rejected.state is State.REJECTED and "not during the release freeze" in rejected.message
    before = live.state(plan)
    live.start_counting()
    with pytest.raises(Refused, match=f"proposal {proposal_id} is rejected, not approved"):
        runner.apply_proposal(gate, proposal_id, REQUESTER, live.connect)
    with pytest.raises(Refused, match=f"it was rejected by {BOB}"):
        decisions.approve(gate, proposal_id, ALICE)
    assert live.writes() == [] and live.state(plan) == before
    assert gate.proposal(proposal_id).state is State.REJECTED


def test_the_policy_kill_switch_stops_apply_but_not_approval(store: Store, live: LiveChain) -> None:
    gate = Gate(store, policy(kill_switch=True))
    plan = live.broken_plan()
    proposal_id = proposals.propose(gate, plan, REQUESTER, CLI).id
    assert decisions.approve(gate, proposal_id, ALICE).state is State.APPROVED
    before = live.state(plan)
    live.start_counting()
    with pytest.raises(Refused, match=r"the kill switch is on in policy\.yaml; no fix is applied"):
        runner.apply_proposal(gate, proposal_id, REQUESTER, live.connect)
    assert live.writes() == [] and live.state(plan) == before
    assert gate.proposal(proposal_id).state is State.APPROVED
    ((actor, reason),) = refused_reason(store, proposal_id, "apply.refused")
    assert actor == REQUESTER and "kill switch" in reason


def test_the_run_time_kill_switch_stops_apply_with_its_reason_until_it_is_off(store: Store, live: LiveChain) -> None:
    gate = Gate(store, policy())
    plan = live.broken_plan()
    set_kill_switch(gate, True, BOB, "INC-4711: freeze all changes")
    proposal_id = proposals.propose(gate, plan, REQUESTER, CLI).id
    assert decisions.approve(gate, proposal_id, ALICE).state is State.APPROVED
    before = live.state(plan)
    live.start_counting()
    with pytest.raises(Refused, match=f"turned on by {BOB} .*INC-4711: freeze all changes"):
        runner.apply_proposal(gate, proposal_id, REQUESTER, live.connect)
    assert live.writes() == [] and live.state(plan) == before

    set_kill_switch(gate, False, BOB, "INC-4711 resolved")
    result = runner.apply_proposal(gate, proposal_id, REQUESTER, live.connect)
    assert result.proposal.state is State.APPLIED
    assert live.writes() == BOTH_WRITES
    assert [a for a in actions(store) if a.startswith("kill-switch")] == ["kill-switch.on", "kill-switch.off"]


@pytest.mark.parametrize(("allow", "message"), [
    ({"clusters": ()}, "no cluster may be changed: allow.clusters is empty in policy.yaml"),
    ({"namespaces": ()}, "no namespace may be changed: allow.namespaces is empty in policy.yaml"),
    ({"clusters": ("aks-dev-*",)}, "cluster aks-prod-weu does not match allow.clusters (aks-dev-*)"),
    ({"namespaces": ("orders-*",)}, "namespace keda is outside allow.namespaces (orders-*)"),
], ids=["no-clusters", "no-namespaces", "other-cluster", "other-namespace"])
def test_the_allowlists_deny_at_propose(store: Store, allow: dict[str, Any], message: str) -> None:
    gate = Gate(store, policy(**allow))
    with pytest.raises(Refused) as refused:
        proposals.propose(gate, bundle_plan(), REQUESTER, CLI)
    assert message in str(refused.value)
    assert proposal_count(store) == 0
    assert [(a, message in r) for a, r in refused_reason(store, None, "proposal.refused")] == [(REQUESTER, True)]


def test_a_plan_whose_tier_is_not_in_the_policy_is_refused_at_propose(store: Store) -> None:
    gate = Gate(store, policy(tiers=("restart", "azure-rbac")))
    with pytest.raises(Refused, match=r"no one may approve patch plans under policy\.yaml: add tiers\.patch"):
        proposals.propose(gate, bundle_plan(), REQUESTER, CLI)
    assert proposal_count(store) == 0
    assert actions(store) == ["proposal.refused"]


# -- an approval binds the plan and the policy


def _edited_step(step: dict[str, Any]) -> dict[str, Any]:
    """The same step pointed at another identity: what someone with write access to the database might try."""
    edited = copy.deepcopy(step)
    other = "00000000-0000-0000-0000-00000000beef"
    edited["action"]["edits"][0]["value"] = other
    edited["command"] = edited["command"].rsplit("=", 1)[0] + "=" + other
    return edited


def _tamper_payload_only(payload: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    return {**payload, "steps": [_edited_step(payload["steps"][0]), *payload["steps"][1:]]}, None


def _tamper_with_payload_hash(payload: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    edited, _ = _tamper_payload_only(payload)
    edited["hash"] = plan_hash(tuple(step_from(s) for s in edited["steps"]))
    return edited, None


def _tamper_with_both_hashes(payload: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    edited, _ = _tamper_with_payload_hash(payload)
    return edited, edited["hash"]


def test_an_approval_binds_the_plan_hash_so_a_plan_edited_in_sql_is_never_applied(store: Store,
                                                                                   live: LiveChain) -> None:
    gate = Gate(store, policy())
    plan = live.broken_plan()
    before = live.state(plan)
    live.start_counting()
    tampers: list[tuple[Callable[[dict[str, Any]], tuple[dict[str, Any], str | None]], str]] = [
        (_tamper_payload_only, "do not match its hash"),
        (_tamper_with_payload_hash, "does not match the hash that was approved"),
        (_tamper_with_both_hashes, "0 approval(s) valid"),
    ]
    for tamper, message in tampers:
        proposal_id = proposals.propose(gate, plan, REQUESTER, CLI).id
        decisions.approve(gate, proposal_id, ALICE)
        payload, new_hash = tamper(gate.proposal(proposal_id).payload)
        with store.write() as conn:
            values: dict[str, Any] = {"payload": payload} | ({"plan_hash": new_hash} if new_hash else {})
            conn.execute(update(Proposal).where(Proposal.id == proposal_id).values(**values))
        with pytest.raises(Refused) as refused:
            runner.apply_proposal(gate, proposal_id, REQUESTER, live.connect)
        assert message in str(refused.value), tamper.__name__
        assert "apply.started" not in actions(store, proposal_id), tamper.__name__
    assert live.writes() == [] and live.state(plan) == before


def test_a_policy_change_that_removes_the_approver_blocks_the_apply(store: Store, live: LiveChain) -> None:
    gate = Gate(store, policy([ALICE, BOB]))
    plan = live.broken_plan()
    proposal_id = proposals.propose(gate, plan, REQUESTER, CLI).id
    decisions.approve(gate, proposal_id, BOB)
    before = live.state(plan)
    live.start_counting()
    tightened = Gate(store, policy([ALICE, CAROL], source="policy-v2.yaml"))
    with pytest.raises(Refused, match=r"has 0 approval\(s\) valid under the current policy \(policy-v2.yaml\); "
                                      "1 needed"):
        runner.apply_proposal(tightened, proposal_id, REQUESTER, live.connect)
    assert live.writes() == [] and live.state(plan) == before
    assert gate.proposal(proposal_id).state is State.APPROVED

    result = runner.apply_proposal(gate, proposal_id, REQUESTER, live.connect)  # the policy it was approved under
    assert result.proposal.state is State.APPLIED and live.writes() == BOTH_WRITES


# -- break-glass and undo


def test_break_glass_is_approved_at_once_applies_and_is_flagged(store: Store, live: LiveChain) -> None:
    gate = Gate(store, policy())
    plan = live.broken_plan()
    view = proposals.propose(gate, plan, ALICE, CLI, break_glass_reason="SEV1: orders backlog growing")
    assert (view.state, view.approvals, view.break_glass) == (State.APPROVED, 0, True)
    assert view.message == f"break-glass by {ALICE}: SEV1: orders backlog growing"
    live.start_counting()
    result = runner.apply_proposal(gate, view.id, ALICE, live.connect)
    assert result.proposal.state is State.APPLIED
    assert live.writes() == BOTH_WRITES and live.client_id_annotated()
    events = audit_events(store, view.id)
    assert [e["action"] for e in events] == ["proposal.created", "proposal.break-glass", "apply.started",
                                             "step.started", "step.finished", "step.started", "step.finished",
                                             "apply.applied"]
    assert all(e["break_glass"] for e in events), [(e["action"], e["break_glass"]) for e in events]
    (glass,) = [e for e in events if e["action"] == "proposal.break-glass"]
    assert json.loads(glass["detail"])["reason"] == "SEV1: orders backlog growing"


def never_connect(plan: Plan) -> AbstractContextManager[Executor]:
    raise AssertionError(f"the gate let plan {plan.id} through to the cluster")


def test_break_glass_needs_someone_who_could_approve_the_plan(store: Store) -> None:
    gate = Gate(store, policy([ALICE, BOB]))
    with pytest.raises(Refused, match=MALLORY):  # refused when proposed, or at the latest when applied
        view = proposals.propose(gate, bundle_plan(), MALLORY, CLI, break_glass_reason="trust me")
        runner.apply_proposal(gate, view.id, MALLORY, never_connect)


def test_undo_is_approval_gated_and_restores_the_before_state(store: Store, live: LiveChain) -> None:
    gate = Gate(store, policy())
    plan = live.broken_plan()
    broken = live.state(plan)
    fix = proposals.propose(gate, plan, REQUESTER, CLI).id
    decisions.approve(gate, fix, ALICE)
    runner.apply_proposal(gate, fix, REQUESTER, live.connect)
    fixed = live.state(plan)
    assert live.client_id_annotated()

    undo = proposals.propose_undo(gate, fix, REQUESTER, CLI)
    assert (undo.kind, undo.undoes, undo.state) == ("undo", fix, State.PROPOSED)
    live.start_counting()
    with pytest.raises(Refused, match=f"proposal {undo.id} is proposed, not approved"):
        runner.apply_proposal(gate, undo.id, REQUESTER, live.connect)
    assert live.writes() == [] and live.state(plan) == fixed
    assert gate.proposal(fix).state is State.APPLIED

    decisions.approve(gate, undo.id, BOB)
    result = runner.apply_proposal(gate, undo.id, REQUESTER, live.connect)
    assert result.execution is not None and result.execution.outcome == "undone", result.execution
    assert not live.client_id_annotated()
    assert gate.proposal(fix).state is State.UNDONE
    restored = live.state(plan)
    sa = next(k for k in broken if k.startswith("ServiceAccount/"))
    assert {k: v for k, v in restored[sa].items() if k != "rv"} == {k: v for k, v in broken[sa].items() if k != "rv"}
    assert "proposal.undone" in actions(store, fix)


# -- a process that dies mid-apply


class Crash(BaseException):
    """The applying process dying (a SIGKILL, an OOM): nothing after it runs, no except clause sees it."""


@dataclass
class CrashingExecutor(Executor):
    """The real executor, except that the process dies during the first step, before or after its call."""

    crash_after_call: bool = True

    def _apply_step(self, step: Step, ctx: RunContext) -> Done:
        if self.crash_after_call:
            super()._apply_step(step, ctx)
        raise Crash


def crashing(live: LiveChain, *, after_call: bool) -> Callable[[Plan], AbstractContextManager[Executor]]:
    @contextmanager
    def connect(plan: Plan) -> Iterator[Executor]:
        with live.connect(plan) as real:
            yield CrashingExecutor(real.kube, real.arm, real.rollout_timeout, crash_after_call=after_call)

    return connect


@pytest.mark.parametrize("after_call", [True, False], ids=["crash-after-the-patch", "crash-before-the-patch"])
def test_an_apply_that_died_is_reconciled_once_and_never_redone(store: Store, live: LiveChain,
                                                                after_call: bool) -> None:
    clock = FakeClock(utcnow())
    gate = Gate(store, policy(), clock=clock)
    plan = live.broken_plan()
    before = live.state(plan)
    proposal_id = proposals.propose(gate, plan, REQUESTER, CLI).id
    decisions.approve(gate, proposal_id, ALICE)
    live.start_counting()
    with pytest.raises(Crash):
        runner.apply_proposal(gate, proposal_id, REQUESTER, crashing(live, after_call=after_call))
    assert gate.proposal(proposal_id).state is State.APPLYING
    assert [r["status"] for r in step_rows(store, proposal_id)] == ["started", "pending"]
    assert live.writes() == (["PATCH ServiceAccount"] if after_call else [])

    clock.advance(minutes=9)  # the dead apply's lease (10 minutes) still runs: it may be alive
    assert reconcile(gate, live.connect) == []
    assert gate.proposal(proposal_id).state is State.APPLYING

    clock.advance(minutes=2)
    (done,) = reconcile(gate, live.connect)
    view = gate.proposal(proposal_id)
    assert done.proposal_id == proposal_id and view.state is State.FAILED
    assert "nothing was re-applied" in view.message and "never run: Restart the keda-operator" in view.message
    (first, second) = step_rows(store, proposal_id)
    if after_call:
        assert "the change is in place" in done.found[0]
        assert (first["status"], second["status"]) == ("applied", "pending")
        assert live.client_id_annotated()
    else:
        assert "not in place" in done.found[0] and "not retried" in done.found[0]
        assert (first["status"], second["status"]) == ("failed", "pending")
        assert live.state(plan) == before
    assert first["message"].startswith("reconciled: ")
    assert live.writes() == (["PATCH ServiceAccount"] if after_call else []), "reconciliation wrote to the cluster"

    assert reconcile(gate, live.connect) == []
    assert actions(store, proposal_id).count("apply.reconciled") == 1
    assert verified_chain(store).ok


# -- drift


def test_a_target_changed_after_approval_fails_the_apply_before_any_change(store: Store, live: LiveChain) -> None:
    gate = Gate(store, policy())
    plan = live.broken_plan()
    proposal_id = proposals.propose(gate, plan, REQUESTER, CLI).id
    decisions.approve(gate, proposal_id, ALICE)
    live.sc.patch_service_account({"team": "payments"})  # someone edits the ServiceAccount meanwhile
    edited = live.state(plan)
    live.start_counting()
    result = runner.apply_proposal(gate, proposal_id, REQUESTER, live.connect)
    assert result.proposal.state is State.FAILED
    assert result.proposal.message.startswith("refused before any change: ")
    assert "plan again" in result.proposal.message
    assert live.writes() == [] and live.state(plan) == edited
    assert not live.client_id_annotated()

