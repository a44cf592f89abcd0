"""The scaler targets KEDA authenticates to: Service Bus, Event Hubs, Storage queues/blobs and Key Vault.

Only their control plane matters here (RBAC scopes and existence), so bodies carry the fields the real
providers return, with defaults taken from the upstream examples; provider-specific validation is not
modelled.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tests.kit.azuresim.clock import arm_time
from tests.kit.azuresim.ids import ResourceId
from tests.kit.azuresim.kinds import Kind
from tests.kit.azuresim.spec import SB_EXAMPLES, Schema
from tests.kit.azuresim.store import Resource
from tests.kit.azuresim.world import Ctx

_FOREVER = "P10675199DT2H48M5.4775807S"


class _Defaults(Kind):
    """A kind whose properties start from fixed defaults plus created/updated timestamps."""

    defaults: ClassVar[dict[str, Any]] = {}

    def base(self, ctx: Ctx, rid: ResourceId) -> dict[str, Any]:
        return dict(self.defaults)

    def properties(self, ctx: Ctx, rid: ResourceId, given: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        props = dict(existing.body["properties"]) if existing else {**self.base(ctx, rid),
                                                                    "createdAt": arm_time(ctx.now)}
        props.update({k: v for k, v in given.items() if k not in ("createdAt", "provisioningState")})
        props["updatedAt"] = arm_time(ctx.now)
        props.setdefault("provisioningState", "Succeeded")
        return props


def _sb_schema(kind_type: str) -> Schema:
    return Schema(example=SB_EXAMPLES[kind_type.lower()])


class ServiceBusNamespace(_Defaults):
    type = "Microsoft.ServiceBus/namespaces"
    returned_type = "Microsoft.ServiceBus/Namespaces"
    tracked = True
    schema = _sb_schema(type)

    def base(self, ctx: Ctx, rid: ResourceId) -> dict[str, Any]:
        return {"disableLocalAuth": False, "minimumTlsVersion": "1.2", "privateEndpointConnections": [],
                "metricId": f"{rid.subscription}:{rid.name.lower()}", "publicNetworkAccess": "Enabled",
                "serviceBusEndpoint": f"https://{rid.name}.servicebus.windows.net:443/", "status": "Active",
                "zoneRedundant": False}

    def extra(self, ctx: Ctx, rid: ResourceId, body: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        return {"sku": body.get("sku") or (existing.body["sku"] if existing else {"name": "Standard",
                                                                                 "tier": "Standard"})}


class ServiceBusQueue(_Defaults):
    type = "Microsoft.ServiceBus/namespaces/queues"
    returned_type = "Microsoft.ServiceBus/Namespaces/Queues"
    schema = _sb_schema(type)
    defaults: ClassVar[dict[str, Any]] = {"accessedAt": "0001-01-01T00:00:00Z", "autoDeleteOnIdle": _FOREVER,
                "defaultMessageTimeToLive": _FOREVER, "duplicateDetectionHistoryTimeWindow": "PT10M",
                "enableExpress": False, "enablePartitioning": False, "lockDuration": "PT1M", "maxDeliveryCount": 10,
                "maxMessageSizeInKilobytes": 256, "maxSizeInMegabytes": 1024, "messageCount": 0,
                "requiresDuplicateDetection": False, "requiresSession": False, "sizeInBytes": 0, "status": "Active"}


class ServiceBusTopic(_Defaults):
    type = "Microsoft.ServiceBus/namespaces/topics"
    returned_type = "Microsoft.ServiceBus/Namespaces/Topics"
    schema = _sb_schema(type)
    defaults: ClassVar[dict[str, Any]] = {"accessedAt": "0001-01-01T00:00:00Z", "autoDeleteOnIdle": _FOREVER,
                "defaultMessageTimeToLive": _FOREVER, "duplicateDetectionHistoryTimeWindow": "PT10M",
                "enableBatchedOperations": True, "enableExpress": False, "enablePartitioning": False,
                "maxMessageSizeInKilobytes": 256, "maxSizeInMegabytes": 1024, "requiresDuplicateDetection": False,
                "sizeInBytes": 0, "status": "Active", "subscriptionCount": 0, "supportOrdering": True}


class ServiceBusSubscription(_Defaults):
    type = "Microsoft.ServiceBus/namespaces/topics/subscriptions"
    returned_type = "Microsoft.ServiceBus/Namespaces/Topics/Subscriptions"
    schema = _sb_schema(type)
    defaults: ClassVar[dict[str, Any]] = {"accessedAt": "0001-01-01T00:00:00Z", "autoDeleteOnIdle": _FOREVER,
                "countDetails": {"activeMessageCount": 0, "deadLetterMessageCount": 0, "scheduledMessageCount": 0,
                                 "transferDeadLetterMessageCount": 0, "transferMessageCount": 0},
                "deadLetteringOnFilterEvaluationExceptions": True, "deadLetteringOnMessageExpiration": False,
                "defaultMessageTimeToLive": _FOREVER, "enableBatchedOperations": True, "lockDuration": "PT1M",
                "maxDeliveryCount": 10, "messageCount": 0, "requiresSession": False, "status": "Active"}


class EventHubNamespace(_Defaults):
    type = "Microsoft.EventHub/namespaces"
    returned_type = "Microsoft.EventHub/Namespaces"
    tracked = True

    def base(self, ctx: Ctx, rid: ResourceId) -> dict[str, Any]:
        return {"disableLocalAuth": False, "isAutoInflateEnabled": False, "kafkaEnabled": True,
                "maximumThroughputUnits": 0, "metricId": f"{rid.subscription}:{rid.name.lower()}",
                "minimumTlsVersion": "1.2", "publicNetworkAccess": "Enabled",
                "serviceBusEndpoint": f"https://{rid.name}.servicebus.windows.net:443/", "status": "Active",
                "zoneRedundant": True}

    def extra(self, ctx: Ctx, rid: ResourceId, body: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        return {"sku": body.get("sku") or (existing.body["sku"] if existing else {"name": "Standard",
                                                                                 "tier": "Standard", "capacity": 1})}


class EventHub(_Defaults):
    type = "Microsoft.EventHub/namespaces/eventhubs"
    returned_type = "Microsoft.EventHub/Namespaces/EventHubs"
    defaults: ClassVar[dict[str, Any]] = {"messageRetentionInDays": 1, "partitionCount": 2, "partitionIds": ["0", "1"],
                                          "status": "Active"}


class EventHubConsumerGroup(_Defaults):
    type = "Microsoft.EventHub/namespaces/eventhubs/consumergroups"
    returned_type = "Microsoft.EventHub/Namespaces/EventHubs/ConsumerGroups"


class StorageAccount(Kind):
    type = "Microsoft.Storage/storageAccounts"
    tracked = True

    def properties(self, ctx: Ctx, rid: ResourceId, given: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        if existing is not None:
            return {**existing.body["properties"], **given, "provisioningState": "Succeeded"}
        endpoints = {svc: f"https://{rid.name}.{svc}.core.windows.net/" for svc in ("blob", "queue", "table", "file")}
        endpoints |= {"dfs": f"https://{rid.name}.dfs.core.windows.net/",
                      "web": f"https://{rid.name}.z6.web.core.windows.net/"}
        return {"accessTier": "Hot", "allowBlobPublicAccess": False, "allowSharedKeyAccess": True,
                "creationTime": arm_time(ctx.now), "minimumTlsVersion": "TLS1_2", "primaryEndpoints": endpoints,
                "primaryLocation": (ctx.json_body().get("location") or ""), "statusOfPrimary": "available",
                "supportsHttpsTrafficOnly": True, **given, "provisioningState": "Succeeded"}

    def extra(self, ctx: Ctx, rid: ResourceId, body: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        previous = existing.body if existing else {}
        return {"kind": body.get("kind") or previous.get("kind", "StorageV2"),
                "sku": body.get("sku") or previous.get("sku", {"name": "Standard_LRS", "tier": "Standard"})}


class QueueService(Kind):
    type = "Microsoft.Storage/storageAccounts/queueServices"
    implicit = True


class StorageQueue(Kind):
    type = "Microsoft.Storage/storageAccounts/queueServices/queues"

    def properties(self, ctx: Ctx, rid: ResourceId, given: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        return {"metadata": given.get("metadata") or {}, "approximateMessageCount": 0}


class BlobService(Kind):
    type = "Microsoft.Storage/storageAccounts/blobServices"
    implicit = True


class BlobContainer(Kind):
    type = "Microsoft.Storage/storageAccounts/blobServices/containers"

    def properties(self, ctx: Ctx, rid: ResourceId, given: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        return {"publicAccess": "None", "leaseStatus": "Unlocked", "leaseState": "Available",
                "hasImmutabilityPolicy": False, "hasLegalHold": False, "lastModifiedTime": arm_time(ctx.now),
                "deleted": False, "remainingRetentionDays": 0, **given}


class KeyVault(Kind):
    type = "Microsoft.KeyVault/vaults"
    tracked = True

    def properties(self, ctx: Ctx, rid: ResourceId, given: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        base = existing.body["properties"] if existing else {
            "tenantId": ctx.subscription(rid.subscription).tenant_id, "sku": {"family": "A", "name": "standard"},
            "accessPolicies": [], "enableRbacAuthorization": True, "enableSoftDelete": True,
            "softDeleteRetentionInDays": 90, "vaultUri": f"https://{rid.name}.vault.azure.net/",
            "publicNetworkAccess": "Enabled"}
        return {**base, **given, "provisioningState": "Succeeded"}
