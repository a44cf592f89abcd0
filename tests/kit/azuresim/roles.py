"""Built-in Azure role definitions the product deals with: real ids, names and permissions.

Permissions are those published in Azure's built-in role reference (learn.microsoft.com
"Azure built-in roles"); only the roles relevant to KEDA's scalers and to fixing them are included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Permission:
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        return {"actions": list(self.actions), "notActions": list(self.not_actions),
                "dataActions": list(self.data_actions), "notDataActions": list(self.not_data_actions)}

    @staticmethod
    def from_body(body: dict[str, Any]) -> Permission:
        return Permission(tuple(body.get("actions") or ()), tuple(body.get("notActions") or ()),
                          tuple(body.get("dataActions") or ()), tuple(body.get("notDataActions") or ()))


@dataclass(frozen=True)
class RoleDefinition:
    guid: str
    name: str
    description: str
    permissions: tuple[Permission, ...]
    role_type: str = "BuiltInRole"
    assignable_scopes: tuple[str, ...] = ("/",)
    scope: str = field(default="")  # where a custom role was created ("" for built-ins)

    def properties(self) -> dict[str, Any]:
        return {"roleName": self.name, "type": self.role_type, "description": self.description,
                "assignableScopes": list(self.assignable_scopes),
                "permissions": [p.body() for p in self.permissions]}


_SUPPORT = ("Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*")
_SB_READS = ("Microsoft.ServiceBus/*/queues/read", "Microsoft.ServiceBus/*/topics/read",
             "Microsoft.ServiceBus/*/topics/subscriptions/read")
_QUEUES = "Microsoft.Storage/storageAccounts/queueServices/queues"
_BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers"
_KV_READS = ("Microsoft.KeyVault/checkNameAvailability/read", "Microsoft.KeyVault/deletedVaults/read",
             "Microsoft.KeyVault/locations/*/read", "Microsoft.KeyVault/vaults/*/read",
             "Microsoft.KeyVault/operations/read")


def _role(guid: str, name: str, description: str, actions: tuple[str, ...] = (), not_actions: tuple[str, ...] = (),
          data_actions: tuple[str, ...] = (), not_data_actions: tuple[str, ...] = ()) -> RoleDefinition:
    return RoleDefinition(guid, name, description,
                          (Permission(actions, not_actions, data_actions, not_data_actions),))


BUILTIN_ROLES: tuple[RoleDefinition, ...] = (
    _role("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner",
          "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
          ("*",)),
    _role("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor",
          "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, "
          "manage assignments in Azure Blueprints, or share image galleries.",
          ("*",),
          ("Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
           "Microsoft.Authorization/elevateAccess/Action", "Microsoft.Blueprint/blueprintAssignments/write",
           "Microsoft.Blueprint/blueprintAssignments/delete", "Microsoft.Compute/galleries/share/action",
           "Microsoft.Purview/consents/write", "Microsoft.Purview/consents/delete",
           "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
           "Microsoft.Subscription/cancel/action", "Microsoft.Subscription/enable/action")),
    _role("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader",
          "View all resources, but does not allow you to make any changes.", ("*/read",)),
    _role("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "User Access Administrator",
          "Lets you manage user access to Azure resources.",
          ("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*")),
    _role("f58310d9-a9f6-439a-9e8d-f62e7b41a168", "Role Based Access Control Administrator",
          "Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow you to "
          "manage access using other ways, such as Azure Policy.",
          ("Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleAssignments/delete",
           "*/read", "Microsoft.Support/*")),
    _role("e40ec5ca-96e0-45a2-b4ff-59039f2c2b59", "Managed Identity Contributor",
          "Create, Read, Update, and Delete User Assigned Identity",
          ("Microsoft.ManagedIdentity/userAssignedIdentities/read",
           "Microsoft.ManagedIdentity/userAssignedIdentities/write",
           "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
           "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
           "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
           "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
           "Microsoft.ManagedIdentity/userAssignedIdentities/revokeTokens/action", *_SUPPORT)),
    _role("f1a07417-d97a-45cb-824c-7a7467783830", "Managed Identity Operator",
          "Read and Assign User Assigned Identity",
          ("Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
           "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", *_SUPPORT)),
    _role("090c5cfd-751d-490a-894a-3ce6f1109419", "Azure Service Bus Data Owner",
          "Allows for full access to Azure Service Bus resources.",
          ("Microsoft.ServiceBus/*",), data_actions=("Microsoft.ServiceBus/*",)),
    _role("4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0", "Azure Service Bus Data Receiver",
          "Allows for receive access to Azure Service Bus resources.",
          _SB_READS, data_actions=("Microsoft.ServiceBus/*/receive/action",)),
    _role("69a216fc-b8fb-44d8-bc22-1f3c2cd27a39", "Azure Service Bus Data Sender",
          "Allows for send access to Azure Service Bus resources.",
          _SB_READS, data_actions=("Microsoft.ServiceBus/*/send/action",)),
    _role("f526a384-b230-433a-b45c-95f59c4a2dec", "Azure Event Hubs Data Owner",
          "Allows for full access to Azure Event Hubs resources.",
          ("Microsoft.EventHub/*",), data_actions=("Microsoft.EventHub/*",)),
    _role("a638d3c7-ab3a-418d-83e6-5f17a39d4fde", "Azure Event Hubs Data Receiver",
          "Allows receive access to Azure Event Hubs resources.",
          ("Microsoft.EventHub/*/eventhubs/consumergroups/read",),
          data_actions=("Microsoft.EventHub/*/receive/action",)),
    _role("2b629674-e913-4c01-ae53-ef4638d8f975", "Azure Event Hubs Data Sender",
          "Allows send access to Azure Event Hubs resources.",
          ("Microsoft.EventHub/*/eventhubs/read",), data_actions=("Microsoft.EventHub/*/send/action",)),
    _role("974c5e8b-45b9-4653-ba55-5f855dd0fb88", "Storage Queue Data Contributor",
          "Read, write, and delete Azure Storage queues and queue messages.",
          (f"{_QUEUES}/delete", f"{_QUEUES}/read", f"{_QUEUES}/write"),
          data_actions=(f"{_QUEUES}/messages/delete", f"{_QUEUES}/messages/read", f"{_QUEUES}/messages/write",
                        f"{_QUEUES}/messages/process/action")),
    _role("19e7f393-937e-4f77-808e-94535e297925", "Storage Queue Data Reader",
          "Read and list Azure Storage queues and queue messages.",
          (f"{_QUEUES}/read",), data_actions=(f"{_QUEUES}/messages/read",)),
    _role("8a0f0c08-91a1-4084-bc3d-661d67233fed", "Storage Queue Data Message Processor",
          "Peek, retrieve, and delete a message from an Azure Storage queue.",
          data_actions=(f"{_QUEUES}/messages/read", f"{_QUEUES}/messages/process/action")),
    _role("c6a89b2d-59bc-44d0-9896-0f6e12d7b80a", "Storage Queue Data Message Sender",
          "Add messages to an Azure Storage queue.", data_actions=(f"{_QUEUES}/messages/add/action",)),
    _role("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "Storage Blob Data Reader",
          "Read and list Azure Storage containers and blobs.",
          (f"{_BLOBS}/read", "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"),
          data_actions=(f"{_BLOBS}/blobs/read",)),
    _role("ba92f5b4-2d11-453d-a403-e96b0029c9fe", "Storage Blob Data Contributor",
          "Read, write, and delete Azure Storage containers and blobs.",
          (f"{_BLOBS}/delete", f"{_BLOBS}/read", f"{_BLOBS}/write",
           "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"),
          data_actions=(f"{_BLOBS}/blobs/delete", f"{_BLOBS}/blobs/read", f"{_BLOBS}/blobs/write",
                        f"{_BLOBS}/blobs/move/action", f"{_BLOBS}/blobs/add/action")),
    _role("4633458b-17de-408a-b874-0445c86b69e6", "Key Vault Secrets User",
          "Read secret contents. Only works for key vaults that use the 'Azure role-based access control' "
          "permission model.",
          data_actions=("Microsoft.KeyVault/vaults/secrets/getSecret/action",
                        "Microsoft.KeyVault/vaults/secrets/readMetadata/action")),
    _role("21090545-7ca7-4776-b22c-e363652d74d2", "Key Vault Reader",
          "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive values "
          "such as secret contents or key material. Only works for key vaults that use the 'Azure role-based "
          "access control' permission model.",
          (*_SUPPORT, *_KV_READS),
          data_actions=("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action")),
    _role("b86a8fe4-44ce-4948-aee5-eccb2c155cd7", "Key Vault Secrets Officer",
          "Perform any action on the secrets of a key vault, except manage permissions. Only works for key vaults "
          "that use the 'Azure role-based access control' permission model.",
          (*_SUPPORT, *_KV_READS), data_actions=("Microsoft.KeyVault/vaults/secrets/*",)),
    _role("43d0d8ad-25c7-4714-9337-8ba259a9fe05", "Monitoring Reader", "Can read all monitoring data.",
          ("*/read", "Microsoft.OperationalInsights/workspaces/search/action", "Microsoft.Support/*")),
)

BUILTIN_BY_GUID: dict[str, RoleDefinition] = {r.guid: r for r in BUILTIN_ROLES}
OWNER = BUILTIN_BY_GUID["8e3af657-a8ff-443c-a75c-2fe8c4bcb635"]
