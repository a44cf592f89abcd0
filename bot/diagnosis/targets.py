"""Which Azure resource each scaler reads, and the capability (role) it needs there (Part A3, A6)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.diagnosis import facts
from bot.diagnosis.facts import Capability
from bot.diagnosis.findings import MissingInput
from bot.snapshot import ArmResource, Snapshot
from bot.snapshot.frozen import as_str, dig

T_SB_NAMESPACE = "Microsoft.ServiceBus/namespaces"
T_EH_NAMESPACE = "Microsoft.EventHub/namespaces"
T_STORAGE = "Microsoft.Storage/storageAccounts"
T_KEYVAULT = "Microsoft.KeyVault/vaults"
T_WORKSPACE = "Microsoft.OperationalInsights/workspaces"
T_MONITOR_ACCOUNT = "Microsoft.Monitor/accounts"


@dataclass(frozen=True, slots=True)
class Target:
    capability: Capability
    display: str
    resource_id: str | None  # the resource KEDA reads; None when the bundle cannot tell
    required_scope: str | None  # the narrowest scope a role assignment must cover
    missing: MissingInput | None = None
    note: str = ""


def short_namespace(value: str) -> str:
    return value.split(".", 1)[0]


def _by_name(snapshot: Snapshot, arm_type: str, name: str) -> ArmResource | None:
    for resource in snapshot.arm_of_type(arm_type):
        if resource.name.lower() == name.lower():
            return resource
    return None


def _unresolved(cap: Capability, display: str, what: str, add: str) -> Target:
    return Target(cap, display, None, None, MissingInput(what, add, "to check the role assignments on it"))


def _servicebus(snapshot: Snapshot, meta: Mapping[str, str]) -> list[Target]:
    namespace = meta.get("namespace") or ""
    if not namespace:
        return []
    short = short_namespace(namespace)
    queue, topic, sub = meta.get("queueName"), meta.get("topicName"), meta.get("subscriptionName")
    regex = (meta.get("useRegex") or "").lower() == "true"
    entity = f"queue {queue}" if queue else f"topic {topic} subscription {sub}" if topic else "entities"
    display = f"Service Bus {entity} in namespace {short}"
    ns = _by_name(snapshot, T_SB_NAMESPACE, short)
    if ns is None:
        return [_unresolved(facts.SB_RUNTIME, display, f"the Service Bus namespace {short}",
                            f"az servicebus namespace list --query \"[?name=='{short}']\" -o json")]
    if regex and topic:
        # Subscriptions are listed per topic, so the topic is enough; only queues are listed namespace-wide.
        rid = f"{ns.id}/topics/{topic}"
        return [Target(facts.SB_RUNTIME, display, rid, rid, note="useRegex lists the topic's subscriptions")]
    if regex or not (queue or (topic and sub)):
        return [Target(facts.SB_RUNTIME, display, ns.id, ns.id,
                       note="useRegex lists queues at namespace level" if regex else "")]
    rid = f"{ns.id}/queues/{queue}" if queue else f"{ns.id}/topics/{topic}/subscriptions/{sub}"
    return [Target(facts.SB_RUNTIME, display, rid, rid)]


def _storage_target(snapshot: Snapshot, cap: Capability, account: str, child: str, display: str) -> Target:
    resource = _by_name(snapshot, T_STORAGE, account)
    if resource is None:
        return _unresolved(cap, display, f"the storage account {account}",
                           f"az storage account show -n {account} -o json")
    rid = resource.id + child
    return Target(cap, display, rid, rid)


def _eventhub(snapshot: Snapshot, meta: Mapping[str, str]) -> list[Target]:
    targets: list[Target] = []
    namespace, hub = meta.get("eventHubNamespace"), meta.get("eventHubName")
    if namespace:
        short = short_namespace(namespace)
        display = f"Event Hub {hub or '?'} in namespace {short}"
        ns = _by_name(snapshot, T_EH_NAMESPACE, short)
        if ns is None:
            targets.append(_unresolved(facts.EH_RECEIVE, display, f"the Event Hubs namespace {short}",
                                       f"az eventhubs namespace list --query \"[?name=='{short}']\" -o json"))
        else:
            rid = f"{ns.id}/eventhubs/{hub}" if hub else ns.id
            targets.append(Target(facts.EH_RECEIVE, display, rid, rid))
    account = meta.get("storageAccountName")
    if account:
        container = meta.get("blobContainer")
        child = f"/blobServices/default/containers/{container}" if container else ""
        targets.append(_storage_target(snapshot, facts.BLOB_READ, account, child,
                                       f"checkpoint blobs in storage account {account}"))
    return targets


def _queue(snapshot: Snapshot, meta: Mapping[str, str]) -> list[Target]:
    account = meta.get("accountName")
    if not account:
        return []
    queue = meta.get("queueName")
    child = f"/queueServices/default/queues/{queue}" if queue else ""
    return [_storage_target(snapshot, facts.QUEUE_READ, account, child,
                            f"storage queue {queue or '?'} in account {account}")]


def _blob(snapshot: Snapshot, meta: Mapping[str, str]) -> list[Target]:
    account = meta.get("accountName")
    if not account:
        return []
    container = meta.get("blobContainerName")
    child = f"/blobServices/default/containers/{container}" if container else ""
    return [_storage_target(snapshot, facts.BLOB_READ, account, child,
                            f"blob container {container or '?'} in account {account}")]


def _monitor(snapshot: Snapshot, meta: Mapping[str, str]) -> list[Target]:
    uri, sub, rg = meta.get("resourceURI"), meta.get("subscriptionId"), meta.get("resourceGroupName")
    if not (uri and sub and rg):
        return []
    rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{uri.strip('/')}"
    return [Target(facts.MONITOR_READ, f"Azure Monitor metrics of {uri}", rid, rid)]


def _log_analytics(snapshot: Snapshot, meta: Mapping[str, str]) -> list[Target]:
    workspace_id = meta.get("workspaceId")
    if not workspace_id:
        return []
    display = f"Log Analytics workspace {workspace_id}"
    for ws in snapshot.arm_of_type(T_WORKSPACE):
        if (as_str(ws.prop("customerId")) or "").lower() == workspace_id.lower():
            return [Target(facts.LOG_ANALYTICS_READ, f"Log Analytics workspace {ws.name}", ws.id, ws.id)]
    return [_unresolved(facts.LOG_ANALYTICS_READ, display, f"the Log Analytics workspace {workspace_id}",
                        f"az monitor log-analytics workspace list --query \"[?customerId=='{workspace_id}']\""
                        " -o json")]


def _prometheus(snapshot: Snapshot, meta: Mapping[str, str]) -> list[Target]:
    server = meta.get("serverAddress") or ""
    if ".prometheus.monitor.azure" not in server:
        return []
    host = server.split("://", 1)[-1].split("/", 1)[0].lower()
    for account in snapshot.arm_of_type(T_MONITOR_ACCOUNT):
        endpoint = as_str(dig(account.properties, "metrics", "prometheusQueryEndpoint")) or ""
        if host and host in endpoint.lower():
            return [Target(facts.PROMETHEUS_READ, f"Azure Monitor workspace {account.name}", account.id,
                           account.id)]
    return [_unresolved(facts.PROMETHEUS_READ, f"Azure Managed Prometheus at {host}",
                        f"the Azure Monitor workspace serving {host}",
                        "az monitor account list -o json")]


_BY_SCALER = {
    "azure-servicebus": _servicebus,
    "azure-eventhub": _eventhub,
    "azure-queue": _queue,
    "azure-blob": _blob,
    "azure-monitor": _monitor,
    "azure-log-analytics": _log_analytics,
    "prometheus": _prometheus,
}


def targets_for(snapshot: Snapshot, scaler: str, metadata: Mapping[str, str]) -> tuple[Target, ...]:
    resolver = _BY_SCALER.get(scaler)
    return tuple(resolver(snapshot, metadata)) if resolver else ()


def vault_name(vault_uri: str) -> str:
    """`https://kv-prod.vault.azure.net/` -> `kv-prod`."""
    return vault_uri.split("://", 1)[-1].split(".", 1)[0]


def keyvault_target(snapshot: Snapshot, vault_uri: str) -> Target:
    name = vault_name(vault_uri)
    vault = _by_name(snapshot, T_KEYVAULT, name)
    display = f"Key Vault {name}"
    if vault is None:
        return _unresolved(facts.KEYVAULT_SECRET_GET, display, f"the Key Vault {name}",
                           f"az keyvault show -n {name} -o json")
    return Target(facts.KEYVAULT_SECRET_GET, display, vault.id, vault.id)


def scope_covers(scope: str, resource_id: str) -> bool:
    """An assignment at `scope` applies to `resource_id` (ARM ids compare case-insensitively)."""
    s = scope.rstrip("/").lower()
    r = resource_id.rstrip("/").lower()
    if s in ("", "/"):
        return True
    if "/providers/microsoft.management/managementgroups/" in s:
        return True  # the hierarchy is not in the snapshot; a management group holds its subscriptions
    return r == s or r.startswith(s + "/")
