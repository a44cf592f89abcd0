"""`keda-auth plan`, `apply` and `undo` as a person runs them, against a live (simulated) cluster."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from bot.execute.records import read_execution
from bot.plan.plan import plan_from_json
from tests.kit.scenario import scenario
from tests.kit.scenario_breakers import BREAKERS


def test_plan_apply_undo_from_the_command_line(tmp_path: Path) -> None:
    with scenario(tmp_path) as sc:
        BREAKERS["wi-pod-label-missing"](sc)
        # Kubernetes only: the fix and its re-check need no Azure credential.
        target = ["--kubeconfig", sc.kubeconfig, "--no-azure"]
        runner = CliRunner()
        plan_file, record = tmp_path / "plan.json", tmp_path / "run.json"
        made = runner.invoke(cli, ["plan", *target, "-n", sc.namespace, "--finding", "wi-pod-label-missing",
                                   "-o", str(plan_file)])
        assert made.exit_code == 0, made.output
        assert "kubectl -n" in made.output and "undo:" in made.output
        plan = plan_from_json(json.loads(plan_file.read_text()))
        assert [s.remediation for s in plan.steps] == ["operator-pod-label", "operator-restart"]

        declined = runner.invoke(cli, ["apply", str(plan_file), *target, "--record", str(record)], input="n\n")
        assert declined.exit_code != 0 and not record.exists()
        assert "wi-pod-label-missing" in sc.finding_ids(), "declining changed something"

        dry = runner.invoke(cli, ["apply", str(plan_file), *target, "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert "Dry run (nothing changed)" in dry.output and "would change" in dry.output
        assert "wi-pod-label-missing" in sc.finding_ids()

        applied = runner.invoke(cli, ["apply", str(plan_file), *target, "-n", sc.namespace, "--record", str(record),
                                      "--verify-timeout", "30"], input="y\n")
        assert applied.exit_code == 0, applied.output
        assert "verification: verified" in applied.output
        assert read_execution(record).outcome == "applied"
        assert "wi-pod-label-missing" not in sc.finding_ids()

        undone = runner.invoke(cli, ["undo", str(record), *target, "--yes"])
        assert undone.exit_code == 0, undone.output
        assert "undo undone" in undone.output
        assert "wi-pod-label-missing" in sc.finding_ids()


def test_apply_refuses_a_plan_the_cluster_has_moved_away_from(tmp_path: Path) -> None:
    with scenario(tmp_path) as sc:
        BREAKERS["wi-pod-label-missing"](sc)
        target = ["--kubeconfig", sc.kubeconfig, "--no-azure"]
        runner = CliRunner()
        plan_file = tmp_path / "plan.json"
        assert runner.invoke(cli, ["plan", *target, "-n", sc.namespace, "-o", str(plan_file)]).exit_code == 0
        sc.patch_operator({"metadata": {"annotations": {"owner": "team-payments"}}})
        refused = runner.invoke(cli, ["apply", str(plan_file), *target, "--yes"])
        assert refused.exit_code == 2
        assert "Refused: the state changed since the plan was made" in refused.output
        assert f"Deployment/{sc.namespace}/keda-operator" in refused.output
        assert "wi-pod-label-missing" in sc.finding_ids()
