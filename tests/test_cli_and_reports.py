"""`keda-auth check` as a user runs it: formats, exit codes, scoping, and no secret in any output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.kit.cluster import healthy
from tests.kit.fixtures import REPO
from tests.test_checks_injection import drop_template_label, hardcoded_stale_env

REPORT_SCHEMA = {
    "type": "object",
    "required": ["format", "target", "findings", "summary"],
    "properties": {
        "format": {"const": "keda-auth-report/v1"},
        "target": {"type": "object", "required": ["source", "cluster", "keda_namespace"],
                   "properties": {"source": {"enum": ["bundle", "cluster"]}}},
        "findings": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "severity", "title", "detail", "objects", "evidence", "fixes", "docs"],
            "properties": {
                "id": {"type": "string", "pattern": "^[a-z0-9.-]+$"},
                "severity": {"enum": ["critical", "warning", "info"]},
                "objects": {"type": "array", "items": {"type": "string"}},
                "evidence": {"type": "array", "items": {
                    "type": "object", "required": ["source", "field", "expected", "actual"]}},
                "fixes": {"type": "array", "items": {"type": "string"}},
                "docs": {"type": "array", "items": {"type": "string"}},
            }}},
        "summary": {"type": "object",
                    "required": ["critical", "warning", "info", "checks_run", "checks_skipped"],
                    "properties": {k: {"type": "integer", "minimum": 0} for k in
                                   ("critical", "warning", "info", "checks_run", "checks_skipped")}},
    },
}


def keda_auth(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=REPO, capture_output=True, text=True,
                          check=False, timeout=120, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"})


def bundle(tmp_path: Path, *mutations: object) -> str:
    state = healthy()
    for mutate in mutations:
        mutate(state)  # type: ignore[operator]
    return str(state.write(tmp_path / "bundle"))


def test_healthy_bundle_exits_0_and_says_so(tmp_path: Path) -> None:
    result = keda_auth("check", "--bundle", bundle(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No problems found" in result.stdout


def test_critical_finding_exits_2_with_root_cause_and_fix_command(tmp_path: Path) -> None:
    result = keda_auth("check", "--bundle", bundle(tmp_path, drop_template_label))
    assert result.returncode == 2
    assert "ROOT CAUSE  wi-pod-label-missing" in result.stdout
    assert "kubectl -n keda patch --type merge -p" in result.stdout
    assert "-- deployment keda-operator" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour when not a terminal


def test_warnings_only_exit_1(tmp_path: Path) -> None:
    def same_value_hardcoded(state: object) -> None:
        from tests.kit.cluster import KEDA_CLIENT, ClusterState
        assert isinstance(state, ClusterState)
        container = state.deployment["spec"]["template"]["spec"]["containers"][0]
        container["env"].append({"name": "AZURE_CLIENT_ID", "value": KEDA_CLIENT})

    result = keda_auth("check", "--bundle", bundle(tmp_path, same_value_hardcoded), "--format", "json")
    report = json.loads(result.stdout)
    assert {f["severity"] for f in report["findings"]} == {"warning"}, report["findings"]
    assert result.returncode == 1


def test_json_report_follows_the_contract(tmp_path: Path) -> None:
    result = keda_auth("check", "--bundle", bundle(tmp_path, drop_template_label, hardcoded_stale_env),
                       "--format", "json")
    report = json.loads(result.stdout)
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["target"] == {"source": "bundle", "cluster": "aks-prod-weu", "keda_namespace": "keda"}
    assert report["summary"]["critical"] == sum(f["severity"] == "critical" for f in report["findings"])
    assert report["findings"][0]["id"] == "wi-pod-label-missing"


def test_sarif_has_a_rule_for_every_result(tmp_path: Path) -> None:
    out = tmp_path / "report.sarif"
    result = keda_auth("check", "--bundle", bundle(tmp_path, drop_template_label), "--format", "sarif",
                       "-o", str(out))
    assert result.returncode == 2
    sarif = json.loads(out.read_text())
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rules = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert run["results"], "the broken bundle must produce results"
    for res in run["results"]:
        assert res["ruleId"] in rules
        assert res["level"] in ("error", "warning", "note")
    assert any(r["ruleId"] == "wi-pod-label-missing" and r["level"] == "error" for r in run["results"])


@pytest.mark.parametrize("args", [
    ["check"],
    ["check", "--bundle", "/does/not/exist"],
    ["check", "--bundle", ".", "--only", "no-such-check"],
    ["check", "--bundle", ".", "--scaledobject", "missing-slash"],
    ["check", "--format", "xml"],
    ["explain", "no-such-check"],
])
def test_usage_and_input_errors_exit_3_with_a_message(args: list[str]) -> None:
    result = keda_auth(*args)
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr.strip()


def test_scaledobject_scope_hides_other_workloads(tmp_path: Path) -> None:
    def second_broken_workload(state: object) -> None:
        from tests.kit.cluster import ClusterState
        assert isinstance(state, ClusterState)
        so = json.loads(json.dumps(state.scaled_object))
        so["metadata"]["name"] = "other"
        so["spec"]["triggers"][0]["authenticationRef"] = {"name": "sb-auth"}
        state.k8s.append(so)
        drop_template_label(state)

    path = bundle(tmp_path, second_broken_workload)
    scoped = json.loads(keda_auth("check", "--bundle", path, "--format", "json",
                                  "--scaledobject", "orders/orders-processor").stdout)
    objects = {o for f in scoped["findings"] for o in f["objects"]}
    assert "ScaledObject/orders/other" not in objects


def test_checks_lists_every_registered_id_and_explain_describes_one() -> None:
    listing = keda_auth("checks")
    assert listing.returncode == 0
    assert "wi-pod-label-missing" in listing.stdout
    explained = keda_auth("explain", "wi-pod-label-missing")
    assert explained.returncode == 0 and "operator-pod-label" in explained.stdout


CANARIES = {
    "sas": "SharedAccessKey=Q2FuYXJ5S2V5Rm9yS2VkYUF1dGhUZXN0c09ubHkxMjM0NTY=",
    "jwt": "eyJhbGciOiJSUzI1NiIsImtpZCI6ImNhbmFyeSJ9.eyJpc3MiOiJjYW5hcnkiLCJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlY2FuYXJ5",
    "secret": "c2VjcmV0LWNhbmFyeS12YWx1ZQ==",
    "sig": "sig=Q2FuYXJ5U2lnbmF0dXJlVmFsdWU%3D",
}


def test_secrets_in_a_bundle_never_reach_any_output(tmp_path: Path) -> None:
    def plant(state: object) -> None:
        from tests.kit.cluster import ClusterState
        assert isinstance(state, ClusterState)
        drop_template_label(state)
        conn = f"Endpoint=sb://sb-prod-weu.servicebus.windows.net/;SharedAccessKeyName=root;{CANARIES['sas']}"
        state.k8s.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sb", "namespace": "orders"},
                          "data": {"connection": CANARIES["secret"]}, "stringData": {"conn": conn}})
        state.trigger["metadata"]["connection"] = conn
        state.logs["keda/keda-operator-6c9f7b5d8-x2kqp"] = (
            f"ERROR token {CANARIES['jwt']} failed; sources must contain at least one TokenCredential {conn}\n"
            f"GET https://acct.blob.core.windows.net/c?sv=2022&{CANARIES['sig']} failed: "
            "sources must contain at least one TokenCredential\n")

    path = bundle(tmp_path, plant)
    for fmt in ("human", "json", "sarif"):
        result = keda_auth("check", "--bundle", path, "--format", fmt, "--verbose")
        text = result.stdout + result.stderr
        assert "sources must contain at least one TokenCredential" in text  # the logs were read
        for name, canary in CANARIES.items():
            secret_part = canary.split("=", 1)[-1] if name in ("sas", "sig") else canary
            assert secret_part not in text, f"{name} canary leaked in {fmt} output"
