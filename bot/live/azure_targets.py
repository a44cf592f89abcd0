"""The resources KEDA's triggers read: Service Bus (namespaces, queues, topics, topic subscriptions), Event Hubs
namespaces, storage accounts, Key Vaults, Log Analytics workspaces and Azure Monitor accounts.

One generic lister on the shared ARM pipeline serves them all (adding six SDKs for six list calls buys
nothing). Only types some trigger needs are listed, and only the named resources are kept, except
workspaces and Monitor accounts: those are matched later by customerId / query endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.live.azure_failures import reader_on
from bot.live.azure_run import AzureRun, Need
from bot.live.collection import AzureWants


@dataclass(frozen=True)
class Target:
    type: str  # canonical ARM type
    stem: str  # bundle file stem
    api_version: str
    label: str  # plural, for people


SB_NAMESPACES = Target("Microsoft.ServiceBus/namespaces", "servicebus", "2024-01-01", "Service Bus namespaces")
SB_QUEUES = Target("Microsoft.ServiceBus/namespaces/queues", "servicebus", "2024-01-01", "queues")
SB_TOPICS = Target("Microsoft.ServiceBus/namespaces/topics", "servicebus", "2024-01-01", "topics")
SB_SUBSCRIPTIONS = Target("Microsoft.ServiceBus/namespaces/topics/subscriptions", "servicebus", "2024-01-01",
                          "topic subscriptions")
EH_NAMESPACES = Target("Microsoft.EventHub/namespaces", "eventhubs", "2024-01-01", "Event Hubs namespaces")
STORAGE = Target("Microsoft.Storage/storageAccounts", "storage", "2023-05-01", "storage accounts")
KEY_VAULTS = Target("Microsoft.KeyVault/vaults", "keyvaults", "2023-07-01", "Key Vaults")
WORKSPACES = Target("Microsoft.OperationalInsights/workspaces", "monitor", "2023-09-01",
                    "Log Analytics workspaces")
MONITOR_ACCOUNTS = Target("Microsoft.Monitor/accounts", "monitor", "2023-04-03", "Azure Monitor workspaces")


def submit_target_lists(run: AzureRun, wants: AzureWants, subscription: str) -> None:
    """Queue the per-subscription lists the triggers need; children follow from what they find."""
    topics = {(ns.lower(), topic.lower()) for ns, topic in wants.sb_topics}
    if wants.sb_namespaces:
        run.pool.submit(f"Service Bus namespaces in {subscription}", _service_bus, run,
                        _names(wants.sb_namespaces), topics, subscription)
    for target, names in ((EH_NAMESPACES, wants.eh_namespaces), (STORAGE, wants.storage_accounts),
                          (KEY_VAULTS, wants.key_vaults)):
        if names:
            run.pool.submit(f"{target.label} in {subscription}", _named, run, target, _names(names), subscription)
    for target, wanted in ((WORKSPACES, wants.log_analytics), (MONITOR_ACCOUNTS, wants.prometheus)):
        if wanted:
            run.pool.submit(f"{target.label} in {subscription}", _named, run, target, None, subscription)


def _names(names: Iterable[str]) -> frozenset[str]:
    return frozenset(n.strip().lower() for n in names if n.strip())


def _in_subscription(run: AzureRun, target: Target, subscription: str) -> list[dict[str, Any]] | None:
    need = Need(f"{target.label} in subscription {subscription}",
                reader_on(f"subscription {subscription}", f"{target.type}/read"), target.type)
    path = f"/subscriptions/{subscription}/providers/{target.type}"
    items = run.call(("list", path.lower()), need, lambda: run.session.list_all(path, target.api_version))
    if items is not None:
        run.mark_collected(target.type)
    return items


_RA_TYPE = "Microsoft.Authorization/roleAssignments"
_RA_API = "2022-04-01"


def _assignments_on(run: AzureRun, resource_id: str) -> None:
    """Every role assignment that reaches a target (inherited from above, on it and below), whoever holds it:
    the only way to see a role given to the wrong principal, a group, or an identity since recreated."""
    need = Need(f"role assignments on {resource_id}", reader_on(resource_id, f"{_RA_TYPE}/read"), _RA_TYPE,
                resource_id)
    path = f"{resource_id}/providers/Microsoft.Authorization/roleAssignments"
    items = run.call(("list", path.lower()), need, lambda: run.session.list_all(path, _RA_API))
    if items is not None:
        run.add("role-assignments", items)


def _named(run: AzureRun, target: Target, names: frozenset[str] | None, subscription: str) -> None:
    items = _in_subscription(run, target, subscription)
    if items is not None:
        kept = [r for r in items if names is None or str(r.get("name", "")).lower() in names]
        run.add(target.stem, kept)
        for resource in kept if names is not None else ():
            if resource.get("id"):
                run.pool.submit(f"role assignments on {resource.get('name')}", _assignments_on, run,
                                str(resource["id"]))


def _service_bus(run: AzureRun, names: frozenset[str], topics: set[tuple[str, str]], subscription: str) -> None:
    namespaces = _in_subscription(run, SB_NAMESPACES, subscription)
    if namespaces is None:
        return
    # The namespaces are known, so their children are: none for a namespace that does not exist.
    run.mark_collected(SB_QUEUES.type, SB_TOPICS.type, *([SB_SUBSCRIPTIONS.type] if topics else []))
    kept = [ns for ns in namespaces if str(ns.get("name", "")).lower() in names and ns.get("id")]
    run.add(SB_NAMESPACES.stem, kept)
    for namespace in kept:
        name = str(namespace.get("name", ""))
        wanted = {topic for ns, topic in topics if ns == name.lower()}
        run.pool.submit(f"queues of {name}", _children, run, SB_QUEUES, str(namespace["id"]), None)
        run.pool.submit(f"topics of {name}", _children, run, SB_TOPICS, str(namespace["id"]), wanted)
        run.pool.submit(f"role assignments on {name}", _assignments_on, run, str(namespace["id"]))


def _children(run: AzureRun, target: Target, parent_id: str, wanted_topics: set[str] | None) -> None:
    """One child collection of `parent_id`; for topics, then the subscriptions of the wanted ones that exist
    (asking for those of a missing topic would only earn a 404)."""
    collection = target.type.rsplit("/", 1)[-1]
    need = Need(f"{target.label} of {parent_id}", reader_on(parent_id, f"{target.type}/read"), target.type,
                parent_id)
    path = f"{parent_id}/{collection}"
    items = run.call(("list", path.lower()), need, lambda: run.session.list_all(path, target.api_version))
    if items is None:
        return
    run.add(target.stem, items)
    for topic in items if wanted_topics else ():
        if str(topic.get("name", "")).lower() in (wanted_topics or ()) and topic.get("id"):
            run.pool.submit(f"subscriptions of topic {topic.get('name')}", _children, run, SB_SUBSCRIPTIONS,
                            str(topic["id"]), None)
