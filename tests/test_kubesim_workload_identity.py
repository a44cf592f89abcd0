"""What the Workload Identity webhook, rollouts, TokenRequest and pod logs look like through the official client.

These are the behaviours keda-auth's checks and fixes depend on, so they also run against a real
cluster (with its own webhook) when KUBECONFIG is set.
"""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from kubernetes.client.rest import ApiException

from tests.kit.seed import (
    apply,
    awi_webhook_manifest,
    container_env,
    ensure_awi_webhook,
    install_keda_operator,
    operator_pods,
)
from tests.kit.sim.oidc import verify
from tests.kit.targets import Kube, eventually

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "6f0a9b52-3b2f-4a8e-9d71-0c8f4e2a7b13"
V16_TOKEN = "/var/run/secrets/azure/wi/token/azure-identity-token"
V15_TOKEN = "/var/run/secrets/azure/tokens/azure-identity-token"


def _one_running_pod(kube: Kube) -> Any:
    def check() -> Any:
        pods = [p for p in operator_pods(kube) if p.metadata.deletion_timestamp is None]
        assert len(pods) == 1 and pods[0].status.phase == "Running", [p.metadata.name for p in pods]
        return pods[0]

    return eventually(check)


def test_webhook_injects_identity_env_and_projected_token(kube: Kube) -> None:
    ensure_awi_webhook(kube, TENANT)
    install_keda_operator(kube, CLIENT, TENANT)
    pod = _one_running_pod(kube)
    env = container_env(pod)
    assert env["AZURE_CLIENT_ID"] == CLIENT and env["AZURE_TENANT_ID"] == TENANT
    assert env["AZURE_AUTHORITY_HOST"] == "https://login.microsoftonline.com/"
    token_dir = env["AZURE_FEDERATED_TOKEN_FILE"].rsplit("/", 1)[0]
    mount = next(m for m in pod.spec.containers[0].volume_mounts if m.mount_path == token_dir)
    volume = next(v for v in pod.spec.volumes if v.name == mount.name)
    source = volume.projected.sources[0].service_account_token
    assert source.audience == "api://AzureADTokenExchange" and source.expiration_seconds == 3600


def test_v16_webhook_uses_the_new_token_path_and_v10_the_old_one(kube: Kube) -> None:
    kube.require_sim("installs a specific webhook version")
    ensure_awi_webhook(kube, TENANT, version="v1.6.0")
    install_keda_operator(kube, CLIENT, TENANT)
    assert container_env(_one_running_pod(kube))["AZURE_FEDERATED_TOKEN_FILE"] == V16_TOKEN
    kube.apps.patch_namespaced_deployment(
        "azure-wi-webhook-controller-manager", "azure-workload-identity-system",
        {"spec": {"template": {"spec": {"containers": [
            {"name": "manager", "image": "mcr.microsoft.com/oss/azure/workload-identity/webhook:v1.0.0"}]}}}})
    kube.apps.patch_namespaced_deployment("keda-operator", kube.namespace, {"spec": {"template": {"metadata": {
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-26T10:00:00Z"}}}}})
    pod = _one_running_pod(kube)
    assert container_env(pod)["AZURE_FEDERATED_TOKEN_FILE"] == V15_TOKEN
    assert "azure-identity-token" in {v.name for v in pod.spec.volumes}


def test_without_client_id_annotation_no_client_id_is_injected(kube: Kube) -> None:
    ensure_awi_webhook(kube, TENANT)
    install_keda_operator(kube, None, None)
    env = container_env(_one_running_pod(kube))
    assert "AZURE_CLIENT_ID" not in env
    assert env["AZURE_TENANT_ID"]  # from the webhook's own configuration


def test_hard_coded_env_wins_over_injection(kube: Kube) -> None:
    ensure_awi_webhook(kube, TENANT)
    stale = "00000000-0000-0000-0000-00000000dead"
    install_keda_operator(kube, CLIENT, TENANT, env=[{"name": "AZURE_CLIENT_ID", "value": stale}])
    env = container_env(_one_running_pod(kube))
    assert env["AZURE_CLIENT_ID"] == stale
    names = [e.name for e in _one_running_pod(kube).spec.containers[0].env]
    assert names.count("AZURE_CLIENT_ID") == 1


def test_pods_without_the_label_are_not_mutated(kube: Kube) -> None:
    ensure_awi_webhook(kube, TENANT)
    install_keda_operator(kube, CLIENT, TENANT, pod_label=False)
    assert "AZURE_CLIENT_ID" not in container_env(_one_running_pod(kube))


def test_webhook_acts_on_create_only_until_a_rollout_restart(kube: Kube) -> None:
    ensure_awi_webhook(kube, TENANT)
    install_keda_operator(kube, None, TENANT)
    before = _one_running_pod(kube)
    kube.core.patch_namespaced_service_account("keda-operator", kube.namespace, {"metadata": {"annotations": {
        "azure.workload.identity/client-id": CLIENT}}})
    unchanged = kube.core.read_namespaced_pod(before.metadata.name, kube.namespace)
    assert "AZURE_CLIENT_ID" not in container_env(unchanged)
    kube.apps.patch_namespaced_deployment("keda-operator", kube.namespace, {"spec": {"template": {"metadata": {
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-26T10:00:00Z"}}}}})

    def replaced() -> Any:
        pod = _one_running_pod(kube)
        assert pod.metadata.name != before.metadata.name
        return pod

    assert container_env(replaced())["AZURE_CLIENT_ID"] == CLIENT

    def rolled_out() -> None:
        deploy = kube.apps.read_namespaced_deployment("keda-operator", kube.namespace)
        assert deploy.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
        assert deploy.status.observed_generation == deploy.metadata.generation
        assert deploy.status.updated_replicas == 1 and deploy.status.ready_replicas == 1

    eventually(rolled_out)


def test_a_running_pod_spec_is_immutable(kube: Kube) -> None:
    ensure_awi_webhook(kube, TENANT)
    install_keda_operator(kube, CLIENT, TENANT)
    pod = _one_running_pod(kube)
    with pytest.raises(ApiException) as refused:
        kube.core.patch_namespaced_pod(pod.metadata.name, kube.namespace, {"spec": {"containers": [
            {"name": "keda-operator", "env": [{"name": "AZURE_CLIENT_ID", "value": "x"}]}]}})
    assert refused.value.status == 422 and "pod updates may not change fields" in json.loads(refused.value.body)[
        "message"]


def test_token_expiration_out_of_range_is_denied_by_the_webhook(kube: Kube) -> None:
    ensure_awi_webhook(kube, TENANT)
    install_keda_operator(kube, CLIENT, TENANT,
                          sa_annotations={"azure.workload.identity/service-account-token-expiration": "100"})

    def failed() -> None:
        events = kube.core.list_namespaced_event(kube.namespace, field_selector="reason=FailedCreate").items
        assert any("token expiration 100 not valid" in e.message for e in events)

    eventually(failed)
    assert operator_pods(kube) == []


def test_an_unavailable_webhook_blocks_labelled_pods(kube: Kube) -> None:
    kube.require_sim("scales the cluster's webhook to zero")
    apply(kube, awi_webhook_manifest("v1.6.0", TENANT))
    kube.apps.patch_namespaced_deployment("azure-wi-webhook-controller-manager", "azure-workload-identity-system",
                                          {"spec": {"replicas": 0}})
    install_keda_operator(kube, CLIENT, TENANT)
    assert operator_pods(kube) == []
    deploy = kube.apps.read_namespaced_deployment("keda-operator", kube.namespace)
    failure = next(c for c in deploy.status.conditions if c.type == "ReplicaFailure")
    assert 'failed calling webhook "mutation.azure-workload-identity.io"' in failure.message
    assert deploy.status.available_replicas == 0


def test_a_missing_service_account_blocks_pod_creation(kube: Kube) -> None:
    from tests.kit.seed import keda_operator_deployment

    kube.apps.create_namespaced_deployment(kube.namespace, keda_operator_deployment())

    def failed() -> None:
        events = kube.core.list_namespaced_event(kube.namespace, field_selector="reason=FailedCreate").items
        assert any('serviceaccount "keda-operator" not found' in e.message for e in events)

    eventually(failed)


def test_token_request_issues_a_verifiable_service_account_token(kube: Kube) -> None:
    kube.core.create_namespaced_service_account(kube.namespace, {"metadata": {"name": "keda-operator"}})
    response = kube.core.create_namespaced_service_account_token("keda-operator", kube.namespace, {
        "spec": {"audiences": ["api://AzureADTokenExchange"], "expirationSeconds": 3600}})
    token = response.status.token
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == f"system:serviceaccount:{kube.namespace}:keda-operator"
    assert claims["aud"] == ["api://AzureADTokenExchange"]
    assert claims["exp"] - claims["iat"] == 3600
    sim = kube.require_sim("a real issuer's keys are fetched from its public discovery URL, not the API server")
    status, discovery, _ = kube.raw("GET", "/.well-known/openid-configuration")
    assert status == 200 and discovery["issuer"] == claims["iss"] == sim.issuer.issuer
    _, jwks, _ = kube.raw("GET", "/openid/v1/jwks")
    assert verify(token, jwks)["sub"] == claims["sub"]
    with pytest.raises(ApiException) as short:
        kube.core.create_namespaced_service_account_token("keda-operator", kube.namespace, {
            "spec": {"audiences": ["x"], "expirationSeconds": 60}})
    assert short.value.status == 422


def test_pod_logs_tail_and_since(kube: Kube) -> None:
    sim = kube.require_sim("container output is written by the kubelet, not through the API")
    install_keda_operator(kube, CLIENT, TENANT, pod_label=False)
    pod = _one_running_pod(kube).metadata.name
    sim.write_log(kube.namespace, pod, "keda-operator", ["old line"], at=sim.clock.now() - 3600)
    sim.write_log(kube.namespace, pod, "keda-operator", [f"line {i}" for i in range(5)])
    assert kube.core.read_namespaced_pod_log(pod, kube.namespace, tail_lines=2) == "line 3\nline 4\n"
    recent = kube.core.read_namespaced_pod_log(pod, kube.namespace, since_seconds=60, container="keda-operator")
    assert "old line" not in recent and recent.count("\n") == 5
    stamped = kube.core.read_namespaced_pod_log(pod, kube.namespace, tail_lines=1, timestamps=True)
    assert stamped.endswith("Z line 4\n")
    with pytest.raises(ApiException) as wrong:
        kube.core.read_namespaced_pod_log(pod, kube.namespace, container="nope")
    assert wrong.value.status == 400
