"""Failure modes 1-8: the operator pod's Workload Identity injection."""

from __future__ import annotations

from pathlib import Path

from tests.kit.cases import Case, nothing
from tests.kit.cluster import KEDA_CLIENT, ClusterState, healthy
from tests.kit.run import diagnose_state, finding_ids

LABEL = "azure.workload.identity/use"


def drop_template_label(s: ClusterState) -> None:
    del s.deployment["spec"]["template"]["metadata"]["labels"][LABEL]
    del s.pod["metadata"]["labels"][LABEL]
    s.pod["spec"]["containers"][0]["env"] = [e for e in s.pod_env() if not e["name"].startswith("AZURE_")]


def label_false(s: ClusterState) -> None:
    s.deployment["spec"]["template"]["metadata"]["labels"][LABEL] = "false"


def sa_label_only(s: ClusterState) -> None:
    # Charts before v2.9 put the label on the SA only: still fine while the template has it too.
    s.service_account["metadata"]["labels"][LABEL] = "true"


def drop_sa_client_id(s: ClusterState) -> None:
    del s.service_account["metadata"]["annotations"]["azure.workload.identity/client-id"]
    s.pod["spec"]["containers"][0]["env"] = [e for e in s.pod_env() if e["name"] != "AZURE_CLIENT_ID"]


def drop_sa_client_id_but_hardcode(s: ClusterState) -> None:
    drop_sa_client_id(s)
    container = s.deployment["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "AZURE_CLIENT_ID", "value": KEDA_CLIENT})


def stale_pod(s: ClusterState) -> None:
    # The label and annotation were added after the pod was created: it was never mutated.
    del s.pod["metadata"]["labels"][LABEL]
    s.pod["spec"]["containers"][0]["env"] = [e for e in s.pod_env() if not e["name"].startswith("AZURE_")]
    s.service_account["metadata"]["managedFields"] = [{
        "manager": "kubectl-annotate", "operation": "Update", "time": "2026-11-25T12:00:00Z",
        "fieldsV1": {"f:metadata": {"f:annotations": {"f:azure.workload.identity/client-id": {}}}}}]


def stale_client_id(s: ClusterState) -> None:
    for env in s.pod_env():
        if env["name"] == "AZURE_CLIENT_ID":
            env["value"] = "11111111-2222-3333-4444-555555555555"


def fresh_pod_after_annotation(s: ClusterState) -> None:
    s.service_account["metadata"]["managedFields"] = [{
        "manager": "kubectl-annotate", "operation": "Update", "time": "2026-11-19T12:00:00Z",
        "fieldsV1": {"f:metadata": {"f:annotations": {"f:azure.workload.identity/client-id": {}}}}}]


def remove_webhook(s: ClusterState) -> None:
    s.remove("MutatingWebhookConfiguration", "azure-wi-webhook-mutating-webhook-configuration")


def aks_managed_webhook(s: ClusterState) -> None:
    # The AKS-managed webhook: same configuration, served from kube-system, WI enabled on the cluster.
    mwc = s.find("MutatingWebhookConfiguration", "azure-wi-webhook-mutating-webhook-configuration")
    mwc["webhooks"][0]["clientConfig"]["service"]["namespace"] = "kube-system"
    s.aks["properties"]["securityProfile"]["workloadIdentity"]["enabled"] = True


def webhook_failing(s: ClusterState) -> None:
    webhook = s.find("Deployment", "azure-wi-webhook-controller-manager")
    webhook["status"] = {"replicas": 2, "readyReplicas": 0, "availableReplicas": 0}
    s.k8s.append({
        "apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "FailedCreate",
        "metadata": {"name": "keda-operator-6c9f7b5d8.187a", "namespace": "keda"},
        "involvedObject": {"kind": "ReplicaSet", "namespace": "keda", "name": "keda-operator-6c9f7b5d8"},
        "message": 'Error creating: Internal error occurred: failed calling webhook '
                   '"mutation.azure-workload-identity.io": failed to call webhook: Post '
                   '"https://azure-wi-webhook-webhook-service.azure-workload-identity-system.svc:443/'
                   'mutate-v1-pod?timeout=10s": no endpoints available for service '
                   '"azure-wi-webhook-webhook-service"',
        "lastTimestamp": "2026-11-26T09:58:00Z"})


def webhook_normal_event(s: ClusterState) -> None:
    s.k8s.append({
        "apiVersion": "v1", "kind": "Event", "type": "Normal", "reason": "SuccessfulCreate",
        "metadata": {"name": "keda-operator-6c9f7b5d8.187b", "namespace": "keda"},
        "involvedObject": {"kind": "ReplicaSet", "namespace": "keda", "name": "keda-operator-6c9f7b5d8"},
        "message": "Created pod: keda-operator-6c9f7b5d8-x2kqp"})


def _move_keda_to_kube_system(s: ClusterState) -> None:
    for obj in (s.deployment, s.service_account, s.pod):
        obj["metadata"]["namespace"] = "kube-system"
    s.find("APIService", "v1beta1.external.metrics.k8s.io")["spec"]["service"]["namespace"] = "kube-system"


def kube_system_self_managed(s: ClusterState) -> None:
    _move_keda_to_kube_system(s)


def kube_system_opted_out(s: ClusterState) -> None:
    _move_keda_to_kube_system(s)
    mwc = s.find("MutatingWebhookConfiguration", "azure-wi-webhook-mutating-webhook-configuration")
    mwc["metadata"]["labels"]["admissions.enforcer/disabled"] = "true"


def hardcoded_stale_env(s: ClusterState) -> None:
    container = s.deployment["spec"]["template"]["spec"]["containers"][0]
    container["env"].append({"name": "AZURE_FEDERATED_TOKEN_FILE",
                             "value": "/var/run/secrets/azure/tokens/azure-identity-token"})


def token_expiration_too_low(s: ClusterState) -> None:
    s.service_account["metadata"]["annotations"]["azure.workload.identity/service-account-token-expiration"] = "600"


def token_expiration_valid(s: ClusterState) -> None:
    s.service_account["metadata"]["annotations"]["azure.workload.identity/service-account-token-expiration"] = "86400"


CASES = [
    Case("wi-pod-label-missing", drop_template_label, sa_label_only),
    Case("wi-pod-label-missing", label_false, nothing, "false"),
    Case("wi-sa-clientid-missing", drop_sa_client_id, drop_sa_client_id_but_hardcode),
    Case("wi-pod-stale-not-restarted", stale_pod, fresh_pod_after_annotation),
    Case("wi-pod-stale-not-restarted", stale_client_id, nothing, "old-client-id"),
    Case("wi-webhook-absent", remove_webhook, aks_managed_webhook),
    Case("wi-webhook-unavailable", webhook_failing, webhook_normal_event),
    Case("wi-kube-system-excluded", kube_system_self_managed, kube_system_opted_out),
    Case("wi-env-hardcoded-stale", hardcoded_stale_env, nothing),
    Case("wi-token-expiration-invalid", token_expiration_too_low, token_expiration_valid),
]



def test_missing_label_is_the_root_cause_and_the_log_line_its_symptom(tmp_path: Path) -> None:
    state = healthy()
    drop_template_label(state)
    state.logs["keda/keda-operator-6c9f7b5d8-x2kqp"] = (
        '2026-11-26T09:59:01Z\tERROR\tazure_servicebus_scaler\terror getting service bus entity length\t'
        '{"type": "ScaledObject", "namespace": "orders", "name": "orders-processor", '
        '"error": "sources must contain at least one TokenCredential"}\n')
    report = diagnose_state(state, tmp_path)
    root = report.root_cause
    assert root is not None and root.id == "wi-pod-label-missing"
    assert any("sources must contain at least one TokenCredential" in s for s in root.symptoms)
    assert [f.id for f in report.findings].count("wi-pod-label-missing") == 1
    assert report.exit_code == 2


def test_no_workload_identity_in_use_means_no_injection_findings(tmp_path: Path) -> None:
    state = healthy()
    drop_template_label(state)
    state.trigger_auth["spec"] = {"secretTargetRef": [{"parameter": "connection", "name": "sb", "key": "conn"}]}
    assert not {i for i in finding_ids(diagnose_state(state, tmp_path)) if i.startswith("wi-")}
