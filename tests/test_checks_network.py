"""Failure modes 33 and 35: token requests timing out, and more than one KEDA in the cluster."""

from __future__ import annotations

import copy
from pathlib import Path

from bot.diagnosis.engine import Report
from bot.diagnosis.findings import Finding, Severity
from tests.kit.cases import Case
from tests.kit.cluster import TENANT, ClusterState, healthy
from tests.kit.fixtures import document
from tests.kit.run import diagnose_state, finding_ids

OPERATOR_LOG = "keda/keda-operator-6c9f7b5d8-x2kqp"
ENTRA_TIMEOUT = (
    '2026-11-26T09:59:01Z\tERROR\tazure_servicebus_scaler\terror getting service bus entity length\t'
    '{"type": "ScaledObject", "namespace": "orders", "name": "orders-processor", "error": '
    '"ChainedTokenCredential: failed to acquire a token.\\nAttempted credentials:\\n\\tWorkloadIdentityCredential: '
    f'Post \\"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token\\": context deadline exceeded '
    '(Client.Timeout exceeded while awaiting headers)"}\n')
IMDS_TIMEOUT = (
    '2026-11-26T09:59:01Z\tERROR\tazure_servicebus_scaler\terror getting service bus entity length\t'
    '{"error": "Get \\"http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01\\": '
    'context deadline exceeded (Client.Timeout exceeded while awaiting headers)"}\n')
TIMEOUT_ENV = "KEDA_HTTP_DEFAULT_TIMEOUT"


def _event(kind: str, message: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Event", "type": kind, "reason": "KEDAScalerFailed",
            "metadata": {"name": "orders-processor.188a", "namespace": "orders"},
            "involvedObject": {"kind": "ScaledObject", "namespace": "orders", "name": "orders-processor"},
            "message": message, "lastTimestamp": "2026-11-26T09:59:30Z"}


WARNING_MESSAGE = (f'Post "https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token": net/http: request '
                   "canceled (Client.Timeout exceeded while awaiting headers)")


# -- egress-or-timeout-to-entra

def entra_timeout_in_log(s: ClusterState) -> None:
    s.logs[OPERATOR_LOG] = ENTRA_TIMEOUT


def imds_timeout_in_log(s: ClusterState) -> None:
    s.logs[OPERATOR_LOG] = IMDS_TIMEOUT  # aad-pod-identity's IMDS, not Entra: provider-azure-removed territory


def entra_timeout_event(s: ClusterState) -> None:
    s.k8s.append(_event("Warning", WARNING_MESSAGE))


def entra_timeout_normal_event(s: ClusterState) -> None:
    s.k8s.append(_event("Normal", WARNING_MESSAGE))


def usgov_timeout_in_log(s: ClusterState) -> None:
    s.logs[OPERATOR_LOG] = ENTRA_TIMEOUT.replace("login.microsoftonline.com", "login.microsoftonline.us")


def servicebus_timeout_in_log(s: ClusterState) -> None:
    # A timeout towards the data plane, not the authority: not this failure mode.
    s.logs[OPERATOR_LOG] = ENTRA_TIMEOUT.replace(f"login.microsoftonline.com/{TENANT}/oauth2/v2.0/token",
                                                 "sb-prod-weu.servicebus.windows.net/orders/$management")


def timeout_raised(s: ClusterState) -> None:
    for env in s.deployment["spec"]["template"]["spec"]["containers"][0]["env"]:
        if env["name"] == TIMEOUT_ENV:
            env["value"] = "15000"


# -- multiple-keda-installs

def _addon_copy(s: ClusterState, *, workload_identity: bool) -> None:
    """The AKS add-on's operator in kube-system next to the Helm one, from the same upstream manifests."""
    deploy = copy.deepcopy(s.deployment)
    deploy["metadata"]["namespace"] = "kube-system"
    if not workload_identity:
        del deploy["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"]
    sa = document("keda/manager/2.20.2/service_account.yaml", "ServiceAccount")
    sa["metadata"]["namespace"] = "kube-system"
    s.k8s += [deploy, sa]


def addon_serves_metrics_without_wi(s: ClusterState) -> None:
    _addon_copy(s, workload_identity=False)
    s.find("APIService", "v1beta1.external.metrics.k8s.io")["spec"]["service"]["namespace"] = "kube-system"
    s.aks["properties"]["workloadAutoScalerProfile"] = {"keda": {"enabled": True}}


def addon_alone_in_kube_system(s: ClusterState) -> None:
    for obj in (s.deployment, s.service_account, s.pod):
        obj["metadata"]["namespace"] = "kube-system"
    s.find("APIService", "v1beta1.external.metrics.k8s.io")["spec"]["service"]["namespace"] = "kube-system"
    s.aks["properties"]["workloadAutoScalerProfile"] = {"keda": {"enabled": True}}


def addon_enabled_next_to_helm(s: ClusterState) -> None:
    # The add-on's own objects were not collected, but AKS says it is on.
    s.aks["properties"]["workloadAutoScalerProfile"] = {"keda": {"enabled": True}}


def addon_disabled(s: ClusterState) -> None:
    s.aks["properties"]["workloadAutoScalerProfile"] = {"keda": {"enabled": False}}


CASES = [
    Case("egress-or-timeout-to-entra", entra_timeout_in_log, imds_timeout_in_log, "log"),
    Case("egress-or-timeout-to-entra", entra_timeout_event, entra_timeout_normal_event, "event"),
    Case("egress-or-timeout-to-entra", usgov_timeout_in_log, servicebus_timeout_in_log, "sovereign-authority"),
    Case("multiple-keda-installs", addon_serves_metrics_without_wi, addon_alone_in_kube_system, "two-deployments"),
    Case("multiple-keda-installs", addon_enabled_next_to_helm, addon_disabled, "addon-flag"),
]



def _one(report: Report, finding_id: str) -> Finding:
    found = [f for f in report.findings if f.id == finding_id]
    assert len(found) == 1, [f.id for f in report.findings]
    return found[0]


def test_timeout_fix_raises_the_http_timeout(tmp_path: Path) -> None:
    state = healthy()
    entra_timeout_in_log(state)
    finding = _one(diagnose_state(state, tmp_path), "egress-or-timeout-to-entra")
    assert finding.severity == Severity.CRITICAL
    assert finding.fixes == ("manual-network-egress", "operator-http-timeout")
    assert finding.commands == (
        f"kubectl -n keda set env -c keda-operator -- deployment keda-operator {TIMEOUT_ENV}=10000",)
    assert any(e.field == f"env {TIMEOUT_ENV}" and "effective 3000 ms" in e.actual for e in finding.evidence)


def test_raised_timeout_leaves_only_the_egress_fix(tmp_path: Path) -> None:
    state = healthy()
    entra_timeout_in_log(state)
    timeout_raised(state)
    finding = _one(diagnose_state(state, tmp_path), "egress-or-timeout-to-entra")
    assert finding.fixes == ("manual-network-egress",)
    assert not finding.commands


def test_empty_timeout_env_alone_is_not_a_finding(tmp_path: Path) -> None:
    state = healthy()
    env = state.deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": TIMEOUT_ENV, "value": ""} in env  # the upstream manifest ships it empty
    assert "egress-or-timeout-to-entra" not in finding_ids(diagnose_state(state, tmp_path))


def test_wi_on_the_install_that_does_not_serve_metrics_is_critical(tmp_path: Path) -> None:
    state = healthy()
    addon_serves_metrics_without_wi(state)
    finding = _one(diagnose_state(state, tmp_path), "multiple-keda-installs")
    assert finding.severity == Severity.CRITICAL
    assert "configured on keda" in finding.detail and "points at kube-system" in finding.detail
    assert finding.fixes == ("manual-single-keda-install",)


def test_addon_flag_next_to_helm_is_a_warning(tmp_path: Path) -> None:
    state = healthy()
    addon_enabled_next_to_helm(state)
    assert _one(diagnose_state(state, tmp_path), "multiple-keda-installs").severity == Severity.WARNING


def test_healthy_cluster_reports_nothing_from_these_checks(tmp_path: Path) -> None:
    ids = finding_ids(diagnose_state(healthy(), tmp_path))
    assert not ids & {"egress-or-timeout-to-entra", "multiple-keda-installs"}
