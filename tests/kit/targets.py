"""Where end-to-end tests run: the simulators by default, a real cluster when KUBECONFIG is set.

Tests get a `Kube` with the official client and a fresh namespace; they seed through the public API
only. What a real cluster has no API for (pod logs, the clock, faults, compaction) sits behind
`require_sim()`, which skips on a real cluster with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.dynamic import DynamicClient

from tests.kit.kubesim import KubeSim


def real_cluster() -> bool:
    return bool(os.environ.get("KUBECONFIG"))


@dataclass
class Kube:
    client: client.ApiClient
    namespace: str
    sim: KubeSim | None

    def require_sim(self, why: str) -> KubeSim:
        if self.sim is None:
            pytest.skip(f"simulator only: {why}")
        return self.sim

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.client)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.client)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.client)

    @property
    def extensions(self) -> client.ApiextensionsV1Api:
        return client.ApiextensionsV1Api(self.client)

    @property
    def admission(self) -> client.AdmissionregistrationV1Api:
        return client.AdmissionregistrationV1Api(self.client)

    def dynamic(self) -> DynamicClient:
        return DynamicClient(self.client)

    def raw(self, method: str, path: str, body: Any = None, content_type: str | None = None,
            query: list[tuple[str, str]] | None = None) -> tuple[int, Any, dict[str, str]]:
        """A request through the client's own transport, returning (status, decoded body, headers)."""
        import json

        from kubernetes.client.rest import ApiException

        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            response = self.client.call_api(*self.client.param_serialize(
                method=method, resource_path=path, query_params=query or [], header_params=headers, body=body,
                auth_settings=["BearerToken"]))
            response.read()
            data, status, got = response.data, response.status, dict(response.getheaders())
        except ApiException as exc:
            data, status, got = exc.body, exc.status, dict(exc.headers or {})
        text = data.decode() if isinstance(data, bytes) else data
        try:
            return status, json.loads(text), got
        except (TypeError, ValueError):
            return status, text, got


@contextmanager
def kube_target(prefix: str = "kat") -> Iterator[Kube]:
    namespace = f"{prefix}-{uuid.uuid4().hex[:8]}"
    if real_cluster():
        api_client = config.new_client_from_config(config_file=os.environ["KUBECONFIG"])
        core = client.CoreV1Api(api_client)
        core.create_namespace({"metadata": {"name": namespace}})
        try:
            yield Kube(api_client, namespace, None)
        finally:
            core.delete_namespace(namespace)
            api_client.close()
        return
    with KubeSim() as sim:
        api_client = sim.api_client()
        client.CoreV1Api(api_client).create_namespace({"metadata": {"name": namespace}})
        try:
            yield Kube(api_client, namespace, sim)
        finally:
            api_client.close()


def eventually(check: Any, timeout: float = 90.0, interval: float = 0.5) -> Any:
    """Retry `check` until it returns without an AssertionError: instant on the simulator, patient on a cluster."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(interval)
