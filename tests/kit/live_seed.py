"""Put a ClusterState into the two simulators, so a live collection (the official clients over HTTP) reads
what the bundle of the same state holds.

A real cluster's state is the product of its history (webhook mutations at pod creation, controllers,
timestamps) that cannot be replayed through the APIs, so this goes through the simulator-only handles:
`KubeSim.preload`, `KubeSim.write_log`, `AzureSim.preload` and both clocks.

    with seeded_simulators(state) as (kube, azure):
        ...  # kube.api_client(), azure.admin_credential(), azure.client_kwargs()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from tests.kit.azuresim import AzureSim
from tests.kit.cluster import SUB, TENANT, ClusterState
from tests.kit.kubesim import KubeSim


def seed_state(state: ClusterState, kube: KubeSim, azure: AzureSim) -> None:
    """Preload `state.k8s` (Namespaces first, then CRDs, then the rest in order), `state.azure` and the logs,
    and set both simulators' clocks to the state's `collected_at`, so ages and propagation delays (FICs or
    role assignments created minutes before the collection) read as they did in the bundle."""
    _set_clocks(state, kube, azure)
    kube.preload(sorted(state.k8s, key=_kube_order))  # sorted() is stable: the rest keep their order
    azure.preload(state.azure)
    for key, text in state.logs.items():
        namespace, pod, container = _log_target(state, key)
        kube.write_log(namespace, pod, container, text.splitlines())


@contextmanager
def seeded_simulators(state: ClusterState) -> Iterator[tuple[KubeSim, AzureSim]]:
    """Both simulators started and seeded with `state`, stopped on exit. Azure gets the state's tenant and
    subscription, the API server the state's Kubernetes version (what `/version` answers)."""
    manifest = state.manifest or {}
    version = (manifest.get("cluster") or {}).get("server_version")
    account = manifest.get("azure") or {}
    kube = KubeSim(server_version=version) if version else KubeSim()
    azure = AzureSim(tenant_id=account.get("tenant_id") or TENANT,
                     subscription_ids=[account.get("subscription_id") or SUB])
    with kube, azure:
        seed_state(state, kube, azure)
        yield kube, azure


def _kube_order(obj: dict[str, Any]) -> int:
    return {"Namespace": 0, "CustomResourceDefinition": 1}.get(str(obj.get("kind")), 2)


def _set_clocks(state: ClusterState, kube: KubeSim, azure: AzureSim) -> None:
    collected = (state.manifest or {}).get("collected_at")
    if not collected:
        return
    at = datetime.fromisoformat(str(collected)).timestamp()
    kube.clock.advance(at - kube.clock.now())
    azure.advance(at - azure.world.clock.now())


def _log_target(state: ClusterState, key: str) -> tuple[str, str, str]:
    """(namespace, pod, container) of a `namespace/pod[.container]` log key.

    Pod names may contain dots, so the pods in the state decide: the whole stem if it names a pod (its first
    container), else the part before the last dot with the container after it. A log of a pod the state does
    not hold is still written (container "" when unnamed), but no API can read it: there is no pod to ask."""
    namespace, stem = key.split("/", 1)
    pods = {p["metadata"]["name"]: p for p in state.all("Pod") if p["metadata"].get("namespace") == namespace}
    if stem in pods:
        containers = pods[stem]["spec"].get("containers") or [{"name": ""}]
        return namespace, stem, str(containers[0]["name"])
    pod, dot, container = stem.rpartition(".")
    if dot and pod:
        return namespace, pod, container
    return namespace, stem, ""
