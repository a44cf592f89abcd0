"""Microsoft.ManagedIdentity: user-assigned identities and their federated identity credentials.

Creating an identity creates its service principal in the subscription's tenant (clientId = appId,
principalId = objectId), so Entra can issue tokens for it; deleting it deletes the principal and its
credentials, while role assignments naming the principal stay behind ("Identity not found").
Federated credential writes follow the MSI resource provider's rules: the swagger's name pattern and
required fields, exactly one audience, unique issuer+subject per identity, at most 20 per identity.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.kit.azuresim.errors import ArmError
from tests.kit.azuresim.ids import ResourceId
from tests.kit.azuresim.kinds import Kind, system_data
from tests.kit.azuresim.spec import ERROR_V4, MSI_DOC, Schema
from tests.kit.azuresim.store import Principal, Resource
from tests.kit.azuresim.world import ArmResponse, Ctx
from tests.kit.sim.openapi import ARM_REQUEST, validate

MSI_VERSIONS = ("2015-08-31-preview", "2018-11-30", "2021-09-30-preview", "2022-01-31-preview", "2023-01-31",
                "2023-07-31-preview", "2024-11-30", "2025-01-31-preview")
FIC_LIMIT = 20
_FIC_NAME = re.compile(r"^[a-zA-Z0-9]{1}[a-zA-Z0-9-_]{2,119}$")


class IdentityKind(Kind):
    type = "Microsoft.ManagedIdentity/userAssignedIdentities"
    api_versions = MSI_VERSIONS
    tracked = True
    groups_segment = "resourcegroups"
    schema = Schema.of(MSI_DOC, "Identity")
    list_schema = Schema.of(MSI_DOC, "IdentityListResult")
    error_schema = ERROR_V4

    def properties(self, ctx: Ctx, rid: ResourceId, given: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        if existing is not None:
            props = dict(existing.body["properties"])
        else:
            tenant = ctx.subscription(rid.subscription).tenant_id
            props = {"tenantId": tenant, "principalId": str(uuid.uuid4()), "clientId": str(uuid.uuid4())}
        props["isolationScope"] = given.get("isolationScope", props.get("isolationScope", "None"))
        return props

    def on_created(self, ctx: Ctx, resource: Resource) -> None:
        props = resource.body["properties"]
        ctx.store.add_principal(Principal(props["principalId"], props["tenantId"], resource.body["name"],
                                          app_id=props["clientId"], mi_resource_id=resource.id))

    def on_deleted(self, ctx: Ctx, resource: Resource) -> None:
        ctx.store.remove_principal(resource.body["properties"]["principalId"])


class FederatedCredentialKind(Kind):
    type = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
    api_versions = MSI_VERSIONS
    groups_segment = "resourcegroups"
    schema = Schema.of(MSI_DOC, "FederatedIdentityCredential")
    list_schema = Schema.of(MSI_DOC, "FederatedIdentityCredentialListResult")
    error_schema = ERROR_V4

    def validate(self, ctx: Ctx, rid: ResourceId, body: dict[str, Any], existing: Resource | None) -> None:
        if not _FIC_NAME.match(rid.name):
            raise ArmError(400, "BadRequest", f"Federated Identity Credential name '{rid.name}' is invalid.")
        props = body.get("properties")
        if not isinstance(props, dict) or not props:
            raise ArmError(400, "BadRequest", "Federated Identity Credential from HTTP body has empty properties")
        if not props.get("issuer") or not props.get("subject") or not props.get("audiences"):
            raise ArmError(400, "BadRequest", "The request format was unexpected. Federated Identity Credential "
                                              "must specify 'issuer', 'subject' and 'audience'.")
        assert self.schema is not None and self.schema.located is not None
        causes = validate(body, self.schema.located, ARM_REQUEST).causes
        if causes:
            details = "; ".join(c.text() for c in causes)
            raise ArmError(400, "BadRequest", f"The request format was unexpected: {details}")
        if len(props["audiences"]) != 1:
            raise ArmError(400, "InvalidFederatedIdentityCredentialsAudienceLength",
                           "Federated identity credentials must have exactly 1 audience.")
        if not str(props["issuer"]).startswith("https://"):
            raise ArmError(400, "BadRequest", "The request format was unexpected. Federated Identity Credential "
                                              "issuer must be a valid HTTPS URL.")
        self._check_siblings(ctx, rid, props, existing)

    def _check_siblings(self, ctx: Ctx, rid: ResourceId, props: dict[str, Any], existing: Resource | None) -> None:
        parent = rid.parent()
        assert parent is not None
        siblings = [r for r in ctx.store.children(parent.text(), self.type) if existing is None or r is not existing]
        for other in siblings:
            theirs = other.body["properties"]
            if theirs["issuer"] == props["issuer"] and theirs["subject"] == props["subject"]:
                raise ArmError(409, "Conflict", "Issuer and subject combination already exists for this Managed "
                                                "Identity.")
        if existing is None and len(siblings) >= FIC_LIMIT:
            raise ArmError(400, "BadRequest",
                           f"Too many Federated Identity Credentials. A maximum of {FIC_LIMIT} federated identity "
                           f"credentials can be added to the user-assigned managed identity '{parent.text()}'.")

    def properties(self, ctx: Ctx, rid: ResourceId, given: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        return {"issuer": given["issuer"], "subject": given["subject"], "audiences": list(given["audiences"])}

    def extra(self, ctx: Ctx, rid: ResourceId, body: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        return {"systemData": system_data(ctx, existing.created if existing else ctx.now, existing)}

    def put_response(self, ctx: Ctx, resource: Resource, created: bool) -> ArmResponse:
        # An update also has to propagate before Entra sees the new values.
        resource.state["effective_at"] = ctx.now
        return super().put_response(ctx, resource, created)

