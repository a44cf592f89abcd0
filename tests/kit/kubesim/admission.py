"""Admission on Pod CREATE: the ServiceAccount plugin and the Azure Workload Identity mutating webhook.

The webhook is emulated only where a real one would run: a MutatingWebhookConfiguration carrying the
`mutation.azure-workload-identity.io` webhook must exist, its rules, objectSelector and namespaceSelector
must match, and a ready pod must back its Service (else `failurePolicy: Fail` refuses the pod, like a real
cluster whose webhook is down). The token path follows the webhook's image tag (v1.6 moved it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from tests.kit.kubesim.errors import ApiError
from tests.kit.kubesim.selectors import labels_match, selector_from_label_selector
from tests.kit.kubesim.store import random_suffix

Find = Callable[[str, str, str, str], dict[str, Any] | None]  # (group, plural, namespace, name)
ListOf = Callable[[str, str, str | None], list[dict[str, Any]]]  # (group, plural, namespace)

WEBHOOK_NAME = "mutation.azure-workload-identity.io"
LABEL_USE = "azure.workload.identity/use"
ANNOTATION_CLIENT_ID = "azure.workload.identity/client-id"
ANNOTATION_TENANT_ID = "azure.workload.identity/tenant-id"
ANNOTATION_EXPIRATION = "azure.workload.identity/service-account-token-expiration"
ANNOTATION_SKIP = "azure.workload.identity/skip-containers"
AUDIENCE = "api://AzureADTokenExchange"
TOKEN_FILE = "azure-identity-token"
AUTHORITY_HOSTS = {
    "azurepubliccloud": "https://login.microsoftonline.com/",
    "azurechinacloud": "https://login.chinacloudapi.cn/",
    "azureusgovernmentcloud": "https://login.microsoftonline.us/",
}


def service_account_admission(pod: dict[str, Any], namespace: str, find: Find) -> None:
    """Default the ServiceAccount, refuse a missing one, mount its API token."""
    spec = pod["spec"]
    account = spec.setdefault("serviceAccountName", "default")
    spec["serviceAccount"] = account
    sa = find("", "serviceaccounts", namespace, account)
    if sa is None:
        name = pod["metadata"].get("name") or pod["metadata"].get("generateName", "")
        raise ApiError(403, "Forbidden", f'pods "{name}" is forbidden: error looking up service account '
                                         f'{namespace}/{account}: serviceaccount "{account}" not found',
                       {"name": name, "kind": "pods"})
    automount = spec.get("automountServiceAccountToken", sa.get("automountServiceAccountToken", True))
    if automount is False:
        return
    volume = f"kube-api-access-{random_suffix()}"
    spec.setdefault("volumes", []).append({"name": volume, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "metadata.namespace"}}]}},
    ]}})
    for group in ("initContainers", "containers"):
        for container in spec.get(group) or []:
            container.setdefault("volumeMounts", []).append(
                {"name": volume, "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})


def _rule_matches_pod_create(webhook: dict[str, Any]) -> bool:
    for rule in webhook.get("rules") or []:
        ops = rule.get("operations") or []
        resources = rule.get("resources") or []
        if ("CREATE" in ops or "*" in ops) and ("pods" in resources or "*" in resources) \
                and set(rule.get("apiGroups") or [""]) & {"", "*"}:
            return True
    return False


def _webhook_image_version(service: dict[str, Any], pods: list[dict[str, Any]]) -> tuple[int, ...] | None:
    """The version of the ready webhook pods behind `service`, or None when no pod can answer."""
    selector = selector_from_label_selector({"matchLabels": (service.get("spec") or {}).get("selector") or {}})
    for pod in pods:
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (pod.get("status") or {}).get("conditions") or [])
        if ready and labels_match(selector, pod["metadata"].get("labels")):
            image = pod["spec"]["containers"][0].get("image", "")
            match = re.search(r":v?(\d+)\.(\d+)\.(\d+)", image)
            return tuple(int(g) for g in match.groups()) if match else (1, 6, 0)
    return None


def workload_identity_webhook(pod: dict[str, Any], namespace: str, find: Find, list_of: ListOf) -> None:
    namespace_obj = find("", "namespaces", "", namespace) or {"metadata": {"labels": {}}}
    for config in list_of("admissionregistration.k8s.io", "mutatingwebhookconfigurations", None):
        for webhook in config.get("webhooks") or []:
            if webhook.get("name") != WEBHOOK_NAME or not _rule_matches_pod_create(webhook):
                continue
            if not labels_match(selector_from_label_selector(webhook.get("objectSelector")),
                                pod["metadata"].get("labels")):
                continue
            if not labels_match(selector_from_label_selector(webhook.get("namespaceSelector")),
                                namespace_obj["metadata"].get("labels")):
                continue
            ref = (webhook.get("clientConfig") or {}).get("service") or {}
            service = find("", "services", ref.get("namespace", ""), ref.get("name", ""))
            version = None if service is None else _webhook_image_version(
                service, list_of("", "pods", ref.get("namespace", "")))
            if version is None:
                if webhook.get("failurePolicy", "Fail") == "Ignore":
                    continue
                raise ApiError.internal(
                    f'failed calling webhook "{WEBHOOK_NAME}": failed to call webhook: Post '
                    f'"https://{ref.get("name")}.{ref.get("namespace")}.svc:443{ref.get("path", "/mutate-v1-pod")}'
                    f'?timeout=10s": no endpoints available for service "{ref.get("name")}"')
            config_map = find("", "configmaps", ref.get("namespace", ""), "azure-wi-webhook-config") or {}
            _mutate(pod, namespace, find, version, config_map.get("data") or {})
            return


def _mutate(pod: dict[str, Any], namespace: str, find: Find, version: tuple[int, ...],
            config: dict[str, str]) -> None:
    spec = pod["spec"]
    sa = find("", "serviceaccounts", namespace, spec.get("serviceAccountName", "default")) or {"metadata": {}}
    sa_annotations = sa["metadata"].get("annotations") or {}
    pod_annotations = pod["metadata"].get("annotations") or {}
    expiration_text = pod_annotations.get(ANNOTATION_EXPIRATION) or sa_annotations.get(ANNOTATION_EXPIRATION)
    expiration = 3600
    if expiration_text:
        try:
            expiration = int(expiration_text)
        except ValueError:
            expiration = -1
        if not 3600 <= expiration <= 86400:
            raise ApiError(400, "BadRequest", f'admission webhook "{WEBHOOK_NAME}" denied the request: token '
                                              f"expiration {expiration_text} not valid. Expected value to be "
                                              "between 3600 and 86400")
    client_id = sa_annotations.get(ANNOTATION_CLIENT_ID, "")
    tenant_id = sa_annotations.get(ANNOTATION_TENANT_ID) or config.get("AZURE_TENANT_ID", "")
    authority = AUTHORITY_HOSTS.get(config.get("AZURE_ENVIRONMENT", "AzurePublicCloud").lower(),
                                    AUTHORITY_HOSTS["azurepubliccloud"])
    if version >= (1, 6, 0):
        seed = pod["metadata"].get("name") or pod["metadata"].get("generateName", "")
        volume = "azure-workload-identity-reserved-" + hashlib.sha256(seed.encode()).hexdigest()[:10]
        directory = "/var/run/secrets/azure/wi/token"
    else:
        volume, directory = "azure-identity-token", "/var/run/secrets/azure/tokens"
    env = [("AZURE_CLIENT_ID", client_id), ("AZURE_TENANT_ID", tenant_id),
           ("AZURE_FEDERATED_TOKEN_FILE", f"{directory}/{TOKEN_FILE}"), ("AZURE_AUTHORITY_HOST", authority)]
    skipped = {c.strip() for c in pod_annotations.get(ANNOTATION_SKIP, "").split(";") if c.strip()}
    for group in ("initContainers", "containers"):
        for container in spec.get(group) or []:
            if container.get("name") in skipped:
                continue
            present = {e.get("name") for e in container.get("env") or []}
            for name, value in env:
                if name not in present and not (name == "AZURE_CLIENT_ID" and not value):
                    container.setdefault("env", []).append({"name": name, "value": value})
            mounts = container.setdefault("volumeMounts", [])
            if not any(m.get("name") == volume for m in mounts):
                mounts.append({"name": volume, "mountPath": directory, "readOnly": True})
    volumes = spec.setdefault("volumes", [])
    if not any(v.get("name") == volume for v in volumes):
        volumes.append({"name": volume, "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {
            "path": TOKEN_FILE, "expirationSeconds": expiration, "audience": AUDIENCE}}]}})
