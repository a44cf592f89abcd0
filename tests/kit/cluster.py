"""A healthy KEDA + Workload Identity + Service Bus setup, built from the real upstream manifests.

Tests take a fresh ClusterState, break one link of the chain, write it as a bundle and diagnose it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.kit.fixtures import document

KEDA_VERSION = "2.20.2"
AWI_VERSION = "v1.6.0"
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
RG = "rg-prod-weu"
CLUSTER = "aks-prod-weu"
ISSUER = f"https://westeurope.oic.prod-aks.azure.com/{TENANT}/3c1f9ad1-3f2a-4d0e-9f5c-6f3b2a1e9c11/"
KEDA_ID = "keda-id"
KEDA_CLIENT = "6f0a9b52-3b2f-4a8e-9d71-0c8f4e2a7b13"
KEDA_PRINCIPAL = "9d2c8e41-7a5b-4f06-b3e9-1f4d6c8a2e57"
SB_NAMESPACE = "sb-prod-weu"
QUEUE = "orders"
APP_NS = "orders"
NOW = "2026-11-26T10:00:00Z"
SB_DATA_OWNER = "090c5cfd-751d-490a-894a-3ce6f1109419"


def identity_id(name: str, rg: str = RG) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"


def sb_namespace_id(name: str = SB_NAMESPACE) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ServiceBus/namespaces/{name}"


def role_definition_id(guid: str) -> str:
    return f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def _volume_name(pod_name: str) -> str:
    # AWI >= 1.6 names the projected token volume after a hash of the pod name.
    return "azure-workload-identity-reserved-" + hashlib.sha256(pod_name.encode()).hexdigest()[:10]


@dataclass
class ClusterState:
    k8s: list[dict[str, Any]] = field(default_factory=list)
    azure: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)  # "namespace/pod[.container]" -> text
    manifest: dict[str, Any] | None = None

    # -- lookups that return the live, mutable dicts
    def find(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        for obj in self.k8s:
            meta = obj["metadata"]
            if obj["kind"] == kind and meta["name"] == name and (namespace is None or
                                                                 meta.get("namespace") == namespace):
                return obj
        raise KeyError(f"{kind}/{namespace}/{name}")

    def all(self, kind: str) -> Iterator[dict[str, Any]]:
        return (o for o in self.k8s if o["kind"] == kind)

    def remove(self, kind: str, name: str, namespace: str | None = None) -> None:
        self.k8s.remove(self.find(kind, name, namespace))

    def arm(self, type_suffix: str, name: str | None = None) -> dict[str, Any]:
        for res in self.azure:
            if res["type"].lower().endswith(type_suffix.lower()) and (name is None or res["name"] == name):
                return res
        raise KeyError(f"{type_suffix}/{name}")

    def arm_all(self, type_suffix: str) -> list[dict[str, Any]]:
        return [r for r in self.azure if r["type"].lower().endswith(type_suffix.lower())]

    @property
    def deployment(self) -> dict[str, Any]:
        return self.find("Deployment", "keda-operator")

    @property
    def service_account(self) -> dict[str, Any]:
        return self.find("ServiceAccount", "keda-operator")

    @property
    def pod(self) -> dict[str, Any]:
        return next(p for p in self.all("Pod") if p["metadata"]["name"].startswith("keda-operator-"))

    def pod_env(self) -> list[dict[str, Any]]:
        container: list[dict[str, Any]] = self.pod["spec"]["containers"][0]["env"]
        return container

    @property
    def trigger_auth(self) -> dict[str, Any]:
        return self.find("TriggerAuthentication", "sb-auth", APP_NS)

    @property
    def scaled_object(self) -> dict[str, Any]:
        return self.find("ScaledObject", "orders-processor", APP_NS)

    @property
    def trigger(self) -> dict[str, Any]:
        trig: dict[str, Any] = self.scaled_object["spec"]["triggers"][0]
        return trig

    @property
    def aks(self) -> dict[str, Any]:
        return self.arm("managedClusters")

    # -- writing
    def write(self, directory: Path) -> Path:
        (directory / "kubernetes").mkdir(parents=True, exist_ok=True)
        (directory / "azure").mkdir(exist_ok=True)
        with (directory / "kubernetes" / "cluster.yaml").open("w", encoding="utf-8") as out:
            yaml.safe_dump_all(self.k8s, out, sort_keys=False)
        (directory / "azure" / "resources.json").write_text(json.dumps(self.azure, indent=2), encoding="utf-8")
        for key, text in self.logs.items():
            namespace, stem = key.split("/", 1)
            path = directory / "logs" / namespace / f"{stem}.log"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if self.manifest is not None:
            (directory / "manifest.json").write_text(json.dumps(self.manifest, indent=2), encoding="utf-8")
        return directory

    # -- building blocks tests reuse
    def add_identity(self, name: str, client_id: str, principal_id: str, tenant: str = TENANT,
                     created: str = "2026-01-10T08:00:00Z") -> dict[str, Any]:
        """An identity as `az identity show` prints it (the flattened CLI shape)."""
        res = {
            "clientId": client_id, "id": identity_id(name), "location": "westeurope", "name": name,
            "principalId": principal_id, "resourceGroup": RG, "tenantId": tenant,
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
            "systemData": {"createdAt": created},
        }
        self.azure.append(res)
        return res

    def add_fic(self, identity: str, name: str, subject: str, issuer: str = ISSUER,
                audiences: list[str] | None = None, created: str = "2026-01-10T08:05:00Z") -> dict[str, Any]:
        """A federated credential in the REST shape (nested properties)."""
        res = {
            "id": f"{identity_id(identity)}/federatedIdentityCredentials/{name}",
            "name": name,
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
            "properties": {"issuer": issuer, "subject": subject,
                           "audiences": audiences or ["api://AzureADTokenExchange"]},
            "systemData": {"createdAt": created},
        }
        self.azure.append(res)
        return res

    def add_role_assignment(self, principal_id: str, role_guid: str, scope: str,
                            created: str = "2026-01-10T08:10:00Z", principal_type: str = "ServicePrincipal",
                            name: str | None = None) -> dict[str, Any]:
        """A role assignment as `az role assignment list` prints it (flattened)."""
        ra_name = name or hashlib.md5(f"{principal_id}{role_guid}{scope}".encode()).hexdigest()
        ra_name = f"{ra_name[:8]}-{ra_name[8:12]}-{ra_name[12:16]}-{ra_name[16:20]}-{ra_name[20:32]}"
        res = {
            "createdOn": created, "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{ra_name}",
            "name": ra_name, "principalId": principal_id, "principalType": principal_type,
            "roleDefinitionId": role_definition_id(role_guid), "scope": scope,
            "type": "Microsoft.Authorization/roleAssignments",
        }
        self.azure.append(res)
        return res


def _operator_deployment() -> dict[str, Any]:
    deploy = document(f"keda/manager/{KEDA_VERSION}/manager.yaml", "Deployment", "keda-operator")
    deploy["metadata"]["labels"]["app.kubernetes.io/version"] = KEDA_VERSION
    deploy["metadata"]["creationTimestamp"] = "2026-01-10T09:00:00Z"
    deploy["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] = "true"
    deploy["spec"]["template"]["spec"]["containers"][0]["image"] = f"ghcr.io/kedacore/keda:{KEDA_VERSION}"
    deploy["status"] = {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}
    return deploy


def _operator_pod(deploy: dict[str, Any]) -> dict[str, Any]:
    """What the Workload Identity webhook (v1.6 paths) makes of the operator pod template."""
    name = "keda-operator-6c9f7b5d8-x2kqp"
    template = json.loads(json.dumps(deploy["spec"]["template"]))
    spec = template["spec"]
    volume = _volume_name(name)
    container = spec["containers"][0]
    container["env"] = container.get("env", []) + [
        {"name": "AZURE_CLIENT_ID", "value": KEDA_CLIENT},
        {"name": "AZURE_TENANT_ID", "value": TENANT},
        {"name": "AZURE_FEDERATED_TOKEN_FILE", "value": "/var/run/secrets/azure/wi/token/azure-identity-token"},
        {"name": "AZURE_AUTHORITY_HOST", "value": "https://login.microsoftonline.com/"},
    ]
    container["volumeMounts"] = container.get("volumeMounts", []) + [
        {"name": volume, "mountPath": "/var/run/secrets/azure/wi/token", "readOnly": True}]
    spec["volumes"] = spec.get("volumes", []) + [{"name": volume, "projected": {"sources": [
        {"serviceAccountToken": {"audience": "api://AzureADTokenExchange", "expirationSeconds": 3600,
                                 "path": "azure-identity-token"}}]}}]
    labels = dict(template["metadata"]["labels"], **{"pod-template-hash": "6c9f7b5d8"})
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "keda", "labels": labels,
                     "creationTimestamp": "2026-11-20T07:30:00Z",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "name": "keda-operator-6c9f7b5d8", "controller": True,
                                          "uid": "5b0e9d2c-6a1f-4c3e-8d7b-2f9a1e4c6b80"}]},
        "spec": spec,
        "status": {"phase": "Running"},
    }


def _crds() -> list[dict[str, Any]]:
    crds = []
    for plural in ("scaledobjects", "triggerauthentications", "clustertriggerauthentications"):
        crd = document(f"keda/crds/{KEDA_VERSION}/keda.sh_{plural}.yaml", "CustomResourceDefinition")
        crd["metadata"].setdefault("labels", {})["app.kubernetes.io/version"] = KEDA_VERSION
        crd["metadata"]["labels"]["app.kubernetes.io/part-of"] = "keda-operator"
        crds.append(crd)
    return crds


def healthy() -> ClusterState:
    """KEDA 2.20.2 (Helm, namespace keda) + self-managed AWI webhook v1.6.0 on AKS 1.34, scaling a queue."""
    webhook = f"azure-workload-identity/{AWI_VERSION}/azure-wi-webhook.yaml"
    deploy = _operator_deployment()
    sa = document(f"keda/manager/{KEDA_VERSION}/service_account.yaml", "ServiceAccount")
    sa["metadata"]["labels"]["azure.workload.identity/use"] = "true"
    sa["metadata"]["annotations"] = {"azure.workload.identity/client-id": KEDA_CLIENT,
                                     "azure.workload.identity/tenant-id": TENANT}
    sa["metadata"]["creationTimestamp"] = "2026-01-10T09:00:00Z"
    webhook_deploy = document(webhook, "Deployment")
    webhook_deploy["status"] = {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2}
    state = ClusterState(manifest={
        "format": "keda-auth-bundle/v1", "collected_at": NOW, "collected_by": "keda-auth tests",
        "cluster": {"name": CLUSTER, "server_version": "v1.34.2"},
        "azure": {"subscription_id": SUB, "tenant_id": TENANT}, "redacted": True,
    })
    state.k8s += [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "keda"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": APP_NS}},
        *_crds(), deploy, sa, _operator_pod(deploy),
        document(webhook, "MutatingWebhookConfiguration"), webhook_deploy,
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
         "metadata": {"name": "v1beta1.external.metrics.k8s.io"},
         "spec": {"group": "external.metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                  "versionPriority": 100,
                  "service": {"name": "keda-operator-metrics-apiserver", "namespace": "keda", "port": 443}}},
        {"apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication",
         "metadata": {"name": "sb-auth", "namespace": APP_NS},
         "spec": {"podIdentity": {"provider": "azure-workload"}}},
        {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
         "metadata": {"name": "orders-processor", "namespace": APP_NS},
         "spec": {"scaleTargetRef": {"name": "orders-processor"}, "minReplicaCount": 0, "maxReplicaCount": 20,
                  "triggers": [{"type": "azure-servicebus",
                                "metadata": {"queueName": QUEUE, "namespace": SB_NAMESPACE,
                                             "messageCount": "5"},
                                "authenticationRef": {"name": "sb-auth"}}]}},
    ]
    state.azure.append({
        "id": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/"
              f"managedClusters/{CLUSTER}",
        "name": CLUSTER, "type": "Microsoft.ContainerService/managedClusters", "location": "westeurope",
        "properties": {"kubernetesVersion": "1.34.2", "currentKubernetesVersion": "1.34.2",
                       "oidcIssuerProfile": {"enabled": True, "issuerURL": ISSUER},
                       "securityProfile": {"workloadIdentity": {"enabled": False}},
                       "workloadAutoScalerProfile": {}},
    })
    state.add_identity(KEDA_ID, KEDA_CLIENT, KEDA_PRINCIPAL)
    state.add_fic(KEDA_ID, "keda-operator", "system:serviceaccount:keda:keda-operator")
    state.azure += [
        {"id": sb_namespace_id(), "name": SB_NAMESPACE, "type": "Microsoft.ServiceBus/Namespaces",
         "location": "westeurope", "properties": {"serviceBusEndpoint": f"https://{SB_NAMESPACE}.servicebus.windows.net:443/"}},
        {"id": f"{sb_namespace_id()}/queues/{QUEUE}", "name": QUEUE,
         "type": "Microsoft.ServiceBus/Namespaces/Queues", "properties": {"status": "Active"}},
    ]
    state.add_role_assignment(KEDA_PRINCIPAL, SB_DATA_OWNER, sb_namespace_id())
    return state
