"""The scenario kit: a healthy chain seeded through public APIs is clean live, and each breaker makes exactly
its failure mode appear in a live check.

On the simulators by default, or unchanged on a real AKS cluster and subscription when KUBECONFIG and the
Azure variables are set (tests/kit/targets.py). The simulators' answers are held to the official specs
(chain_target checks the Kubernetes one, scenario() the ARM + Entra one).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.diagnosis.findings import Severity
from bot.diagnosis.registry import all_checks
from tests.kit.scenario import SB_DATA_OWNER, TOKEN_AUDIENCE, WI_CLIENT_ID, Scenario, scenario
from tests.kit.scenario_breakers import BREAKERS, CONSEQUENCES, VARIANTS
from tests.kit.seed import container_env

# True right after seeding on a real subscription (Azure takes its time); the simulators' clocks are settled.
PROPAGATION = frozenset({"fic-propagation-delay", "rbac-propagation-delay"})
CASES = [pytest.param(fid, breaker, id=fid) for fid, breaker in BREAKERS.items()] + [
    pytest.param(fid, breaker, id=name) for name, (fid, breaker) in VARIANTS.items()]


def _serious(sc: Scenario) -> set[str]:
    ids = sc.finding_ids()
    return ids - PROPAGATION if sc.azure.sim is None else ids


def test_the_healthy_scenario_is_seeded_through_the_apis_and_is_clean_live(tmp_path: Path) -> None:
    with scenario(tmp_path) as sc:
        pod = sc.operator_pod()
        env = container_env(pod)
        assert env["AZURE_CLIENT_ID"] == sc.identity.client_id and env["AZURE_TENANT_ID"] == sc.azure.tenant_id
        sa = sc.kube.core.read_namespaced_service_account(sc.service_account, sc.namespace)
        assert sa.metadata.annotations[WI_CLIENT_ID] == sc.identity.client_id
        fic = sc.msi.federated_identity_credentials.get(sc.azure.resource_group, sc.identity.name, sc.fic_name)
        assert (fic.issuer, fic.subject, fic.audiences) == (sc.issuer, sc.subject, [TOKEN_AUDIENCE])
        assignment = sc.rbac.role_assignments.get_by_id(sc.role_assignment_id)
        assert assignment.principal_id == sc.identity.principal_id
        assert assignment.scope.lower() == sc.sb_namespace_id.lower()
        assert assignment.role_definition_id.endswith(SB_DATA_OWNER)
        assert sc.sb_namespace_id.endswith(f"/namespaces/{sc.sb_namespace}")

        report = sc.check()
        assert _serious(sc) == set(), [(f.id, f.title) for f in report.findings]
        if sc.azure.sim is not None:
            # Every check ran and had what it needed: nothing at all is reported, not even input-missing.
            assert [(f.id, f.title) for f in report.findings] == []
            assert report.checks_skipped == 0, report.skipped


def test_settling_twice_an_hour_keeps_the_chain_clean_and_the_clients_signed_in(tmp_path: Path) -> None:
    with scenario(tmp_path) as sc:
        for _ in range(5):  # past the simulator's one-hour token lifetime
            sc.settle()
        assert sc.check().findings == ()
        sc.revoke(sc.role_assignment_id)  # the management clients still work after the jumps
        assert sc.finding_ids() == {"rbac-role-missing"}


@pytest.mark.parametrize(("finding_id", "breaker"), CASES)
def test_each_breaker_makes_its_failure_mode_appear_alone(finding_id: str, breaker: Callable[[Scenario], None],
                                                          tmp_path: Path) -> None:
    with scenario(tmp_path) as sc:
        breaker(sc)
        report = sc.check()
        found = [f for f in report.findings if f.id == finding_id]
        assert found, [(f.id, f.title) for f in report.findings]
        assert all(f.severity is Severity.CRITICAL for f in found)
        assert _serious(sc) == {finding_id, *CONSEQUENCES.get(finding_id, ())}


def test_breakers_are_keyed_by_registered_failure_mode_ids() -> None:
    registered = {spec.id for spec in all_checks()}
    assert set(BREAKERS) <= registered
    assert {fid for fid, _ in VARIANTS.values()} <= set(BREAKERS)
    assert set(CONSEQUENCES) <= set(BREAKERS)
