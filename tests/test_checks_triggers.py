"""Failure modes 25-27, 34, 36: trigger metadata, authenticationRef, and the workload-identity misconception."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.diagnosis.engine import Report
from bot.diagnosis.findings import Finding
from tests.kit.cases import Case, nothing
from tests.kit.cluster import (
    APP_NS,
    KEDA_PRINCIPAL,
    RG,
    SUB,
    ClusterState,
    healthy,
    sb_namespace_id,
)
from tests.kit.run import assert_clean, diagnose_state, finding_ids

WORKLOAD_CLIENT = "3e7d1c55-8a2b-4c9f-b1e0-7a6d5c4b3a21"
WORKLOAD_PRINCIPAL = "c4b2a1f0-9e8d-4c7b-a6f5-e4d3c2b1a098"
EH_RECEIVER = "a638d3c7-ab3a-418d-83e6-5f17a39d4fde"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
SB_DATA_OWNER = "090c5cfd-751d-490a-894a-3ce6f1109419"
EH_NS_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.EventHub/namespaces/eh-prod-weu"
ACCOUNT_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/stckpt"
MY_IDS = {"sb-namespace-metadata", "sb-entity-metadata", "authref-unresolved", "eventhub-storage-auth-fallback",
          "expect-workload-identity-reuse", "rbac-role-missing", "rbac-role-insufficient-sb",
          "rbac-wrong-principal-or-scope", "rbac-propagation-delay"}


def meta(s: ClusterState) -> dict[str, Any]:
    metadata: dict[str, Any] = s.trigger["metadata"]
    return metadata


# -- sb-namespace-metadata -------------------------------------------------------------------------------
def drop_namespace(s: ClusterState) -> None:
    del meta(s)["namespace"]


def no_namespace_with_connection_string(s: ClusterState) -> None:
    # Without workload identity the connection string carries the namespace: nothing is required.
    drop_namespace(s)
    s.trigger_auth["spec"] = {"secretTargetRef": [{"parameter": "connection", "name": "sb", "key": "conn"}]}


def fqdn_namespace(s: ClusterState) -> None:
    meta(s)["namespace"] = "sb-prod-weu.servicebus.windows.net"


def namespace_from_trigger_auth(s: ClusterState) -> None:
    drop_namespace(s)
    s.trigger_auth["spec"]["secretTargetRef"] = [{"parameter": "namespace", "name": "sb", "key": "namespace"}]


# -- sb-entity-metadata ----------------------------------------------------------------------------------
def queue_and_subscription(s: ClusterState) -> None:
    meta(s)["subscriptionName"] = "keda"


def topic_and_queue(s: ClusterState) -> None:
    meta(s).update({"topicName": "events", "subscriptionName": "keda"})


def topic_without_subscription(s: ClusterState) -> None:
    del meta(s)["queueName"]
    meta(s)["topicName"] = "events"


def no_entity(s: ClusterState) -> None:
    del meta(s)["queueName"]


def _topic(s: ClusterState, subscription: str | None = "keda") -> None:
    topic_id = f"{sb_namespace_id()}/topics/events"
    s.azure.append({"id": topic_id, "name": "events", "type": "Microsoft.ServiceBus/Namespaces/Topics"})
    if subscription:
        s.azure.append({"id": f"{topic_id}/subscriptions/{subscription}", "name": subscription,
                        "type": "Microsoft.ServiceBus/Namespaces/Topics/Subscriptions"})


def valid_topic_subscription(s: ClusterState) -> None:
    _topic(s)
    s.trigger["metadata"] = {"namespace": "sb-prod-weu", "topicName": "events", "subscriptionName": "keda"}


def unknown_subscription(s: ClusterState) -> None:
    _topic(s, "billing")
    s.trigger["metadata"] = {"namespace": "sb-prod-weu", "topicName": "events", "subscriptionName": "keda"}


def queue_typo(s: ClusterState) -> None:
    meta(s)["queueName"] = "order"


def queue_other_case(s: ClusterState) -> None:
    meta(s)["queueName"] = "Orders"  # Service Bus entity names are case-insensitive


def queue_is_a_topic(s: ClusterState) -> None:
    _topic(s)
    meta(s)["queueName"] = "events"


# -- authref-unresolved ----------------------------------------------------------------------------------
def trigger_auth_in_other_namespace(s: ClusterState) -> None:
    s.trigger_auth["metadata"]["namespace"] = "keda"


def cluster_auth(s: ClusterState, kind: bool) -> None:
    auth = s.trigger_auth
    s.k8s.remove(auth)
    s.k8s.append({"apiVersion": "keda.sh/v1alpha1", "kind": "ClusterTriggerAuthentication",
                  "metadata": {"name": "sb-auth"}, "spec": auth["spec"]})
    if kind:
        s.trigger["authenticationRef"]["kind"] = "ClusterTriggerAuthentication"


def cluster_auth_without_kind(s: ClusterState) -> None:
    cluster_auth(s, kind=False)


def cluster_auth_with_kind(s: ClusterState) -> None:
    cluster_auth(s, kind=True)


def cluster_kind_but_namespaced(s: ClusterState) -> None:
    s.trigger["authenticationRef"]["kind"] = "ClusterTriggerAuthentication"


def explicit_namespaced_kind(s: ClusterState) -> None:
    s.trigger["authenticationRef"]["kind"] = "TriggerAuthentication"


# -- eventhub-storage-auth-fallback ----------------------------------------------------------------------
def eventhub(s: ClusterState) -> None:
    s.azure += [{"id": EH_NS_ID, "name": "eh-prod-weu", "type": "Microsoft.EventHub/namespaces"},
                {"id": ACCOUNT_ID, "name": "stckpt", "type": "Microsoft.Storage/storageAccounts"}]
    s.add_role_assignment(KEDA_PRINCIPAL, EH_RECEIVER, EH_NS_ID)
    s.add_role_assignment(KEDA_PRINCIPAL, BLOB_READER, ACCOUNT_ID)
    s.trigger.update({"type": "azure-eventhub", "metadata": {
        "eventHubNamespace": "eh-prod-weu", "eventHubName": "telemetry", "storageAccountName": "stckpt",
        "blobContainer": "checkpoints", "unprocessedEventThreshold": "64"}})


def eventhub_without_account(s: ClusterState) -> None:
    eventhub(s)
    del meta(s)["storageAccountName"]


def eventhub_with_connection_env(s: ClusterState) -> None:
    eventhub(s)
    meta(s)["storageConnectionFromEnv"] = "STORAGE_CONNECTION"


def eventhub_without_hub_name(s: ClusterState) -> None:
    eventhub(s)
    del meta(s)["eventHubName"]


def eventhub_hub_name_from_env(s: ClusterState) -> None:
    eventhub(s)
    del meta(s)["eventHubName"]
    meta(s)["eventHubNameFromEnv"] = "EVENTHUB_NAME"


def eventhub_with_connection_string_auth(s: ClusterState) -> None:
    # Without workload identity a storage connection string is the normal way: not this failure mode.
    eventhub_with_connection_env(s)
    s.trigger_auth["spec"] = {"secretTargetRef": [{"parameter": "connection", "name": "eh", "key": "conn"}]}


# -- expect-workload-identity-reuse ----------------------------------------------------------------------
def _workload(s: ClusterState) -> None:
    s.add_identity("orders-id", WORKLOAD_CLIENT, WORKLOAD_PRINCIPAL)
    s.add_fic("orders-id", "orders-sa", f"system:serviceaccount:{APP_NS}:orders-sa")
    s.add_role_assignment(WORKLOAD_PRINCIPAL, SB_DATA_OWNER, sb_namespace_id())
    s.k8s += [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "orders-sa", "namespace": APP_NS,
                      "annotations": {"azure.workload.identity/client-id": WORKLOAD_CLIENT}}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "orders-processor", "namespace": APP_NS},
         "spec": {"selector": {"matchLabels": {"app": "orders"}},
                  "template": {"metadata": {"labels": {"app": "orders", "azure.workload.identity/use": "true"}},
                               "spec": {"serviceAccountName": "orders-sa",
                                        "containers": [{"name": "app", "image": "orders:1.0"}]}}}},
    ]


def reuse_workload_identity(s: ClusterState) -> None:
    _workload(s)
    s.trigger_auth["spec"]["podIdentity"]["identityId"] = WORKLOAD_CLIENT


def reuse_and_federate_keda(s: ClusterState) -> None:
    reuse_workload_identity(s)
    s.add_fic("orders-id", "keda-operator", "system:serviceaccount:keda:keda-operator")


def workload_present_keda_default(s: ClusterState) -> None:
    _workload(s)


CASES = [
    Case("sb-namespace-metadata", drop_namespace, no_namespace_with_connection_string),
    Case("sb-namespace-metadata", fqdn_namespace, nothing, "fqdn"),
    Case("sb-namespace-metadata", namespace_from_trigger_auth, no_namespace_with_connection_string, "triggerauth"),
    Case("sb-entity-metadata", queue_and_subscription, nothing, "queue+subscription"),
    Case("sb-entity-metadata", topic_and_queue, valid_topic_subscription, "topic+queue"),
    Case("sb-entity-metadata", topic_without_subscription, valid_topic_subscription, "topic-no-subscription"),
    Case("sb-entity-metadata", no_entity, nothing, "no-entity"),
    Case("sb-entity-metadata", queue_typo, queue_other_case, "queue-missing"),
    Case("sb-entity-metadata", queue_is_a_topic, valid_topic_subscription, "queue-is-topic"),
    Case("sb-entity-metadata", unknown_subscription, valid_topic_subscription, "subscription-missing"),
    Case("authref-unresolved", trigger_auth_in_other_namespace, explicit_namespaced_kind),
    Case("authref-unresolved", cluster_auth_without_kind, cluster_auth_with_kind, "cluster-kind"),
    Case("authref-unresolved", cluster_kind_but_namespaced, explicit_namespaced_kind, "wrong-kind"),
    Case("eventhub-storage-auth-fallback", eventhub_without_account, eventhub, "no-account"),
    Case("eventhub-storage-auth-fallback", eventhub_with_connection_env, eventhub_with_connection_string_auth,
         "connection-env"),
    Case("eventhub-storage-auth-fallback", eventhub_without_hub_name, eventhub_hub_name_from_env, "no-hub"),
    Case("expect-workload-identity-reuse", reuse_workload_identity, reuse_and_federate_keda),
    Case("expect-workload-identity-reuse", reuse_workload_identity, workload_present_keda_default, "default"),
]


def _finding(report: Report, check_id: str) -> Finding:
    return next(f for f in report.findings if f.id == check_id)



@pytest.mark.parametrize("mutate", [nothing, valid_topic_subscription, queue_other_case, cluster_auth_with_kind,
                                    explicit_namespaced_kind, eventhub, eventhub_hub_name_from_env,
                                    reuse_and_federate_keda, workload_present_keda_default],
                         ids=lambda f: f.__name__)
def test_healthy_variants_are_clean(mutate: Any, tmp_path: Path) -> None:
    state = healthy()
    mutate(state)
    assert_clean(diagnose_state(state, tmp_path, only=MY_IDS), MY_IDS)


def test_fqdn_fix_uses_the_short_name(tmp_path: Path) -> None:
    state = healthy()
    fqdn_namespace(state)
    finding = _finding(diagnose_state(state, tmp_path), "sb-namespace-metadata")
    assert finding.severity.label == "critical"
    assert finding.commands == (
        "kubectl -n orders patch --type json "
        "-p '[{\"op\":\"add\",\"path\":\"/spec/triggers/0/metadata/namespace\",\"value\":\"sb-prod-weu\"}]' "
        "-- scaledobject orders-processor",)
    assert "`sb-prod-weu`" in finding.detail


def test_missing_namespace_fix_names_the_only_namespace(tmp_path: Path) -> None:
    state = healthy()
    drop_namespace(state)
    finding = _finding(diagnose_state(state, tmp_path), "sb-namespace-metadata")
    assert '"value":"sb-prod-weu"' in finding.commands[0]
    assert "namespace are required when using pod identity" in finding.detail


def test_namespace_in_trigger_auth_is_explained(tmp_path: Path) -> None:
    state = healthy()
    namespace_from_trigger_auth(state)
    finding = _finding(diagnose_state(state, tmp_path), "sb-namespace-metadata")
    assert "TriggerAuthentication/orders/sb-auth" in finding.detail
    assert "only from trigger metadata" in finding.detail


def test_entity_shape_error_quotes_keda(tmp_path: Path) -> None:
    state = healthy()
    topic_without_subscription(state)
    finding = _finding(diagnose_state(state, tmp_path), "sb-entity-metadata")
    assert "no subscription name provided with topic name" in finding.detail


def test_queue_that_is_a_topic_says_so(tmp_path: Path) -> None:
    state = healthy()
    queue_is_a_topic(state)
    finding = _finding(diagnose_state(state, tmp_path), "sb-entity-metadata")
    assert "queue events doesn't exist" in finding.detail and "is a topic" in finding.detail


def test_entities_not_collected_asks_for_them(tmp_path: Path) -> None:
    state = healthy()
    state.azure = [r for r in state.azure if not r["type"].endswith("/Queues")]
    queue_typo(state)
    report = diagnose_state(state, tmp_path)
    assert "sb-entity-metadata" not in finding_ids(report)
    commands = [c for f in report.findings if f.id == "input-missing" for c in f.commands]
    assert "az servicebus queue list -g rg-prod-weu --namespace-name sb-prod-weu -o json" in commands


def test_regex_queue_is_not_claimed_missing(tmp_path: Path) -> None:
    state = healthy()
    meta(state).update({"useRegex": "true", "queueName": "ord.*"})
    assert "sb-entity-metadata" not in finding_ids(diagnose_state(state, tmp_path))


def test_authref_in_other_namespace_is_named(tmp_path: Path) -> None:
    state = healthy()
    trigger_auth_in_other_namespace(state)
    report = diagnose_state(state, tmp_path)
    finding = _finding(report, "authref-unresolved")
    assert finding.severity.label == "critical"
    assert "namespace keda" in finding.detail and "no connection setting given" in finding.detail
    assert "TriggerAuthentication/keda/sb-auth" in finding.objects
    assert "kubectl get triggerauthentication sb-auth -n keda" in finding.commands[0]


def test_cluster_auth_fix_adds_kind(tmp_path: Path) -> None:
    state = healthy()
    cluster_auth_without_kind(state)
    finding = _finding(diagnose_state(state, tmp_path), "authref-unresolved")
    assert "ClusterTriggerAuthentication" in finding.detail
    assert '"path":"/spec/triggers/0/authenticationRef/kind","value":"ClusterTriggerAuthentication"' \
        in finding.commands[0]


def test_authref_on_non_azure_trigger_is_a_warning(tmp_path: Path) -> None:
    state = healthy()
    state.trigger.update({"type": "rabbitmq", "metadata": {"queueName": "orders", "mode": "QueueLength",
                                                          "value": "5"}})
    state.trigger["authenticationRef"]["name"] = "rabbit-auth"
    finding = _finding(diagnose_state(state, tmp_path), "authref-unresolved")
    assert finding.severity.label == "warning"


def test_eventhub_without_account_or_connection_is_critical(tmp_path: Path) -> None:
    state = healthy()
    eventhub_without_account(state)
    finding = _finding(diagnose_state(state, tmp_path), "eventhub-storage-auth-fallback")
    assert finding.severity.label == "critical"
    assert "no storage connection string or storage account name" in finding.detail
    assert "/spec/triggers/0/metadata/storageAccountName" in finding.commands[0]


def test_eventhub_connection_string_is_a_warning_with_fix(tmp_path: Path) -> None:
    state = healthy()
    eventhub_with_connection_env(state)
    # The blobs are read with the connection string today, so the identity's missing blob role is no RBAC
    # finding yet; it belongs to this fix, which moves checkpoints to the identity.
    state.azure = [r for r in state.azure if BLOB_READER not in r.get("roleDefinitionId", "")]
    report = diagnose_state(state, tmp_path)
    finding = _finding(report, "eventhub-storage-auth-fallback")
    assert finding.severity.label == "warning"
    assert '"op":"remove","path":"/spec/triggers/0/metadata/storageConnectionFromEnv"' in finding.commands[0]
    assert BLOB_READER in finding.commands[1]
    assert len(finding.commands) == 2
    assert not finding_ids(report) & {"rbac-role-missing", "rbac-wrong-principal-or-scope"}


def test_eventhub_connection_in_trigger_auth(tmp_path: Path) -> None:
    state = healthy()
    eventhub(state)
    state.trigger_auth["spec"]["secretTargetRef"] = [{"parameter": "storageConnection", "name": "st", "key": "c"}]
    finding = _finding(diagnose_state(state, tmp_path), "eventhub-storage-auth-fallback")
    assert "parameter storageConnection" in finding.detail


def test_reuse_explains_keda_uses_its_own_token(tmp_path: Path) -> None:
    state = healthy()
    reuse_workload_identity(state)
    finding = _finding(diagnose_state(state, tmp_path), "expect-workload-identity-reuse")
    assert "its own" in finding.detail and "system:serviceaccount:keda:keda-operator" in finding.detail
    assert "ServiceAccount/orders/orders-sa" in finding.objects
    assert "--subject system:serviceaccount:keda:keda-operator" in finding.commands[0]
    assert "--identity-name orders-id" in finding.commands[0]


def test_baseline_reports_nothing_from_these_checks(tmp_path: Path) -> None:
    assert diagnose_state(healthy(), tmp_path, only=MY_IDS).findings == ()
