"""`keda-auth whoami`: the permissions a credential really has, asked of the API server (the Azure half is the
same function `/keda-auth whoami` runs, tested in tests/test_slack_app.py)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from tests.kit.scenario import scenario


def test_whoami_tells_an_admin_from_a_reader(tmp_path: Path) -> None:
    with scenario(tmp_path) as sc:
        admin = CliRunner().invoke(cli, ["whoami", "--kubeconfig", sc.kubeconfig, "--no-azure",
                                         "--keda-namespace", sc.namespace])
        assert admin.exit_code == 0, admin.output
        assert f"yes patch deployments/keda-operator in {sc.namespace}" in admin.output
        assert "!!  list secrets" in admin.output  # an admin could read Secrets: flagged, though never needed

        reader = CliRunner().invoke(cli, ["whoami", "--kubeconfig", sc.read_only_user("kat-reader", tmp_path),
                                          "--no-azure", "--keda-namespace", sc.namespace])
        assert reader.exit_code == 1, reader.output
        assert f"yes list pods in {sc.namespace} — checks" in reader.output
        assert f"no  patch deployments/keda-operator in {sc.namespace} — operator-pod-label" in reader.output
        assert "no  patch scaledobjects (all namespaces)" in reader.output

