"""Failure modes 17-20: which identity KEDA presents, in which tenant and which cloud."""

from __future__ import annotations

from pathlib import Path

from bot.diagnosis.engine import Report
from bot.diagnosis.findings import Finding, Severity
from tests.kit.cases import Case, nothing
from tests.kit.cluster import (
    KEDA_CLIENT,
    KEDA_ID,
    KEDA_PRINCIPAL,
    SB_DATA_OWNER,
    SB_NAMESPACE,
    TENANT,
    ClusterState,
    healthy,
    identity_id,
    sb_namespace_id,
)
from tests.kit.fixtures import document
from tests.kit.run import diagnose_state, finding_ids

OTHER_TENANT = "4a1e3c5f-0b7d-4e29-8c61-2f9d7a3b5e10"
ORDERS_CLIENT = "c3b1d5e7-2a4f-4c6e-8b0d-1f3a5c7e9b2d"
ORDERS_PRINCIPAL = "e8d6c4b2-0a9f-4e7d-b5c3-a1f2e3d4c5b6"
NEW_CLIENT = "0d4e6f8a-1b3c-4d5e-9f70-8a1b2c3d4e5f"
NEW_PRINCIPAL = "7c9e1a3b-5d7f-4a1c-8e2b-4d6f8a0c2e4a"
WEBHOOK = "azure-workload-identity/v1.6.0/azure-wi-webhook.yaml"
CLIENT_ANNOTATION = "azure.workload.identity/client-id"
TENANT_ANNOTATION = "azure.workload.identity/tenant-id"


def set_env(s: ClusterState, name: str, value: str) -> None:
    for env in s.pod_env():
        if env["name"] == name:
            env["value"] = value


def pod_identity(s: ClusterState) -> dict[str, str]:
    block: dict[str, str] = s.trigger_auth["spec"]["podIdentity"]
    return block


# -- identityid-not-clientid

def identityid_principal(s: ClusterState) -> None:
    pod_identity(s)["identityId"] = KEDA_PRINCIPAL


def identityid_client(s: ClusterState) -> None:
    pod_identity(s)["identityId"] = KEDA_CLIENT


def identityid_resource_id(s: ClusterState) -> None:
    pod_identity(s)["identityId"] = identity_id(KEDA_ID)


def identityid_name(s: ClusterState) -> None:
    pod_identity(s)["identityId"] = KEDA_ID


def identityid_client_upper_case(s: ClusterState) -> None:
    pod_identity(s)["identityId"] = KEDA_CLIENT.upper()  # GUIDs compare case-insensitively


def sa_annotation_principal(s: ClusterState) -> None:
    s.service_account["metadata"]["annotations"][CLIENT_ANNOTATION] = KEDA_PRINCIPAL
    set_env(s, "AZURE_CLIENT_ID", KEDA_PRINCIPAL)


def keyvault_identityid_principal(s: ClusterState) -> None:
    s.trigger_auth["spec"]["azureKeyVault"] = {
        "vaultUri": "https://kv-prod-weu.vault.azure.net",
        "podIdentity": {"provider": "azure-workload", "identityId": KEDA_PRINCIPAL},
        "secrets": [{"parameter": "connection", "name": "sb-conn"}]}


def keyvault_identityid_client(s: ClusterState) -> None:
    keyvault_identityid_principal(s)
    s.trigger_auth["spec"]["azureKeyVault"]["podIdentity"]["identityId"] = KEDA_CLIENT


# -- identity-recreated-drift

def _recreate_keda_identity(s: ClusterState, *, created: str = "2026-11-25T08:00:00Z") -> None:
    """An IaC run deleted keda-id and created it again (same name, new ids), with its FIC."""
    identity = s.arm("userAssignedIdentities", KEDA_ID)
    identity.update(clientId=NEW_CLIENT, principalId=NEW_PRINCIPAL, systemData={"createdAt": created})


def recreated_annotation_stale(s: ClusterState) -> None:
    _recreate_keda_identity(s)
    s.add_role_assignment(NEW_PRINCIPAL, SB_DATA_OWNER, sb_namespace_id(), created="2026-11-25T08:10:00Z")


def recreated_everything_repointed(s: ClusterState) -> None:
    recreated_annotation_stale(s)
    s.service_account["metadata"]["annotations"][CLIENT_ANNOTATION] = NEW_CLIENT
    set_env(s, "AZURE_CLIENT_ID", NEW_CLIENT)


def recreated_roles_stale(s: ClusterState) -> None:
    _recreate_keda_identity(s)
    s.service_account["metadata"]["annotations"][CLIENT_ANNOTATION] = NEW_CLIENT
    set_env(s, "AZURE_CLIENT_ID", NEW_CLIENT)


def unrelated_principal_with_role(s: ClusterState) -> None:
    # A CI pipeline's service principal, unknown to the bundle, also holds the role: not drift.
    s.add_role_assignment("5b7d9f1a-3c5e-4f7a-9b1d-3e5f7a9c1e3b", SB_DATA_OWNER, sb_namespace_id(),
                          created="2025-06-01T00:00:00Z")


def override_identity_not_collected(s: ClusterState) -> None:
    # The override identity is simply absent from the bundle; keda-id is still what the SA names.
    pod_identity(s)["identityId"] = ORDERS_CLIENT


# -- tenant-mismatch

def _orders_identity(s: ClusterState) -> None:
    s.add_identity("orders-id", ORDERS_CLIENT, ORDERS_PRINCIPAL, tenant=OTHER_TENANT)
    s.add_fic("orders-id", "keda-operator", "system:serviceaccount:keda:keda-operator")
    pod_identity(s)["identityId"] = ORDERS_CLIENT


def cross_tenant_without_tenant_id(s: ClusterState) -> None:
    _orders_identity(s)


def cross_tenant_with_tenant_id(s: ClusterState) -> None:
    _orders_identity(s)
    pod_identity(s)["identityTenantId"] = OTHER_TENANT


def wrong_sa_tenant(s: ClusterState) -> None:
    s.service_account["metadata"]["annotations"][TENANT_ANNOTATION] = OTHER_TENANT
    set_env(s, "AZURE_TENANT_ID", OTHER_TENANT)


def wrong_identity_tenant_id(s: ClusterState) -> None:
    pod_identity(s)["identityTenantId"] = OTHER_TENANT


def right_identity_tenant_id(s: ClusterState) -> None:
    pod_identity(s)["identityTenantId"] = TENANT


def _webhook_config_only(s: ClusterState, tenant: str) -> None:
    """No pod collected and no SA tenant annotation: the webhook's ConfigMap decides the tenant."""
    s.k8s.remove(s.pod)
    del s.service_account["metadata"]["annotations"][TENANT_ANNOTATION]
    config = document(WEBHOOK, "ConfigMap", "azure-wi-webhook-config")
    config["data"]["AZURE_TENANT_ID"] = tenant
    s.k8s.append(config)


def webhook_config_wrong_tenant(s: ClusterState) -> None:
    _webhook_config_only(s, OTHER_TENANT)


def webhook_config_right_tenant(s: ClusterState) -> None:
    _webhook_config_only(s, TENANT)


def webhook_config_placeholder(s: ClusterState) -> None:
    # The plain manifest ships `${AZURE_TENANT_ID}`: unsubstituted, it names no tenant at all.
    s.k8s.remove(s.pod)
    del s.service_account["metadata"]["annotations"][TENANT_ANNOTATION]
    s.k8s.append(document(WEBHOOK, "ConfigMap", "azure-wi-webhook-config"))


# -- sovereign-cloud-authority-mismatch

def cloud_usgov_on_public(s: ClusterState) -> None:
    s.trigger["metadata"]["cloud"] = "AzureUSGovernmentCloud"


def cloud_public_explicit(s: ClusterState) -> None:
    s.trigger["metadata"]["cloud"] = "AzurePublicCloud"


def cloud_unknown(s: ClusterState) -> None:
    s.trigger["metadata"]["cloud"] = "AzureMarsCloud"


def cloud_lower_case(s: ClusterState) -> None:
    s.trigger["metadata"]["cloud"] = "azurepubliccloud"


def cloud_private_no_suffix(s: ClusterState) -> None:
    s.trigger["metadata"]["cloud"] = "Private"


def cloud_private_with_suffix(s: ClusterState) -> None:
    s.trigger["metadata"].update(cloud="Private", endpointSuffix="servicebus.windows.net")


def authority_usgov(s: ClusterState) -> None:
    set_env(s, "AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us/")


def authority_without_slash(s: ClusterState) -> None:
    set_env(s, "AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com")


def namespace_in_usgov(s: ClusterState) -> None:
    sb = s.arm("Microsoft.ServiceBus/Namespaces", SB_NAMESPACE)
    sb["properties"]["serviceBusEndpoint"] = f"https://{SB_NAMESPACE}.servicebus.usgovcloudapi.net:443/"


def everything_usgov(s: ClusterState) -> None:
    namespace_in_usgov(s)
    authority_usgov(s)
    cloud_usgov_on_public(s)


def identity_authority_host(s: ClusterState) -> None:
    pod_identity(s)["identityAuthorityHost"] = "https://login.microsoftonline.com/"


CASES = [
    Case("identityid-not-clientid", identityid_principal, identityid_client, "principal"),
    Case("identityid-not-clientid", identityid_resource_id, identityid_client_upper_case, "resource-id"),
    Case("identityid-not-clientid", identityid_name, nothing, "name"),
    Case("identityid-not-clientid", sa_annotation_principal, nothing, "sa-annotation"),
    Case("identityid-not-clientid", keyvault_identityid_principal, keyvault_identityid_client, "keyvault"),
    Case("identity-recreated-drift", recreated_annotation_stale, recreated_everything_repointed, "annotation"),
    Case("identity-recreated-drift", recreated_roles_stale, recreated_everything_repointed, "roles"),
    Case("identity-recreated-drift", recreated_roles_stale, unrelated_principal_with_role, "unrelated-principal"),
    Case("identity-recreated-drift", recreated_annotation_stale, override_identity_not_collected, "uncollected"),
    Case("tenant-mismatch", cross_tenant_without_tenant_id, cross_tenant_with_tenant_id, "cross-tenant"),
    Case("tenant-mismatch", wrong_sa_tenant, nothing, "sa-annotation"),
    Case("tenant-mismatch", wrong_identity_tenant_id, right_identity_tenant_id, "identityTenantId"),
    Case("tenant-mismatch", webhook_config_wrong_tenant, webhook_config_right_tenant, "webhook-config"),
    Case("tenant-mismatch", webhook_config_wrong_tenant, webhook_config_placeholder, "webhook-placeholder"),
    Case("sovereign-cloud-authority-mismatch", cloud_usgov_on_public, cloud_public_explicit, "cloud"),
    Case("sovereign-cloud-authority-mismatch", cloud_unknown, cloud_lower_case, "unknown-cloud"),
    Case("sovereign-cloud-authority-mismatch", cloud_private_no_suffix, cloud_private_with_suffix, "private"),
    Case("sovereign-cloud-authority-mismatch", authority_usgov, authority_without_slash, "authority"),
    Case("sovereign-cloud-authority-mismatch", namespace_in_usgov, everything_usgov, "endpoint"),
    Case("sovereign-cloud-authority-mismatch", identity_authority_host, right_identity_tenant_id,
         "identityAuthorityHost"),
]



def _one(report: Report, finding_id: str) -> Finding:
    found = [f for f in report.findings if f.id == finding_id]
    assert len(found) == 1, [f.id for f in report.findings]
    return found[0]


def test_principal_id_fix_patches_the_real_client_id(tmp_path: Path) -> None:
    state = healthy()
    identityid_principal(state)
    finding = _one(diagnose_state(state, tmp_path), "identityid-not-clientid")
    assert finding.severity == Severity.CRITICAL
    assert finding.fixes == ("triggerauth-identityid-clientid",)
    assert finding.commands == (
        "kubectl -n orders patch --type merge "
        f"-p '{{\"spec\":{{\"podIdentity\":{{\"identityId\":\"{KEDA_CLIENT}\"}}}}}}' "
        "-- triggerauthentication sb-auth",)


def test_sa_annotation_fix_annotates_and_restarts(tmp_path: Path) -> None:
    state = healthy()
    sa_annotation_principal(state)
    finding = _one(diagnose_state(state, tmp_path), "identityid-not-clientid")
    assert finding.fixes == ("sa-annotate-client-id", "operator-restart")
    assert any(f"{CLIENT_ANNOTATION}={KEDA_CLIENT}" in c for c in finding.commands)
    assert any("rollout restart" in c for c in finding.commands)


def test_unresolvable_guid_without_identity_list_asks_for_it(tmp_path: Path) -> None:
    state = healthy()
    state.azure = [r for r in state.azure if not r["type"].endswith("userAssignedIdentities")
                   and "federatedIdentityCredentials" not in r["type"]]
    pod_identity(state)["identityId"] = ORDERS_CLIENT
    report = diagnose_state(state, tmp_path)
    assert "identityid-not-clientid" not in finding_ids(report)
    assert any(f.id == "input-missing" and any("az identity list --query" in c and ORDERS_CLIENT in c
                                               for c in f.commands) for f in report.findings)


def test_drift_names_the_new_client_id(tmp_path: Path) -> None:
    state = healthy()
    recreated_annotation_stale(state)
    finding = _one(diagnose_state(state, tmp_path), "identity-recreated-drift")
    assert NEW_CLIENT in finding.detail and "2026-11-25T08:00:00Z" in finding.detail
    assert any(f"{CLIENT_ANNOTATION}={NEW_CLIENT}" in c for c in finding.commands)


def test_drift_of_role_assignments_recreates_them_for_the_new_principal(tmp_path: Path) -> None:
    state = healthy()
    recreated_roles_stale(state)
    finding = _one(diagnose_state(state, tmp_path), "identity-recreated-drift")
    assert finding.fixes == ("role-assignment-create", "manual-recreated-identity")
    assert any(f"--assignee-object-id {NEW_PRINCIPAL}" in c and SB_DATA_OWNER in c for c in finding.commands)


def test_cross_tenant_override_fix_sets_identity_tenant_id(tmp_path: Path) -> None:
    state = healthy()
    cross_tenant_without_tenant_id(state)
    finding = _one(diagnose_state(state, tmp_path), "tenant-mismatch")
    assert finding.fixes == ("manual-tenant",)
    assert any(f'"identityTenantId":"{OTHER_TENANT}"' in c for c in finding.commands)


def test_identity_authority_host_is_only_a_warning(tmp_path: Path) -> None:
    state = healthy()
    identity_authority_host(state)
    assert _one(diagnose_state(state, tmp_path), "sovereign-cloud-authority-mismatch").severity == Severity.WARNING


def test_healthy_cluster_reports_nothing_from_these_checks(tmp_path: Path) -> None:
    ids = finding_ids(diagnose_state(healthy(), tmp_path))
    assert not ids & {"identityid-not-clientid", "identity-recreated-drift", "tenant-mismatch",
                      "sovereign-cloud-authority-mismatch"}
