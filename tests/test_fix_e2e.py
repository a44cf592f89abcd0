"""Every automated fix, end to end on a live chain: broken → check → plan → dry-run → apply → clean → apply
again (nothing changes) → undo (the exact before-state) → broken again.

Runs on the simulators through the official clients, or unchanged on a real cluster and subscription
(tests/kit/targets.py). The bot's own view is the live collection of `keda-auth check`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.diagnosis.engine import diagnose
from bot.execute.executor import Executor
from bot.execute.records import Status
from bot.execute.service import executor_for, rechecker
from bot.execute.verify import PROPAGATING, VERIFIED, verify
from bot.live.session import collect_live
from bot.plan.plan import Plan
from bot.plan.planner import make_plan
from remediations.model import FicPut, KubeEdit, Restart, RoleAssignmentPut
from tests.kit.scenario import Scenario, scenario
from tests.kit.scenario_breakers import BREAKERS, VARIANTS

# Without the trigger's namespace, nothing says which Service Bus namespace is meant: a person must choose.
MANUAL = {"sb-namespace-missing"}
# Symptoms of history, not of configuration: old pods and their log lines. Undo restores every object exactly,
# but the pods it rolls out are new ones, mutated and logged afresh, so these findings do not come back.
FROM_HISTORY = {"egress-or-timeout-to-entra", "wi-pod-stale-not-restarted"}
FIXABLE = sorted(BREAKERS) + sorted(set(VARIANTS) - MANUAL)
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
REVISION = "deployment.kubernetes.io/revision"  # the Deployment controller's count of rollouts, not ours


def _breaker(name: str) -> tuple[str, Callable[[Scenario], None]]:
    if name in VARIANTS:
        return VARIANTS[name]
    return name, BREAKERS[name]


def plan_for(sc: Scenario, finding_ids: list[str] | None = None) -> Plan:
    assembled, _ = collect_live(sc.live_options(), credential=sc.azure.credential, now=sc.now)
    snapshot = assembled.snapshot()
    return make_plan(diagnose(snapshot), snapshot, only=finding_ids)


@contextmanager
def executor(sc: Scenario, plan: Plan) -> Iterator[Executor]:
    # Made anew for each phase: settle() moves the simulators' clocks, which expires cached tokens.
    with executor_for(plan, sc.live_options(), credential=sc.azure.credential, rollout_timeout=60) as ex:
        yield ex


def state_of(sc: Scenario, plan: Plan, *, versions: bool = False) -> dict[str, Any]:
    """What the plan's targets look like: Kubernetes labels, annotations and spec (and resourceVersion, when
    even a no-op write must not have happened); the identities' FICs; the principals' role assignments."""
    out: dict[str, Any] = {}
    with executor(sc, plan) as ex:
        for step in plan.steps:
            action = step.action
            if isinstance(action, KubeEdit | Restart):
                assert ex.kube is not None
                obj = ex.kube.get(action.target) or {}
                meta = obj.get("metadata") or {}
                annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != REVISION}
                out[action.target.ref] = {"labels": meta.get("labels"), "annotations": annotations,
                                          "spec": obj.get("spec"),
                                          **({"rv": meta.get("resourceVersion")} if versions else {})}
            elif isinstance(action, FicPut):
                assert ex.arm is not None
                out[action.identity_id] = sorted(f.as_json().__repr__() for f in ex.arm.list_fics(action.identity_id))
            elif isinstance(action, RoleAssignmentPut):
                assert ex.arm is not None
                out[action.principal_id] = sorted(
                    (a.id.lower(), a.role_guid, a.scope.lower())
                    for a in ex.arm.assignments_covering(action.principal_id, action.scope))
    return out


@pytest.mark.parametrize("name", FIXABLE)
def test_fix_apply_verify_reapply_undo(name: str, tmp_path: Path) -> None:
    finding_id, breaker = _breaker(name)
    with scenario(tmp_path) as sc:
        breaker(sc)
        assert finding_id in sc.finding_ids()
        plan = plan_for(sc, [finding_id])
        assert plan.steps, f"no automated step for {finding_id}: {plan.notes} {[m.text for m in plan.manual]}"
        before = state_of(sc, plan, versions=True)

        with executor(sc, plan) as ex:
            dry = ex.dry_run(plan)
            assert [d for d in dry if d.outcome == "refused"] == []
            assert state_of(sc, plan, versions=True) == before, "a dry-run changed something"
            applied = ex.apply(plan)
        assert applied.outcome == "applied", applied.problems
        assert any(r.status is Status.APPLIED for r in applied.steps)
        sc.settle()
        assert sc.finding_ids() == set(), "the fix did not leave a clean check"
        fixed = state_of(sc, plan)

        with executor(sc, plan) as ex:
            again = ex.apply(plan)
            assert again.outcome == "applied"
            assert {r.status for r in again.steps} == {Status.SKIPPED}
            assert state_of(sc, plan) == fixed, "applying twice changed something"
            undone = ex.undo(applied)
        assert undone.outcome == "undone", undone.problems
        restored = state_of(sc, plan)
        assert restored == {k: {f: v for f, v in s.items() if f != "rv"} if isinstance(s, dict) else s
                            for k, s in before.items()}, "undo did not restore the exact before-state"
        if finding_id not in FROM_HISTORY:
            sc.settle()
            assert finding_id in sc.finding_ids(), "after undo the original problem is back"


def test_drift_between_plan_and_apply_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    with scenario(tmp_path) as sc:
        BREAKERS["wi-sa-clientid-missing"](sc)
        plan = plan_for(sc, ["wi-sa-clientid-missing"])
        sc.patch_service_account({"team": "payments"})  # someone edits the ServiceAccount meanwhile
        before = state_of(sc, plan, versions=True)
        with executor(sc, plan) as ex:
            execution = ex.apply(plan)
        assert execution.outcome == "refused"
        assert any(f"ServiceAccount/{sc.namespace}/keda-operator" in p for p in execution.problems)
        assert "plan again" in execution.problems
        assert state_of(sc, plan, versions=True) == before


def test_a_failure_mid_plan_stops_with_a_clear_partial_state_that_undo_rolls_back(tmp_path: Path) -> None:
    with scenario(tmp_path) as sc:
        BREAKERS["fic-missing-keda-sa"](sc)
        BREAKERS["wi-pod-label-missing"](sc)
        plan = plan_for(sc, ["fic-missing-keda-sa", "wi-pod-label-missing"])
        assert [type(s.action) for s in plan.steps][:2] == [FicPut, KubeEdit]
        before = state_of(sc, plan)
        kube_sim = sc.kube.require_sim("injects an API server failure")
        # The dry-run PATCHes go through; the real one fails, as an overloaded API server would fail it.
        dry_runs = sum(1 for s in plan.steps if isinstance(s.action, KubeEdit | Restart))
        kube_sim.faults.add(method="PATCH", path="/deployments/keda-operator$", times=dry_runs)
        kube_sim.faults.add(method="PATCH", path="/deployments/keda-operator$", status=500, times=None,
                            message="etcdserver: request timed out")
        with executor(sc, plan) as ex:
            execution = ex.apply(plan)
        kube_sim.faults.clear()
        assert execution.outcome == "failed"
        statuses = [r.status for r in execution.steps]
        assert statuses[0] is Status.APPLIED and statuses[1] is Status.FAILED
        assert all(s is Status.PENDING for s in statuses[2:])
        assert "request timed out" in execution.problems[0] or "500" in execution.problems[0]
        with executor(sc, plan) as ex:
            undone = ex.undo(execution)
        assert undone.outcome == "undone", undone.problems
        assert state_of(sc, plan) == before


def test_verification_says_not_yet_while_a_new_credential_propagates(tmp_path: Path) -> None:
    with scenario(tmp_path) as sc:
        BREAKERS["fic-missing-keda-sa"](sc)
        plan = plan_for(sc, ["fic-missing-keda-sa"])
        with executor(sc, plan) as ex:
            execution = ex.apply(plan)
            result = verify(ex, execution, rechecker(sc.live_options(), credential=sc.azure.credential,
                                                     now=sc.now), budget=0)
        assert result.outcome == PROPAGATING, result
        sc.settle()
        with executor(sc, plan) as ex:
            result = verify(ex, execution, rechecker(sc.live_options(), credential=sc.azure.credential,
                                                     now=sc.now), budget=0)
        assert result.outcome == VERIFIED, result


def test_a_finding_without_a_safe_automated_fix_gets_a_procedure_and_no_steps(tmp_path: Path) -> None:
    finding_id, breaker = VARIANTS["sb-namespace-missing"]
    with scenario(tmp_path) as sc:
        breaker(sc)
        plan = plan_for(sc, [finding_id])
        assert plan.steps == ()
        (procedure,) = [m for m in plan.manual if m.finding == finding_id]
        assert "manual" in procedure.text and "namespace" in procedure.text


def test_an_identity_without_azure_permission_stops_at_the_dry_run(tmp_path: Path) -> None:
    with scenario(tmp_path) as sc:
        sim = sc.azure.require_sim("creates a service principal with a secret")
        BREAKERS["rbac-role-missing"](sc)
        BREAKERS["fic-missing-keda-sa"](sc)
        plan = plan_for(sc, ["rbac-role-missing", "fic-missing-keda-sa"])
        before = state_of(sc, plan, versions=True)
        reader = limited_principal(sim, sc)
        with executor_for(plan, sc.live_options(), credential=reader) as ex:
            dry = ex.dry_run(plan)
            execution = ex.apply(plan)
        refused = {d.permission for d in dry if d.outcome == "refused"}
        assert refused == {"Microsoft.Authorization/roleAssignments/write",
                           "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"}
        assert execution.outcome == "refused"
        assert all(r.status is Status.PENDING for r in execution.steps)
        assert state_of(sc, plan, versions=True) == before


def test_a_cluster_identity_without_patch_rights_stops_at_the_dry_run(tmp_path: Path) -> None:
    with scenario(tmp_path) as sc:
        BREAKERS["wi-pod-label-missing"](sc)
        plan = plan_for(sc, ["wi-pod-label-missing"])
        before = state_of(sc, plan, versions=True)
        options = dataclasses.replace(sc.live_options(), kubeconfig=sc.read_only_user("kat-reader", tmp_path))
        with executor_for(plan, options, credential=sc.azure.credential) as ex:
            execution = ex.apply(plan)
        assert execution.outcome == "refused"
        assert any('resources ["deployments"], verbs ["patch"], resourceNames ["keda-operator"]' in p
                   for p in execution.problems), execution.problems
        assert all(r.status is Status.PENDING for r in execution.steps)
        assert state_of(sc, plan, versions=True) == before


def limited_principal(sim: Any, sc: Scenario) -> Any:
    """A service principal with a secret that only holds Reader on the subscription."""
    import uuid

    from azure.identity import ClientSecretCredential

    from tests.kit.azuresim.store import Principal

    principal = Principal(str(uuid.uuid4()), sim.tenant_id, "kat-reader", "ServicePrincipal",
                          app_id=str(uuid.uuid4()), secret=uuid.uuid4().hex)
    sim.world.store.add_principal(principal)
    sc.grant(principal.object_id, READER, f"/subscriptions/{sc.azure.subscription_id}")
    sc.settle()  # the Reader role must be in effect, as it would be for a bot installed long ago
    assert principal.app_id is not None and principal.secret is not None
    return ClientSecretCredential(sim.tenant_id, principal.app_id, principal.secret, disable_instance_discovery=True,
                                  **sim.credential_kwargs())
