"""Failure modes 21-24: the data-plane roles of the identity KEDA presents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.kit.cases import Case, nothing
from tests.kit.cluster import (
    APP_NS,
    KEDA_CLIENT,
    KEDA_PRINCIPAL,
    RG,
    SB_DATA_OWNER,
    SUB,
    ClusterState,
    healthy,
    sb_namespace_id,
)
from tests.kit.run import assert_clean, diagnose_state, finding_ids

SB_RECEIVER = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"
KV_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
EH_RECEIVER = "a638d3c7-ab3a-418d-83e6-5f17a39d4fde"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
CUSTOM_ROLE = "5a1f3c2e-0b4d-4e6f-8a9b-1c2d3e4f5a6b"
WORKLOAD_CLIENT = "3e7d1c55-8a2b-4c9f-b1e0-7a6d5c4b3a21"
WORKLOAD_PRINCIPAL = "c4b2a1f0-9e8d-4c7b-a6f5-e4d3c2b1a098"
QUEUE_SCOPE = f"{sb_namespace_id()}/queues/orders"
VAULT = "kv-prod-weu"
VAULT_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.KeyVault/vaults/{VAULT}"
RBAC_IDS = {"rbac-role-missing", "rbac-role-insufficient-sb", "rbac-wrong-principal-or-scope",
            "rbac-propagation-delay"}


# -- building blocks -------------------------------------------------------------------------------------
def drop_roles(s: ClusterState) -> None:
    """Role assignments collected (listed in the manifest), but none left for anyone."""
    s.azure = [r for r in s.azure if r["type"] != "Microsoft.Authorization/roleAssignments"]
    assert s.manifest is not None
    s.manifest["collected"] = ["Microsoft.Authorization/roleAssignments"]


def _grant_keda(s: ClusterState, role: str, scope: str, **kwargs: Any) -> None:
    s.add_role_assignment(KEDA_PRINCIPAL, role, scope, **kwargs)


def _custom_role(s: ClusterState, data_actions: list[str]) -> None:
    s.azure.append({
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{CUSTOM_ROLE}",
        "name": CUSTOM_ROLE, "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {"roleName": "KEDA Service Bus reader", "type": "CustomRole",
                       "permissions": [{"actions": [], "notActions": [], "dataActions": data_actions,
                                        "notDataActions": []}]}})


def _workload(s: ClusterState) -> None:
    """The scaled Deployment with its own ServiceAccount and identity (what users often grant instead)."""
    s.add_identity("orders-id", WORKLOAD_CLIENT, WORKLOAD_PRINCIPAL)
    s.k8s += [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "orders-sa", "namespace": APP_NS,
                      "annotations": {"azure.workload.identity/client-id": WORKLOAD_CLIENT}}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "orders-processor", "namespace": APP_NS},
         "spec": {"selector": {"matchLabels": {"app": "orders"}},
                  "template": {"metadata": {"labels": {"app": "orders"}},
                               "spec": {"serviceAccountName": "orders-sa",
                                        "containers": [{"name": "app", "image": "orders:1.0"}]}}}},
    ]


def _vault(s: ClusterState, rbac: bool = True, policies: list[dict[str, Any]] | None = None) -> None:
    s.azure.append({"id": VAULT_ID, "name": VAULT, "type": "Microsoft.KeyVault/vaults", "location": "westeurope",
                    "properties": {"enableRbacAuthorization": rbac, "accessPolicies": policies or [],
                                   "vaultUri": f"https://{VAULT}.vault.azure.net/"}})
    s.trigger_auth["spec"]["azureKeyVault"] = {
        "vaultUri": f"https://{VAULT}.vault.azure.net", "podIdentity": {"provider": "azure-workload"},
        "secrets": [{"parameter": "connection", "name": "sb-connection"}]}


# -- rbac-role-missing -----------------------------------------------------------------------------------
def no_role(s: ClusterState) -> None:
    drop_roles(s)
    _grant_keda(s, "acdd72a7-3385-48ef-bd42-f606fba81ae7", sb_namespace_id())  # Reader: control plane only


def queue_scoped_owner(s: ClusterState) -> None:
    drop_roles(s)
    _grant_keda(s, SB_DATA_OWNER, QUEUE_SCOPE)


def owner_at_subscription(s: ClusterState) -> None:
    drop_roles(s)
    _grant_keda(s, SB_DATA_OWNER, f"/subscriptions/{SUB}")


def vault_without_role(s: ClusterState) -> None:
    _vault(s)


def vault_with_secrets_user(s: ClusterState) -> None:
    _vault(s)
    _grant_keda(s, KV_SECRETS_USER, VAULT_ID)


def vault_policy_for_someone_else(s: ClusterState) -> None:
    _vault(s, rbac=False, policies=[{"objectId": WORKLOAD_PRINCIPAL, "permissions": {"secrets": ["get"]}}])


def vault_policy_for_keda(s: ClusterState) -> None:
    _vault(s, rbac=False, policies=[{"objectId": KEDA_PRINCIPAL, "permissions": {"secrets": ["Get", "List"]}}])


# -- rbac-role-insufficient-sb ---------------------------------------------------------------------------
def receiver_only(s: ClusterState) -> None:
    drop_roles(s)
    _grant_keda(s, SB_RECEIVER, sb_namespace_id())


def receiver_and_owner(s: ClusterState) -> None:
    _grant_keda(s, SB_RECEIVER, sb_namespace_id())


def custom_receive_only(s: ClusterState) -> None:
    drop_roles(s)
    _custom_role(s, ["Microsoft.ServiceBus/namespaces/messages/receive/action"])
    _grant_keda(s, CUSTOM_ROLE, sb_namespace_id())


def custom_wildcard(s: ClusterState) -> None:
    drop_roles(s)
    _custom_role(s, ["Microsoft.ServiceBus/*"])
    _grant_keda(s, CUSTOM_ROLE, sb_namespace_id())


# -- rbac-wrong-principal-or-scope -----------------------------------------------------------------------
def owner_on_other_queue(s: ClusterState) -> None:
    drop_roles(s)
    _grant_keda(s, SB_DATA_OWNER, f"{sb_namespace_id()}/queues/invoices")


def regex_with_queue_scope(s: ClusterState) -> None:
    queue_scoped_owner(s)
    s.trigger["metadata"].update({"useRegex": "true", "queueName": "orders.*"})


def regex_with_namespace_scope(s: ClusterState) -> None:
    s.trigger["metadata"].update({"useRegex": "true", "queueName": "orders.*"})


def granted_to_workload(s: ClusterState) -> None:
    drop_roles(s)
    _workload(s)
    s.add_role_assignment(WORKLOAD_PRINCIPAL, SB_DATA_OWNER, sb_namespace_id())


def granted_to_both(s: ClusterState) -> None:
    _workload(s)
    s.add_role_assignment(WORKLOAD_PRINCIPAL, SB_DATA_OWNER, sb_namespace_id())


# -- rbac-propagation-delay ------------------------------------------------------------------------------
def fresh_role(s: ClusterState) -> None:
    drop_roles(s)
    _grant_keda(s, SB_DATA_OWNER, sb_namespace_id(), created="2026-11-26T09:55:00Z")


def settled_role(s: ClusterState) -> None:
    drop_roles(s)
    _grant_keda(s, SB_DATA_OWNER, sb_namespace_id(), created="2026-11-26T09:48:00Z")


def group_role(s: ClusterState) -> None:
    drop_roles(s)
    s.add_role_assignment("0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f", SB_DATA_OWNER, sb_namespace_id(),
                          principal_type="Group")


def group_role_and_direct(s: ClusterState) -> None:
    group_role(s)
    _grant_keda(s, SB_DATA_OWNER, sb_namespace_id())


CASES = [
    Case("rbac-role-missing", no_role, queue_scoped_owner),
    Case("rbac-role-missing", drop_roles, owner_at_subscription, "subscription-scope"),
    Case("rbac-role-missing", vault_without_role, vault_with_secrets_user, "keyvault"),
    Case("rbac-role-missing", vault_policy_for_someone_else, vault_policy_for_keda, "keyvault-access-policy"),
    Case("rbac-role-insufficient-sb", receiver_only, receiver_and_owner),
    Case("rbac-role-insufficient-sb", custom_receive_only, custom_wildcard, "custom-role"),
    Case("rbac-wrong-principal-or-scope", owner_on_other_queue, queue_scoped_owner),
    Case("rbac-wrong-principal-or-scope", regex_with_queue_scope, regex_with_namespace_scope, "regex"),
    Case("rbac-wrong-principal-or-scope", granted_to_workload, granted_to_both, "workload-identity"),
    Case("rbac-propagation-delay", fresh_role, settled_role),
    Case("rbac-propagation-delay", group_role, group_role_and_direct, "group"),
]



@pytest.mark.parametrize("mutate", [nothing, queue_scoped_owner, custom_wildcard, settled_role,
                                    regex_with_namespace_scope, vault_with_secrets_user, vault_policy_for_keda],
                         ids=lambda f: f.__name__)
def test_healthy_variants_raise_no_rbac_finding(mutate: Any, tmp_path: Path) -> None:
    state = healthy()
    mutate(state)
    assert_clean(diagnose_state(state, tmp_path, only=RBAC_IDS), RBAC_IDS)


def test_one_verdict_per_target(tmp_path: Path) -> None:
    state = healthy()
    receiver_only(state)
    ids = [f.id for f in diagnose_state(state, tmp_path).findings if f.id in RBAC_IDS]
    assert ids == ["rbac-role-insufficient-sb"]


def test_fix_grants_data_owner_to_the_principal_id(tmp_path: Path) -> None:
    state = healthy()
    drop_roles(state)
    finding = next(f for f in diagnose_state(state, tmp_path).findings if f.id == "rbac-role-missing")
    assert finding.severity.label == "critical"
    assert finding.commands == (
        f"az role assignment create --assignee-object-id {KEDA_PRINCIPAL} --assignee-principal-type "
        f"ServicePrincipal --role {SB_DATA_OWNER} --scope {QUEUE_SCOPE}",)
    assert KEDA_CLIENT in finding.detail


def test_regex_fix_is_at_namespace_scope(tmp_path: Path) -> None:
    state = healthy()
    regex_with_queue_scope(state)
    finding = next(f for f in diagnose_state(state, tmp_path).findings if f.id == "rbac-wrong-principal-or-scope")
    assert finding.commands[0].endswith(f"--scope {sb_namespace_id()}")
    assert "useRegex" in finding.detail


def test_regex_on_topic_needs_only_the_topic(tmp_path: Path) -> None:
    state = healthy()
    drop_roles(state)
    _grant_keda(state, SB_DATA_OWNER, f"{sb_namespace_id()}/topics/events")
    state.trigger["metadata"] = {"namespace": "sb-prod-weu", "topicName": "events", "subscriptionName": "keda-.*",
                                 "useRegex": "true"}
    assert not finding_ids(diagnose_state(state, tmp_path)) & RBAC_IDS


def test_workload_identity_is_named(tmp_path: Path) -> None:
    state = healthy()
    granted_to_workload(state)
    finding = next(f for f in diagnose_state(state, tmp_path).findings if f.id == "rbac-wrong-principal-or-scope")
    assert "orders-id" in finding.detail and "scaled workload's identity" in finding.detail
    assert KEDA_PRINCIPAL in finding.commands[0]


def test_fresh_role_is_a_warning_not_missing(tmp_path: Path) -> None:
    state = healthy()
    fresh_role(state)
    report = diagnose_state(state, tmp_path)
    assert "rbac-role-missing" not in finding_ids(report)
    finding = next(f for f in report.findings if f.id == "rbac-propagation-delay")
    assert finding.severity.label == "warning"
    assert "5m" in finding.detail or "300s" in finding.detail


def test_role_assignments_not_collected_asks_for_them(tmp_path: Path) -> None:
    state = healthy()
    # No role assignment in the bundle and none declared collected: do not claim "missing".
    state.azure = [r for r in state.azure if r["type"] != "Microsoft.Authorization/roleAssignments"]
    report = diagnose_state(state, tmp_path)
    commands = [c for f in report.findings if f.id == "input-missing" for c in f.commands]
    assert f"az role assignment list --assignee-object-id {KEDA_PRINCIPAL} --all --include-inherited -o json" \
        in commands
    assert not finding_ids(report) & RBAC_IDS


def test_unresolved_identity_asks_for_it(tmp_path: Path) -> None:
    state = healthy()
    unknown = "7c6b5a49-3827-4160-a5b4-c3d2e1f0a9b8"
    state.trigger_auth["spec"]["podIdentity"]["identityId"] = unknown
    report = diagnose_state(state, tmp_path)
    commands = [c for f in report.findings if f.id == "input-missing" for c in f.commands]
    assert f"az identity list --query \"[?clientId=='{unknown}']\" -o json" in commands
    assert not finding_ids(report) & RBAC_IDS


def test_unresolved_namespace_asks_for_it(tmp_path: Path) -> None:
    state = healthy()
    state.trigger["metadata"]["namespace"] = "sb-other"
    report = diagnose_state(state, tmp_path)
    assert not finding_ids(report) & RBAC_IDS
    assert any("az servicebus namespace list" in c for f in report.findings for c in f.commands)


def test_bad_namespace_metadata_skips_rbac(tmp_path: Path) -> None:
    state = healthy()
    drop_roles(state)
    _grant_keda(state, "acdd72a7-3385-48ef-bd42-f606fba81ae7", sb_namespace_id())
    state.trigger["metadata"]["namespace"] = "sb-prod-weu.servicebus.windows.net"
    ids = finding_ids(diagnose_state(state, tmp_path))
    assert "sb-namespace-metadata" in ids
    assert not ids & RBAC_IDS


def test_unknown_custom_role_asks_for_its_definition(tmp_path: Path) -> None:
    state = healthy()
    drop_roles(state)
    _grant_keda(state, CUSTOM_ROLE, sb_namespace_id())
    report = diagnose_state(state, tmp_path)
    assert not finding_ids(report) & RBAC_IDS
    assert any(f"az role definition list --name {CUSTOM_ROLE}" in c for f in report.findings for c in f.commands)


def _eventhub(s: ClusterState, roles: bool = True) -> None:
    ns_id = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.EventHub/namespaces/eh-prod-weu"
    account = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/stckpt"
    s.azure += [{"id": ns_id, "name": "eh-prod-weu", "type": "Microsoft.EventHub/namespaces"},
                {"id": account, "name": "stckpt", "type": "Microsoft.Storage/storageAccounts"}]
    s.trigger.update({"type": "azure-eventhub", "metadata": {
        "eventHubNamespace": "eh-prod-weu", "eventHubName": "telemetry", "storageAccountName": "stckpt",
        "blobContainer": "checkpoints"}})
    if roles:
        _grant_keda(s, EH_RECEIVER, ns_id)
        _grant_keda(s, BLOB_READER, account)


def test_eventhub_needs_both_roles(tmp_path: Path) -> None:
    state = healthy()
    _eventhub(state, roles=False)
    _grant_keda(state, EH_RECEIVER, state.arm("EventHub/namespaces")["id"])
    findings = [f for f in diagnose_state(state, tmp_path).findings if f.id in RBAC_IDS]
    assert [f.id for f in findings] == ["rbac-role-missing"]
    assert BLOB_READER in findings[0].commands[0]


def test_eventhub_with_both_roles_is_clean(tmp_path: Path) -> None:
    state = healthy()
    _eventhub(state)
    assert not finding_ids(diagnose_state(state, tmp_path)) & RBAC_IDS


def test_findings_group_triggers_sharing_a_target(tmp_path: Path) -> None:
    state = healthy()
    drop_roles(state)
    state.scaled_object["spec"]["triggers"].append(dict(state.trigger))
    findings = [f for f in diagnose_state(state, tmp_path).findings if f.id == "rbac-role-missing"]
    assert len(findings) == 1
    assert "trigger[0]" in findings[0].detail and "trigger[1]" in findings[0].detail
