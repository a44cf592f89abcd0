"""Seed a cluster through its public API, the same way on the simulator and on a real cluster.

Objects come from the real upstream manifests in ../shared/fixtures, changed only the way an installer
changes them (envsubst for the webhook, the Helm chart's Workload Identity label and annotations for KEDA).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from tests.kit.fixtures import document, documents
from tests.kit.targets import Kube

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
WEBHOOK_CONFIG = "azure-wi-webhook-mutating-webhook-configuration"


def apply(kube: Kube, docs: list[dict[str, Any]], namespace: str | None = None) -> list[Any]:
    """Create each object through the dynamic client (discovery → typed route), in file order."""
    dynamic = kube.dynamic()
    created = []
    for doc in docs:
        resource = dynamic.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        target_ns = (namespace or doc["metadata"].get("namespace")) if resource.namespaced else None
        body = copy.deepcopy(doc)
        if target_ns:
            body["metadata"]["namespace"] = target_ns
        created.append(resource.create(body=body, namespace=target_ns))
    return created


def awi_webhook_manifest(version: str, tenant_id: str, environment: str = "AzurePublicCloud") -> list[dict[str, Any]]:
    docs = documents(f"azure-workload-identity/{version}/azure-wi-webhook.yaml")
    for doc in docs:
        if doc["kind"] == "ConfigMap":
            doc["data"] = {"AZURE_ENVIRONMENT": environment, "AZURE_TENANT_ID": tenant_id}
        doc["metadata"].pop("creationTimestamp", None)
    return docs


def ensure_awi_webhook(kube: Kube, tenant_id: str, version: str = "v1.6.0") -> None:
    """Install the upstream webhook on the simulator; on a real cluster use the one it runs (or skip)."""
    if kube.sim is None:
        try:
            kube.admission.read_mutating_webhook_configuration(WEBHOOK_CONFIG)
        except ApiException as exc:
            if exc.status == 404:
                pytest.skip("the cluster runs no Azure Workload Identity webhook")
            raise
        return
    apply(kube, awi_webhook_manifest(version, tenant_id))


def keda_service_account(client_id: str | None, tenant_id: str | None, version: str = "2.20.2",
                         extra_annotations: dict[str, str] | None = None) -> dict[str, Any]:
    sa = document(f"keda/manager/{version}/service_account.yaml", "ServiceAccount")
    sa["metadata"].pop("namespace", None)
    annotations = dict(extra_annotations or {})
    if client_id is not None:
        annotations["azure.workload.identity/client-id"] = client_id
    if tenant_id is not None:
        annotations["azure.workload.identity/tenant-id"] = tenant_id
    if annotations:
        sa["metadata"]["annotations"] = annotations
    sa["metadata"].setdefault("labels", {})["azure.workload.identity/use"] = "true"
    return sa


def keda_operator_deployment(version: str = "2.20.2", *, pod_label: bool = True,
                             env: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The upstream operator Deployment with the chart's WI pod label; a pause image so real clusters stay calm."""
    deploy = document(f"keda/manager/{version}/manager.yaml", "Deployment", "keda-operator")
    deploy["metadata"].pop("namespace", None)
    template = deploy["spec"]["template"]
    if pod_label:
        template["metadata"]["labels"]["azure.workload.identity/use"] = "true"
    container = template["spec"]["containers"][0]
    container["image"] = PAUSE_IMAGE
    container.pop("command", None)
    container.pop("args", None)
    container.pop("livenessProbe", None)
    container.pop("readinessProbe", None)
    container["env"] = container.get("env", []) + list(env or [])
    # The upstream manifest mounts a cert Secret the operator would create itself; keep it optional.
    for volume in template["spec"].get("volumes") or []:
        if "secret" in volume:
            volume["secret"]["optional"] = True
    return deploy


def install_keda_operator(kube: Kube, client_id: str | None, tenant_id: str | None, *, pod_label: bool = True,
                          env: list[dict[str, str]] | None = None,
                          sa_annotations: dict[str, str] | None = None) -> None:
    kube.core.create_namespaced_service_account(kube.namespace,
                                                keda_service_account(client_id, tenant_id,
                                                                     extra_annotations=sa_annotations))
    kube.apps.create_namespaced_deployment(kube.namespace, keda_operator_deployment(pod_label=pod_label, env=env))


def operator_pods(kube: Kube) -> list[Any]:
    return list(kube.core.list_namespaced_pod(kube.namespace, label_selector="app=keda-operator").items)


def container_env(pod: Any) -> dict[str, str]:
    return {e.name: e.value for e in pod.spec.containers[0].env or []}
