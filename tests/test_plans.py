"""Plans from every failure mode's broken cluster: the right steps in the right order, or a manual procedure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.diagnosis.registry import FAILURE_MODES
from bot.plan.plan import plan_from_json
from bot.plan.planner import make_plan
from bot.snapshot.bundle import read_bundle
from remediations.catalogue import CATALOGUE
from remediations.model import PLANE_ORDER, FicPut, KubeEdit, Restart
from remediations.registry import registered
from tests.kit.cases import Case, collect_cases
from tests.kit.cluster import KEDA_ID, healthy
from tests.kit.run import diagnose_state

# The failure modes the remediation issue requires an automated fix for.
AUTOMATED = {
    "wi-pod-label-missing", "wi-sa-clientid-missing", "tenant-mismatch", "wi-token-expiration-invalid",
    "wi-pod-stale-not-restarted", "wi-env-hardcoded-stale", "egress-or-timeout-to-entra", "fic-missing-keda-sa",
    "fic-missing-override-identity", "fic-subject-wrong-namespace-or-sa", "fic-issuer-mismatch",
    "fic-audience-mismatch", "rbac-role-missing", "rbac-role-insufficient-sb", "rbac-wrong-principal-or-scope",
    "identityid-not-clientid", "identityid-empty-string", "keyvault-podidentity-location", "authref-unresolved",
    "sb-namespace-metadata",
}
CASES = collect_cases()


def test_every_automated_remediation_is_registered_for_real_failure_modes() -> None:
    entries = registered()
    assert {r.id for r in CATALOGUE.values() if r.automated} == set(entries)
    for entry in entries.values():
        assert set(entry.fixes) <= set(FAILURE_MODES), entry.remediation.id
    covered = {fid for entry in entries.values() for fid in entry.fixes}
    assert covered >= AUTOMATED


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_broken_cluster_gets_steps_or_a_manual_procedure(case: Case, tmp_path: Path) -> None:
    state = healthy()
    case.broken(state)
    bundle = state.write(tmp_path / "bundle")
    snapshot = read_bundle(bundle)
    report = diagnose_state(state, tmp_path / "again")
    plan = make_plan(report, snapshot, only=[case.id])
    automated = [s for s in plan.steps if case.id in s.findings]
    if case.id in AUTOMATED and any(f.fix_inputs for f in report.findings if f.id == case.id):
        assert automated, plan.notes
    if not automated:
        assert [m for m in plan.manual if m.finding == case.id] or plan.notes, f"{case}: neither steps nor a procedure"
    # Azure first, then Kubernetes, restarts last; every step shows its command and its undo.
    assert [PLANE_ORDER[s.plane] for s in plan.steps] == sorted(PLANE_ORDER[s.plane] for s in plan.steps)
    for step in plan.steps:
        assert step.command and step.undo_command and step.observed
        assert "{{" not in step.command + step.undo_command
    again = plan_from_json(json.loads(json.dumps(plan.to_json())))
    assert again == plan and again.hash == plan.hash


def test_cases_of_automated_failure_modes_do_get_automated_steps(tmp_path: Path) -> None:
    """Guards the test above: most cases of the required modes must produce steps, not procedures."""
    planned: set[str] = set()
    for index, case in enumerate(c for c in CASES if c.id in AUTOMATED):
        state = healthy()
        case.broken(state)
        snapshot = read_bundle(state.write(tmp_path / f"b{index}"))
        report = diagnose_state(state, tmp_path / f"r{index}")
        if any(case.id in s.findings for s in make_plan(report, snapshot, only=[case.id]).steps):
            planned.add(case.id)
    assert AUTOMATED - planned == set()


def test_a_restart_follows_the_serviceaccount_change_and_runs_once(tmp_path: Path) -> None:
    state = healthy()
    sa = state.find("ServiceAccount", "keda-operator", "keda")
    del sa["metadata"]["annotations"]["azure.workload.identity/client-id"]
    snapshot = read_bundle(state.write(tmp_path / "b"))
    report = diagnose_state(state, tmp_path / "r")
    plan = make_plan(report, snapshot)
    kinds = [type(s.action) for s in plan.steps]
    assert kinds.count(Restart) == 1 and kinds[-1] is Restart
    assert any(isinstance(s.action, KubeEdit) and s.action.target.kind == "ServiceAccount" for s in plan.steps)


def test_the_twenty_first_federated_credential_is_refused_at_planning(tmp_path: Path) -> None:
    state = healthy()
    state.azure = [r for r in state.azure if "federatedIdentityCredentials" not in r.get("type", "")]
    for n in range(20):
        state.add_fic(KEDA_ID, f"other-{n}", f"system:serviceaccount:app{n}:sa")
    snapshot = read_bundle(state.write(tmp_path / "b"))
    report = diagnose_state(state, tmp_path / "r")
    fic_findings = {f.id for f in report.findings if f.id.startswith("fic-")}
    assert fic_findings
    plan = make_plan(report, snapshot, only=fic_findings)
    assert not [s for s in plan.steps if isinstance(s.action, FicPut)]
    assert any("maximum of 20" in note for note in plan.notes)
    assert [m for m in plan.manual if m.finding in fic_findings]


def test_a_manual_only_plan_never_offers_an_apply(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    runner = CliRunner()
    result = runner.invoke(cli, ["plan", "--bundle", "examples/bundles/propagating-role-assignment",
                                 "-o", str(plan_file)])
    assert result.exit_code == 0, result.output
    plan = plan_from_json(json.loads(plan_file.read_text()))
    assert not plan.steps and plan.manual
    applied = runner.invoke(cli, ["apply", str(plan_file), "--kubeconfig", str(tmp_path / "nowhere")])
    assert applied.exit_code == 0
    assert "Nothing to apply" in applied.output


def test_an_edited_plan_is_refused(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    runner = CliRunner()
    result = runner.invoke(cli, ["plan", "--bundle", "examples/bundles/broken-pod-label", "-o", str(plan_file)])
    assert result.exit_code == 0, result.output
    raw = json.loads(plan_file.read_text())
    raw["steps"][0]["command"] = "kubectl delete namespace keda"
    plan_file.write_text(json.dumps(raw))
    applied = runner.invoke(cli, ["apply", str(plan_file)])
    assert applied.exit_code != 0
    assert "edited after it was made" in str(applied.exception) + applied.output
