"""Reference facts the checks depend on (failure-modes.md Part A). Data, not logic."""

from __future__ import annotations

from dataclasses import dataclass

WI_USE_LABEL = "azure.workload.identity/use"
WI_CLIENT_ID = "azure.workload.identity/client-id"
WI_TENANT_ID = "azure.workload.identity/tenant-id"
WI_TOKEN_EXPIRATION = "azure.workload.identity/service-account-token-expiration"
WI_SKIP_CONTAINERS = "azure.workload.identity/skip-containers"
WI_ENV = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST")
TOKEN_AUDIENCE = "api://AzureADTokenExchange"
TOKEN_PATH_V15 = "/var/run/secrets/azure/tokens/azure-identity-token"
TOKEN_PATH_V16 = "/var/run/secrets/azure/wi/token/azure-identity-token"
TOKEN_VOLUME_V15 = "azure-identity-token"
TOKEN_VOLUME_V16_PREFIX = "azure-workload-identity-reserved-"
TOKEN_EXPIRATION_RANGE = (3600, 86400)
WEBHOOK_CONFIG_NAME = "azure-wi-webhook-mutating-webhook-configuration"
WEBHOOK_NAME = "mutation.azure-workload-identity.io"
WEBHOOK_SERVICE = "azure-wi-webhook-webhook-service"
WEBHOOK_CONFIGMAP = "azure-wi-webhook-config"
EXTERNAL_METRICS_APISERVICE = "v1beta1.external.metrics.k8s.io"
ADMISSIONS_ENFORCER_DISABLED = "admissions.enforcer/disabled"

RBAC_PROPAGATION_SECONDS = 10 * 60
FIC_PROPAGATION_SECONDS = 5 * 60
KEDA_DEFAULT_HTTP_TIMEOUT_MS = 3000

AUTHORITY_HOSTS = {
    "azurepubliccloud": "https://login.microsoftonline.com/",
    "azureusgovernmentcloud": "https://login.microsoftonline.us/",
    "azurechinacloud": "https://login.chinacloudapi.cn/",
    "azuregermancloud": "https://login.microsoftonline.de/",
}
SERVICEBUS_SUFFIXES = {
    "azurepubliccloud": "servicebus.windows.net",
    "azureusgovernmentcloud": "servicebus.usgovcloudapi.net",
    "azurechinacloud": "servicebus.chinacloudapi.cn",
    "azuregermancloud": "servicebus.cloudapi.de",
}
CLOUD_NAMES = {
    "azurepubliccloud": "AzurePublicCloud",
    "azureusgovernmentcloud": "AzureUSGovernmentCloud",
    "azurechinacloud": "AzureChinaCloud",
    "azuregermancloud": "AzureGermanCloud",
    "private": "Private",
}

# Scalers that authenticate with azidentity when their TriggerAuthentication says `azure-workload`.
AZURE_SCALERS = frozenset({
    "azure-servicebus", "azure-eventhub", "azure-queue", "azure-blob", "azure-monitor",
    "azure-log-analytics", "azure-data-explorer", "azure-pipelines", "prometheus",
})


@dataclass(frozen=True, slots=True)
class Role:
    guid: str
    name: str


def _role(guid: str, name: str) -> Role:
    return Role(guid, name)


SB_DATA_OWNER = _role("090c5cfd-751d-490a-894a-3ce6f1109419", "Azure Service Bus Data Owner")
SB_DATA_RECEIVER = _role("4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0", "Azure Service Bus Data Receiver")
SB_DATA_SENDER = _role("69a216fc-b8fb-44d8-bc22-1f3c2cd27a39", "Azure Service Bus Data Sender")
EH_DATA_OWNER = _role("f526a384-b230-433a-b45c-95f59c4a2dec", "Azure Event Hubs Data Owner")
EH_DATA_RECEIVER = _role("a638d3c7-ab3a-418d-83e6-5f17a39d4fde", "Azure Event Hubs Data Receiver")
EH_DATA_SENDER = _role("2b629674-e913-4c01-ae53-ef4638d8f975", "Azure Event Hubs Data Sender")
BLOB_READER = _role("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "Storage Blob Data Reader")
BLOB_CONTRIBUTOR = _role("ba92f5b4-2d11-453d-a403-e96b0029c9fe", "Storage Blob Data Contributor")
BLOB_OWNER = _role("b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "Storage Blob Data Owner")
QUEUE_READER = _role("19e7f393-937e-4f77-808e-94535e297925", "Storage Queue Data Reader")
QUEUE_CONTRIBUTOR = _role("974c5e8b-45b9-4653-ba55-5f855dd0fb88", "Storage Queue Data Contributor")
QUEUE_PROCESSOR = _role("8a0f0c08-91a1-4084-bc3d-661d67233fed", "Storage Queue Data Message Processor")
MONITORING_READER = _role("43d0d8ad-25c7-4714-9337-8ba259a9fe05", "Monitoring Reader")
MONITORING_CONTRIBUTOR = _role("749f88d5-cbae-40b8-bcfc-e573ddc772fa", "Monitoring Contributor")
MONITORING_DATA_READER = _role("b0d8363b-8ddd-447d-831f-62ca05bff136", "Monitoring Data Reader")
LA_READER = _role("73c42c96-874c-492b-b04d-ab87d138a893", "Log Analytics Reader")
LA_DATA_READER = _role("3b03c2da-16b3-4a49-8834-0f8130efdd3b", "Log Analytics Data Reader")
LA_CONTRIBUTOR = _role("92aaf0da-9dab-42b6-94a3-d43ce8d16293", "Log Analytics Contributor")
KV_SECRETS_USER = _role("4633458b-17de-408a-b874-0445c86b69e6", "Key Vault Secrets User")
KV_SECRETS_OFFICER = _role("b86a8fe4-44ce-4948-aee5-eccb2c155cd7", "Key Vault Secrets Officer")
KV_ADMIN = _role("00482a5a-887f-4fb3-b363-3b7fe8e74483", "Key Vault Administrator")
READER = _role("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader")
CONTRIBUTOR = _role("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor")
OWNER = _role("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner")

BUILTIN_ROLES = {r.guid: r for r in (
    SB_DATA_OWNER, SB_DATA_RECEIVER, SB_DATA_SENDER, EH_DATA_OWNER, EH_DATA_RECEIVER, EH_DATA_SENDER,
    BLOB_READER, BLOB_CONTRIBUTOR, BLOB_OWNER, QUEUE_READER, QUEUE_CONTRIBUTOR, QUEUE_PROCESSOR,
    MONITORING_READER, MONITORING_CONTRIBUTOR, MONITORING_DATA_READER, LA_READER, LA_DATA_READER,
    LA_CONTRIBUTOR, KV_SECRETS_USER, KV_SECRETS_OFFICER, KV_ADMIN, READER, CONTRIBUTOR, OWNER,
)}


@dataclass(frozen=True, slots=True)
class Capability:
    """What KEDA must be allowed to do on a target, and which roles grant it."""

    key: str
    description: str
    grant: Role  # the role a fix assigns
    sufficient: tuple[Role, ...]
    data_action: str  # what a custom role must allow (wildcards honoured)
    insufficient: tuple[Role, ...] = ()  # related roles that look right but are not enough


SB_RUNTIME = Capability(
    "servicebus-runtime", "read entity runtime properties (Manage/EntityRead)", SB_DATA_OWNER,
    (SB_DATA_OWNER,), "Microsoft.ServiceBus/*", (SB_DATA_RECEIVER, SB_DATA_SENDER),
)
EH_RECEIVE = Capability(
    "eventhub-receive", "read Event Hub partitions", EH_DATA_RECEIVER,
    (EH_DATA_RECEIVER, EH_DATA_OWNER), "Microsoft.EventHub/namespaces/messages/receive/action",
    (EH_DATA_SENDER,),
)
BLOB_READ = Capability(
    "blob-read", "read checkpoint or scaled blobs", BLOB_READER,
    (BLOB_READER, BLOB_CONTRIBUTOR, BLOB_OWNER),
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
)
QUEUE_READ = Capability(
    "queue-read", "peek storage queue messages", QUEUE_READER,
    (QUEUE_READER, QUEUE_CONTRIBUTOR, QUEUE_PROCESSOR),
    "Microsoft.Storage/storageAccounts/queueServices/queues/messages/read",
)
MONITOR_READ = Capability(
    "monitor-read", "read Azure Monitor metrics", MONITORING_READER,
    (MONITORING_READER, MONITORING_CONTRIBUTOR, READER, CONTRIBUTOR, OWNER),
    "Microsoft.Insights/metrics/read",
)
LOG_ANALYTICS_READ = Capability(
    "log-analytics-read", "run Log Analytics queries", LA_READER,
    (LA_READER, LA_DATA_READER, LA_CONTRIBUTOR, READER, CONTRIBUTOR, OWNER),
    "Microsoft.OperationalInsights/workspaces/query/read",
)
PROMETHEUS_READ = Capability(
    "prometheus-read", "query Azure Managed Prometheus", MONITORING_DATA_READER,
    (MONITORING_DATA_READER,), "Microsoft.Monitor/accounts/data/metrics/read",
)
KEYVAULT_SECRET_GET = Capability(
    "keyvault-secret-get", "read Key Vault secrets", KV_SECRETS_USER,
    (KV_SECRETS_USER, KV_SECRETS_OFFICER, KV_ADMIN), "Microsoft.KeyVault/vaults/secrets/getSecret/action",
)

# failure-modes.md A1: KEDA minor -> supported Kubernetes minors (inclusive).
KEDA_K8S_SUPPORT: dict[tuple[int, int], tuple[tuple[int, int], tuple[int, int]]] = {
    (2, 20): ((1, 33), (1, 35)),
    (2, 19): ((1, 32), (1, 34)),
    (2, 18): ((1, 31), (1, 33)),
    (2, 17): ((1, 30), (1, 32)),
    (2, 16): ((1, 29), (1, 31)),
    (2, 15): ((1, 28), (1, 30)),
    (2, 14): ((1, 27), (1, 29)),
    (2, 13): ((1, 27), (1, 29)),
    (2, 12): ((1, 26), (1, 28)),
    (2, 11): ((1, 25), (1, 27)),
    (2, 10): ((1, 24), (1, 26)),
    (2, 9): ((1, 23), (1, 25)),
    (2, 8): ((1, 17), (1, 25)),
    (2, 7): ((1, 17), (1, 25)),
}
