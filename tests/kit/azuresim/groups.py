"""Microsoft.Resources: subscriptions (read-only) and resource groups (create, read, delete, list).

Deleting a resource group is a long-running operation in ARM (202 + Location); the simulator deletes at
once and reports the operation finished on the first poll.
"""

from __future__ import annotations

from typing import Any

from tests.kit.azuresim.errors import ArmError, group_not_found
from tests.kit.azuresim.ids import ResourceId
from tests.kit.azuresim.kinds import REGISTRY
from tests.kit.azuresim.paging import page
from tests.kit.azuresim.store import Resource, Subscription
from tests.kit.azuresim.world import ArmResponse, Ctx

RESOURCES_VERSIONS = ("2019-10-01", "2020-01-01", "2021-01-01", "2021-04-01", "2022-01-01", "2022-09-01",
                      "2022-12-01", "2023-07-01", "2024-03-01", "2024-07-01", "2024-11-01", "2025-03-01",
                      "2025-04-01")
GROUP_TYPE = "Microsoft.Resources/resourceGroups"


def _check_version(ctx: Ctx) -> None:
    if ctx.api_version not in RESOURCES_VERSIONS:
        raise ArmError(400, "InvalidApiVersionParameter",
                       f"The api-version '{ctx.api_version}' is invalid. The supported versions are "
                       f"'{','.join(reversed(RESOURCES_VERSIONS))}'.")


def _subscription_body(sub: Subscription) -> dict[str, Any]:
    return {"id": f"/subscriptions/{sub.subscription_id}", "authorizationSource": "RoleBased",
            "managedByTenants": [], "subscriptionId": sub.subscription_id, "tenantId": sub.tenant_id,
            "displayName": sub.display_name, "state": "Enabled",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01",
                                     "spendingLimit": "Off"}}


def list_subscriptions(ctx: Ctx) -> ArmResponse:
    """Subscriptions of the caller's tenant on which the caller holds any role assignment."""
    _check_version(ctx)
    subs = [s for s in ctx.store.subscriptions.values()
            if s.tenant_id.lower() == ctx.caller.tenant_id.lower()
            and ctx.world.authz.has_any_access(ctx.caller.object_id, f"/subscriptions/{s.subscription_id}", ctx.now)]
    return ArmResponse(200, page([_subscription_body(s) for s in subs], ctx.request, ctx.world.arm_url,
                                 ctx.world.settings.page_size))


def get_subscription(ctx: Ctx, subscription_id: str) -> ArmResponse:
    _check_version(ctx)
    sub = ctx.subscription(subscription_id)
    scope = f"/subscriptions/{sub.subscription_id}"
    if not ctx.world.authz.has_any_access(ctx.caller.object_id, scope, ctx.now):
        ctx.require("Microsoft.Resources/subscriptions/read", scope)
    return ArmResponse(200, _subscription_body(sub))


def handle_group(ctx: Ctx, rid: ResourceId) -> ArmResponse:
    _check_version(ctx)
    ctx.subscription(rid.subscription)
    method = ctx.request.method
    action = {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(method, "write")
    ctx.require(f"{GROUP_TYPE}/{action}", rid.group_scope)
    existing = ctx.store.get(rid.group_scope)
    if method == "HEAD":
        return ArmResponse(204 if existing else 404)
    if method == "GET":
        if existing is None:
            raise group_not_found(str(rid.resource_group))
        return ArmResponse(200, ctx.store.snapshot(existing))
    if method in ("PUT", "PATCH"):
        return _put_group(ctx, rid, existing)
    if method == "DELETE":
        return _delete_group(ctx, rid, existing)
    raise ArmError(405, "MethodNotAllowed", f"The requested resource does not support http method '{method}'.")


def _put_group(ctx: Ctx, rid: ResourceId, existing: Resource | None) -> ArmResponse:
    body = ctx.json_body()
    if existing is None and ctx.request.method == "PATCH":
        raise group_not_found(str(rid.resource_group))
    if existing is None and not body.get("location"):
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    stored = existing.body if existing else {"id": rid.group_scope, "name": rid.resource_group, "type": GROUP_TYPE,
                                              "location": body["location"],
                                              "properties": {"provisioningState": "Succeeded"}}
    if "tags" in body:
        stored["tags"] = body["tags"]
    if body.get("managedBy"):
        stored["managedBy"] = body["managedBy"]
    if existing is None:
        ctx.store.put(Resource(rid.group_scope, GROUP_TYPE, stored, ctx.now))
    return ArmResponse(201 if existing is None else 200, dict(stored))


def _delete_group(ctx: Ctx, rid: ResourceId, existing: Resource | None) -> ArmResponse:
    if existing is None:
        raise group_not_found(str(rid.resource_group))
    for gone in ctx.store.delete_tree(rid.group_scope):
        kind = REGISTRY.get(gone.type.lower())
        if kind is not None:
            kind.on_deleted(ctx, gone)
    op = ctx.store.add_operation(rid.group_scope, ctx.now, 0.0)
    location = (f"{ctx.world.arm_url}/subscriptions/{rid.subscription}/operationresults/{op.id}"
                f"?api-version={ctx.api_version}")
    return ArmResponse(202, None, {"Location": location, "Retry-After": str(ctx.world.settings.lro_retry_after)})


def list_groups(ctx: Ctx, subscription_id: str) -> ArmResponse:
    _check_version(ctx)
    sub = ctx.subscription(subscription_id)
    scope = f"/subscriptions/{sub.subscription_id}"
    ctx.require(f"{GROUP_TYPE}/read", scope)
    groups = ctx.store.of_type(GROUP_TYPE, scope)
    return ArmResponse(200, page([ctx.store.snapshot(g) for g in groups], ctx.request, ctx.world.arm_url,
                                 ctx.world.settings.page_size))


def group_operation(ctx: Ctx, subscription_id: str, op_id: str) -> ArmResponse:
    ctx.subscription(subscription_id)
    op = ctx.store.operations.get(op_id.lower())
    if op is None:
        raise ArmError(404, "NotFound", f"Operation '{op_id}' was not found.")
    return ArmResponse(200 if ctx.now >= op.done_at else 202)
