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
    def rbac(self) -> client.RbacAuthorizationV1Api:
        return client.RbacAuthorizationV1Api(self.client)

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


# -- Azure: the ARM + Entra simulator by default, a real subscription when its variables are set
REAL_AZURE_VARIABLES = ("AZURE_SUBSCRIPTION_ID", "AZURE_TENANT_ID", "KEDA_AUTH_E2E_RESOURCE_GROUP",
                        "KEDA_AUTH_E2E_AKS_NAME")


def real_azure() -> bool:
    return all(os.environ.get(v) for v in REAL_AZURE_VARIABLES)


@dataclass
class Azure:
    credential: Any  # an azure-identity credential allowed to create identities, FICs and role assignments
    tenant_id: str
    subscription_id: str
    resource_group: str
    aks_name: str
    client_kwargs: dict[str, Any]  # extra keyword arguments for every mgmt client
    credential_kwargs: dict[str, Any]  # extra keyword arguments for every azure-identity credential
    sim: Any  # AzureSim | None

    def require_sim(self, why: str) -> Any:
        if self.sim is None:
            pytest.skip(f"simulator only: {why}")
        return self.sim

    def scope(self, *parts: str) -> str:
        return "/".join((f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}", *parts))


@contextmanager
def chain_target() -> Iterator[tuple[Kube, Azure]]:
    """A cluster and the subscription its AKS resource lives in, federated by the cluster's OIDC issuer."""
    if real_cluster() != real_azure():
        pytest.skip("end-to-end chain needs both KUBECONFIG and the Azure variables "
                    f"({', '.join(REAL_AZURE_VARIABLES)}), or neither")
    if real_azure():
        from azure.identity import DefaultAzureCredential

        azure = Azure(DefaultAzureCredential(), os.environ["AZURE_TENANT_ID"], os.environ["AZURE_SUBSCRIPTION_ID"],
                      os.environ["KEDA_AUTH_E2E_RESOURCE_GROUP"], os.environ["KEDA_AUTH_E2E_AKS_NAME"], {}, {}, None)
        with kube_target("kat-e2e") as kube:
            yield kube, azure
        return
    from tests.kit.azuresim import AzureSim

    with AzureSim() as sim:
        azure = Azure(sim.admin_credential(), sim.tenant_id, sim.subscription_ids[0], "rg-e2e", "aks-e2e",
                      sim.client_kwargs(), sim.credential_kwargs(), sim)
        issuer = _create_sim_cluster(azure)
        namespace = f"kat-e2e-{uuid.uuid4().hex[:8]}"
        with KubeSim(issuer=issuer) as kube_sim:
            kube = Kube(kube_sim.api_client(), namespace, kube_sim)
            status, jwks, _ = kube.raw("GET", "/openid/v1/jwks")
            assert status == 200
            sim.trust_issuer(issuer, jwks)  # Entra reads the issuer's public keys, as it does from AKS
            kube.core.create_namespace({"metadata": {"name": namespace}})
            try:
                yield kube, azure
            finally:
                kube.client.close()
            assert kube_sim.spec_violations == [], "the Kubernetes simulator answered outside the official spec"


def _create_sim_cluster(azure: Azure) -> str:
    """Seed the resource group and an AKS cluster with OIDC issuer and workload identity through ARM."""
    from azure.mgmt.containerservice import ContainerServiceClient, models

    from tests.kit.azuresim.client import ArmRest

    ArmRest(azure.credential, **azure.client_kwargs).send(
        "PUT", f"/subscriptions/{azure.subscription_id}/resourceGroups/{azure.resource_group}",
        {"location": "westeurope"})
    aks = ContainerServiceClient(azure.credential, azure.subscription_id, **azure.client_kwargs)
    cluster = aks.managed_clusters.begin_create_or_update(azure.resource_group, azure.aks_name, models.ManagedCluster(
        location="westeurope", properties=models.ManagedClusterProperties(
            dns_prefix=azure.aks_name, oidc_issuer_profile=models.ManagedClusterOIDCIssuerProfile(enabled=True),
            security_profile=models.ManagedClusterSecurityProfile(
                workload_identity=models.ManagedClusterSecurityProfileWorkloadIdentity(enabled=True))))).result()
    issuer: str = cluster.oidc_issuer_profile.issuer_url
    return issuer

