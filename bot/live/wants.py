"""What to ask Azure, read off the Kubernetes side of the chain.

Azure is asked only about the identities KEDA presents and the resources its triggers read: a tenant's
other identities and namespaces are none of our business, and asking about them would cost requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.diagnosis import facts
from bot.diagnosis.chain import Chain, Trigger, container_env
from bot.diagnosis.checks.identity import POD_IDENTITY_PATHS
from bot.diagnosis.targets import short_namespace, vault_name
from bot.live.collection import AzureWants
from bot.snapshot import Snapshot
from bot.snapshot.frozen import as_mapping, as_seq, as_str, dig

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_SUBSCRIPTION = re.compile(r"/subscriptions/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})",
                           re.IGNORECASE)


def _identity_values(chain: Chain) -> Iterator[str]:
    """Every value KEDA might present as a clientId, wherever it is written, valid or not."""
    for install in chain.installs:
        annotation = as_str(install.sa_annotations.get(facts.WI_CLIENT_ID))
        if annotation:
            yield annotation
        for pod in install.pods:
            for container in as_seq(pod.spec.get("containers")):
                client_id = container_env(as_mapping(container)).get("AZURE_CLIENT_ID")
                if client_id is not None and client_id.value:
                    yield client_id.value
        default = chain.default_identity(install)
        if default.client_id:
            yield default.client_id
    for auth in chain.snapshot.of_kind("TriggerAuthentication") + chain.snapshot.of_kind(
            "ClusterTriggerAuthentication"):
        for path in POD_IDENTITY_PATHS:
            value = as_str(dig(auth.spec, *path, "identityId"))
            if value:
                yield value


class _Targets:
    def __init__(self) -> None:
        self.sb: set[str] = set()
        self.topics: set[tuple[str, str]] = set()
        self.eh: set[str] = set()
        self.storage: set[str] = set()
        self.vaults: set[str] = set()
        self.log_analytics = False
        self.prometheus = False
        self.subscriptions: set[str] = set()

    def add(self, trigger: Trigger) -> None:
        meta = trigger.metadata
        if trigger.type == "azure-servicebus" and meta.get("namespace"):
            namespace = short_namespace(meta["namespace"]).lower()
            self.sb.add(namespace)
            if meta.get("topicName"):
                self.topics.add((namespace, meta["topicName"].lower()))
        elif trigger.type == "azure-eventhub":
            if meta.get("eventHubNamespace"):
                self.eh.add(short_namespace(meta["eventHubNamespace"]).lower())
            if meta.get("storageAccountName"):
                self.storage.add(meta["storageAccountName"].lower())
        elif trigger.type in ("azure-queue", "azure-blob") and meta.get("accountName"):
            self.storage.add(meta["accountName"].lower())
        elif trigger.type == "azure-log-analytics":
            self.log_analytics = True
        elif trigger.type == "prometheus" and ".prometheus.monitor.azure" in meta.get("serverAddress", ""):
            self.prometheus = True
        elif trigger.type == "azure-monitor" and _GUID.match(meta.get("subscriptionId", "")):
            self.subscriptions.add(meta["subscriptionId"].lower())


def azure_wants(snapshot: Snapshot, *, kube_issuer: str | None, kube_server: str | None) -> AzureWants:
    """The identities and target resources a Kubernetes-only snapshot says Azure must be asked about."""
    chain = Chain(snapshot)
    values = {v.strip() for v in _identity_values(chain) if v.strip()}
    targets = _Targets()
    for trigger in chain.triggers:
        targets.add(trigger)
    for auth in chain.auth_objects:
        uri = as_str(dig(auth.spec, "azureKeyVault", "vaultUri"))
        if uri:
            targets.vaults.add(vault_name(uri).lower())
    subscriptions = {m.group(1).lower() for v in values for m in _SUBSCRIPTION.finditer(v)}
    return AzureWants(
        client_ids=frozenset(v.lower() for v in values if _GUID.match(v)),
        identity_refs=frozenset(values),
        subscription_hints=frozenset(subscriptions | targets.subscriptions),
        sb_namespaces=frozenset(targets.sb),
        sb_topics=frozenset(targets.topics),
        eh_namespaces=frozenset(targets.eh),
        storage_accounts=frozenset(targets.storage),
        key_vaults=frozenset(targets.vaults),
        log_analytics=targets.log_analytics,
        prometheus=targets.prometheus,
        kube_issuer=kube_issuer,
        kube_server=kube_server,
    )
