"""The whole chain keda-auth diagnoses, end to end through the official clients only.

A KEDA operator pod gets its identity injected by the webhook, exchanges the projected service-account
token at Entra for an ARM token through the federated credential, and reads ARM as far as its role
assignments allow. It runs on the simulators, or unchanged on a real AKS cluster and subscription when
KUBECONFIG and the Azure variables (see tests/kit/targets.py) are set.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import WorkloadIdentityCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.msi.models import FederatedIdentityCredential

from tests.kit.seed import container_env, ensure_awi_webhook, install_keda_operator, operator_pods
from tests.kit.targets import Azure, Kube, chain_target, eventually

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
ARM_SCOPE = "https://management.azure.com/.default"


def _running_operator(kube: Kube) -> Any:
    def check() -> Any:
        pods = [p for p in operator_pods(kube) if p.status.phase == "Running"]
        assert len(pods) == 1
        return pods[0]

    return eventually(check)


def _projected_token(kube: Kube, pod: Any) -> str:
    """What the kubelet writes to AZURE_FEDERATED_TOKEN_FILE: a pod-bound token with the volume's audience."""
    env = container_env(pod)
    directory = env["AZURE_FEDERATED_TOKEN_FILE"].rsplit("/", 1)[0]
    mount = next(m for m in pod.spec.containers[0].volume_mounts if m.mount_path == directory)
    source = next(v for v in pod.spec.volumes if v.name == mount.name).projected.sources[0].service_account_token
    response = kube.core.create_namespaced_service_account_token(pod.spec.service_account_name, kube.namespace, {
        "spec": {"audiences": [source.audience], "expirationSeconds": source.expiration_seconds,
                 "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": pod.metadata.name,
                                    "uid": pod.metadata.uid}}})
    token: str = response.status.token
    return token


def _operator_credential(kube: Kube, azure: Azure, pod: Any, tmp_path: Path) -> WorkloadIdentityCredential:
    env = container_env(pod)
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(_projected_token(kube, pod), encoding="utf-8")
    return WorkloadIdentityCredential(tenant_id=env["AZURE_TENANT_ID"], client_id=env["AZURE_CLIENT_ID"],
                                      token_file_path=str(token_file), **azure.credential_kwargs)


def _identity_with_fic(azure: Azure, subject: str) -> Any:
    msi = ManagedServiceIdentityClient(azure.credential, azure.subscription_id, **azure.client_kwargs)
    aks = ContainerServiceClient(azure.credential, azure.subscription_id, **azure.client_kwargs)
    issuer = aks.managed_clusters.get(azure.resource_group, azure.aks_name).oidc_issuer_profile.issuer_url
    name = f"keda-auth-e2e-{uuid.uuid4().hex[:8]}"
    identity = msi.user_assigned_identities.create_or_update(azure.resource_group, name, {"location": "westeurope"})
    # A plain dict would be sent as is, without the `properties` wrapper ARM needs: use the model.
    msi.federated_identity_credentials.create_or_update(azure.resource_group, name, "keda-operator",
                                                        FederatedIdentityCredential(
                                                            issuer=issuer, subject=subject,
                                                            audiences=["api://AzureADTokenExchange"]))
    return identity


def _cleanup(azure: Azure, identity: Any) -> None:
    if azure.sim is None:
        msi = ManagedServiceIdentityClient(azure.credential, azure.subscription_id, **azure.client_kwargs)
        msi.user_assigned_identities.delete(azure.resource_group, identity.name)


def test_operator_pod_exchanges_its_token_and_reads_arm_once_assigned_a_role(tmp_path: Path) -> None:
    with chain_target() as (kube, azure):
        identity = _identity_with_fic(azure, f"system:serviceaccount:{kube.namespace}:keda-operator")
        try:
            ensure_awi_webhook(kube, azure.tenant_id)
            install_keda_operator(kube, identity.client_id, azure.tenant_id)
            pod = _running_operator(kube)
            assert container_env(pod)["AZURE_CLIENT_ID"] == identity.client_id
            credential = _operator_credential(kube, azure, pod, tmp_path)
            assert credential.get_token(ARM_SCOPE).token

            as_operator = ManagedServiceIdentityClient(credential, azure.subscription_id, **azure.client_kwargs)
            with pytest.raises(HttpResponseError) as denied:
                as_operator.user_assigned_identities.get(azure.resource_group, identity.name)
            assert denied.value.status_code == 403 and denied.value.error is not None
            assert denied.value.error.code == "AuthorizationFailed"

            rbac = AuthorizationManagementClient(azure.credential, azure.subscription_id, **azure.client_kwargs)
            rbac.role_assignments.create(identity.id, str(uuid.uuid4()), {
                "role_definition_id": f"/subscriptions/{azure.subscription_id}/providers/Microsoft.Authorization/"
                                      f"roleDefinitions/{READER}",
                "principal_id": identity.principal_id, "principal_type": "ServicePrincipal"})

            def readable() -> None:
                try:
                    as_operator.user_assigned_identities.get(azure.resource_group, identity.name)
                except HttpResponseError as exc:
                    raise AssertionError(f"not yet: {exc.status_code}") from exc

            eventually(readable, timeout=300, interval=5)
        finally:
            _cleanup(azure, identity)


def test_a_subject_mismatch_is_refused_by_entra_with_the_assertion_subject(tmp_path: Path) -> None:
    with chain_target() as (kube, azure):
        identity = _identity_with_fic(azure, "system:serviceaccount:keda:keda-operator")  # not this namespace
        try:
            ensure_awi_webhook(kube, azure.tenant_id)
            install_keda_operator(kube, identity.client_id, azure.tenant_id)
            credential = _operator_credential(kube, azure, _running_operator(kube), tmp_path)
            with pytest.raises(ClientAuthenticationError) as refused:
                credential.get_token(ARM_SCOPE)
            message = str(refused.value)
            # Entra answers AADSTS700213 today (70021 on older tenants); both name the presented subject.
            assert "AADSTS70021" in message
            assert f"system:serviceaccount:{kube.namespace}:keda-operator" in message
        finally:
            _cleanup(azure, identity)
