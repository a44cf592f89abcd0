"""The operator Deployment's rollout and whether its pods carry the current Workload Identity injection."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bot.diagnosis.chain import container_env, operator_container
from bot.execute.kube_api import KubeApi
from remediations.fixes.kube import WI_CLIENT_ID, WI_TENANT_ID, WI_USE_LABEL, kube_ref
from remediations.model import KubeRef


def rolled_out(deployment: dict[str, Any]) -> bool:
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    meta = deployment.get("metadata") or {}
    wanted = int(spec.get("replicas", 1))
    return (int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
            and int(status.get("updatedReplicas") or 0) == wanted
            and int(status.get("replicas") or 0) == wanted
            and int(status.get("availableReplicas") or 0) == wanted)


def wait_rollout(kube: KubeApi, ref: KubeRef, timeout: float, interval: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        deployment = kube.get(ref)
        if deployment is None or rolled_out(deployment):
            return deployment is not None
        if time.monotonic() >= deadline:
            return False
        sleep(interval)


def stale_pods(kube: KubeApi, deployment: dict[str, Any]) -> list[str]:
    """Running pods of the Deployment that lack what the webhook would inject today (pod label, token file,
    the ServiceAccount's clientId and tenant): "<pod>: <why>"; [] when every pod is current."""
    meta, spec = deployment.get("metadata") or {}, deployment.get("spec") or {}
    namespace = str(meta.get("namespace") or "")
    template = spec.get("template") or {}
    pod_spec = template.get("spec") or {}
    if ((template.get("metadata") or {}).get("labels") or {}).get(WI_USE_LABEL) != "true":
        return []  # not a Workload Identity pod: a restart would inject nothing
    sa_name = pod_spec.get("serviceAccountName") or "default"
    sa = kube.get(kube_ref("ServiceAccount", namespace, sa_name)) or {}
    annotations = (sa.get("metadata") or {}).get("annotations") or {}
    written = container_env(operator_container(pod_spec) or {})
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    pods = kube.list_items(f"/api/v1/namespaces/{namespace}/pods", [("labelSelector", label_selector)])
    stale = []
    for pod in pods:
        pod_meta = pod.get("metadata") or {}
        if pod_meta.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") not in (None, "Running",
                                                                                                "Pending"):
            continue
        env = container_env(operator_container(pod.get("spec") or {}) or {})
        why = []
        if (pod_meta.get("labels") or {}).get(WI_USE_LABEL) != "true":
            why.append("no Workload Identity label")
        if "AZURE_FEDERATED_TOKEN_FILE" not in env:
            why.append("no AZURE_FEDERATED_TOKEN_FILE")
        for key, var in ((WI_CLIENT_ID, "AZURE_CLIENT_ID"), (WI_TENANT_ID, "AZURE_TENANT_ID")):
            want = annotations.get(key)
            pod_var = env.get(var)
            if want and var not in written and (pod_var.value if pod_var else None) != want:
                why.append(f"{var} is not {want}")
        if why:
            stale.append(f"{pod_meta.get('name')}: {', '.join(why)}")
    return stale
