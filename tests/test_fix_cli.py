"""`keda-auth plan`, `propose`, `approve`, `apply` and `undo` as people run them at a terminal, against a live
(simulated) cluster: nothing changes without an approval by someone other than the requester, or an audited
break-glass."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from bot.plan.plan import plan_from_json
from tests.kit.scenario import Scenario, scenario
from tests.kit.scenario_breakers import BREAKERS

POLICY = """
allow: {clusters: ["*"], namespaces: ["*"]}
tiers:
  restart: {approvers: ["cli:bob"]}
  patch: {approvers: ["cli:bob"]}
"""


def run(args: list[str], user: str = "alice", stdin: str | None = None) -> Result:
    # getpass.getuser() reads LOGNAME first: that is who the gate sees at this terminal.
    return CliRunner().invoke(cli, args, input=stdin, env={"LOGNAME": user, "USER": user})


@pytest.fixture
def gated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    monkeypatch.setenv("KEDA_AUTH_POLICY", str(policy))
    monkeypatch.setenv("KEDA_AUTH_DB", f"sqlite:///{tmp_path}/audit.db")
    return policy


def _plan(sc: Scenario, tmp_path: Path, target: list[str]) -> Path:
    plan_file = tmp_path / "plan.json"
    made = run(["plan", *target, "-n", sc.namespace, "--finding", "wi-pod-label-missing", "-o", str(plan_file)])
    assert made.exit_code == 0, made.output
    assert "keda-auth propose" in made.output
    return plan_file


def _proposal_id(result: Result) -> str:
    match = re.search(r"proposed (p[0-9a-f]{20})", result.output)
    assert match, result.output
    return match.group(1)


def test_propose_approve_apply_undo_from_the_command_line(tmp_path: Path, gated: Path) -> None:
    with scenario(tmp_path) as sc:
        BREAKERS["wi-pod-label-missing"](sc)
        target = ["--kubeconfig", sc.kubeconfig, "--no-azure"]  # Kubernetes only: no Azure credential needed
        plan_file = _plan(sc, tmp_path, target)
        plan = plan_from_json(json.loads(plan_file.read_text()))
        assert [s.remediation for s in plan.steps] == ["operator-pod-label", "operator-restart"]

        unapproved = run(["apply", str(plan_file), *target, "--yes"])
        assert unapproved.exit_code == 3 and "nothing is applied without approval" in unapproved.output
        dry = run(["apply", str(plan_file), *target, "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert "Dry run (nothing changed)" in dry.output and "would change" in dry.output
        assert "wi-pod-label-missing" in sc.finding_ids()

        proposed = run(["propose", str(plan_file)])
        assert proposed.exit_code == 0, proposed.output
        assert "may approve: cli:bob" in proposed.output
        pid = _proposal_id(proposed)

        looked = run(["apply", pid, *target, "--dry-run"], user="bob")  # an approver looks before approving
        assert looked.exit_code == 0 and "Dry run (nothing changed)" in looked.output, looked.output
        early = run(["apply", pid, *target, "--yes"])
        assert early.exit_code == 2 and "not approved (0 of 1 approvals)" in early.output
        mine = run(["approve", pid])
        assert mine.exit_code == 2 and "a different approver is required" in mine.output
        assert run(["approve", pid], user="mallory").exit_code == 2
        approved = run(["approve", pid, "--comment", "label is the root cause"], user="bob")
        assert approved.exit_code == 0, approved.output
        assert f"keda-auth apply {pid}" in approved.output

        declined = run(["apply", pid, *target], stdin="n\n")
        assert declined.exit_code != 0 and "wi-pod-label-missing" in sc.finding_ids(), "declining changed something"
        applied = run(["apply", pid, *target, "-n", sc.namespace, "--yes", "--verify-timeout", "30"])
        assert applied.exit_code == 0, applied.output
        assert "verification: verified" in applied.output and ": verified" in applied.output
        assert "wi-pod-label-missing" not in sc.finding_ids()
        again = run(["apply", pid, *target, "--yes"])
        assert again.exit_code == 2 and "verified, not approved" in again.output

        undo = run(["undo", pid, *target])
        assert undo.exit_code == 0, undo.output
        undo_id = _proposal_id(undo)
        assert run(["approve", undo_id], user="bob").exit_code == 0
        undone = run(["apply", undo_id, *target, "--yes"])
        assert undone.exit_code == 0, undone.output
        assert "undo undone" in undone.output
        assert "wi-pod-label-missing" in sc.finding_ids()


def test_apply_refuses_a_plan_the_cluster_has_moved_away_from(tmp_path: Path, gated: Path) -> None:
    with scenario(tmp_path) as sc:
        BREAKERS["wi-pod-label-missing"](sc)
        target = ["--kubeconfig", sc.kubeconfig, "--no-azure"]
        pid = _proposal_id(run(["propose", str(_plan(sc, tmp_path, target))]))
        assert run(["approve", pid], user="bob").exit_code == 0
        sc.patch_operator({"metadata": {"annotations": {"owner": "team-payments"}}})
        refused = run(["apply", pid, *target, "--yes"])
        assert refused.exit_code == 2
        assert "refused before any change" in refused.output
        assert f"Deployment/{sc.namespace}/keda-operator" in refused.output
        assert "wi-pod-label-missing" in sc.finding_ids()


def test_break_glass_needs_a_reason_and_is_flagged(tmp_path: Path, gated: Path) -> None:
    with scenario(tmp_path) as sc:
        BREAKERS["wi-pod-label-missing"](sc)
        target = ["--kubeconfig", sc.kubeconfig, "--no-azure"]
        plan_file = _plan(sc, tmp_path, target)
        bare = run(["apply", str(plan_file), *target, "--break-glass", "--yes"], user="bob")
        assert bare.exit_code == 3 and "--break-glass needs --reason" in bare.output
        not_approver = run(["apply", str(plan_file), *target, "--break-glass", "--reason", "SEV1", "--yes"])
        assert not_approver.exit_code == 2 and "break-glass refused: cli:alice is not an approver" in \
            not_approver.output
        assert "wi-pod-label-missing" in sc.finding_ids()
        applied = run(["apply", str(plan_file), *target, "--break-glass", "--reason", "SEV1: orders backlog",
                       "--yes", "--verify-timeout", "30"], user="bob")
        assert applied.exit_code == 0, applied.output
        assert "BREAK-GLASS: SEV1: orders backlog" in applied.output
        assert "wi-pod-label-missing" not in sc.finding_ids()
        review = run(["audit", "list", "--since", "1h"])
        assert review.exit_code == 0 and "BREAK-GLASS" in review.output and "apply.applied" in review.output
        assert "break-glass refused" in review.output  # alice's attempt is on record too
        assert run(["audit", "verify"]).exit_code == 0


def test_the_kill_switch_stops_an_approved_apply(tmp_path: Path, gated: Path) -> None:
    with scenario(tmp_path) as sc:
        BREAKERS["wi-pod-label-missing"](sc)
        target = ["--kubeconfig", sc.kubeconfig, "--no-azure"]
        pid = _proposal_id(run(["propose", str(_plan(sc, tmp_path, target))]))
        assert run(["approve", pid], user="bob").exit_code == 0
        assert run(["kill-switch", "on", "--reason", "change freeze"]).exit_code == 0
        stopped = run(["apply", pid, *target, "--yes"])
        assert stopped.exit_code == 2 and "change freeze" in stopped.output
        status = run(["status"])
        assert "kill switch: ON" in status.output and pid in status.output
        assert "wi-pod-label-missing" in sc.finding_ids()
        assert run(["kill-switch", "off", "--reason", "freeze over"]).exit_code == 0
        assert run(["apply", pid, *target, "--yes", "--verify-timeout", "30"]).exit_code == 0
