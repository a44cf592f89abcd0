"""Resource kinds and the request flow ARM applies to any resource under a resource group.

ARM's order: api-version known for the type → caller authorized for `<type>/<read|write|delete>` at the
resource → resource group exists → parent resources exist → the resource provider's own handling.
Kinds (identities.py, aks.py, targets.py) only supply bodies and provider-specific rules.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from tests.kit.azuresim.clock import arm_time
from tests.kit.azuresim.errors import ArmError, group_not_found, not_found, parent_not_found
from tests.kit.azuresim.ids import ResourceId
from tests.kit.azuresim.paging import page, query
from tests.kit.azuresim.spec import Schema
from tests.kit.azuresim.store import Resource
from tests.kit.azuresim.world import ArmResponse, Ctx

REGISTRY: dict[str, Kind] = {}


class Kind:
    type: ClassVar[str]  # e.g. Microsoft.ServiceBus/namespaces/queues
    returned_type: ClassVar[str] = ""  # the `type` the provider returns (Service Bus capitalises it)
    api_versions: ClassVar[tuple[str, ...]] = ()
    tracked: ClassVar[bool] = False  # has location and tags
    groups_segment: ClassVar[str] = "resourceGroups"  # MSI returns lower-case "resourcegroups" in ids
    implicit: ClassVar[bool] = False  # a singleton child that exists whenever its parent does
    schema: ClassVar[Schema | None] = None
    list_schema: ClassVar[Schema | None] = None
    error_schema: ClassVar[Schema | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "type" in cls.__dict__:
            REGISTRY[cls.type.lower()] = cls()

    # -- hooks a kind overrides
    def validate(self, ctx: Ctx, rid: ResourceId, body: dict[str, Any], existing: Resource | None) -> None:
        if self.tracked and not body.get("location") and existing is None:
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        if self.tracked and existing is not None and body.get("location"):
            old = str(existing.body.get("location", ""))
            if _region(old) != _region(str(body["location"])):
                raise ArmError(400, "InvalidResourceLocation",
                               f"The resource '{rid.name}' already exists in location '{old}' in resource group "
                               f"'{rid.resource_group}'. A resource with the same name cannot be created in "
                               f"location '{body['location']}'. Please select a new resource name.")

    def properties(self, ctx: Ctx, rid: ResourceId, given: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        merged = dict(existing.body.get("properties", {})) if existing else {}
        merged.update(given)
        merged.setdefault("provisioningState", "Succeeded")
        return merged

    def extra(self, ctx: Ctx, rid: ResourceId, body: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        """Top-level fields besides id/name/type/location/tags/properties (sku, kind, identity...)."""
        return {}

    def on_created(self, ctx: Ctx, resource: Resource) -> None:
        return None

    def on_deleted(self, ctx: Ctx, resource: Resource) -> None:
        return None

    def view(self, ctx: Ctx, resource: Resource) -> dict[str, Any]:
        return ctx.store.snapshot(resource)

    def put_response(self, ctx: Ctx, resource: Resource, created: bool) -> ArmResponse:
        return ArmResponse(201 if created else 200, self.view(ctx, resource), schema=self.schema)

    def delete_response(self, ctx: Ctx, resource: Resource | None) -> ArmResponse:
        return ArmResponse(200 if resource is not None else 204)

    # -- the generic body
    def build(self, ctx: Ctx, rid: ResourceId, body: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        # ARM keeps the casing a resource was created with, whatever casing later requests use.
        result: dict[str, Any] = {"id": existing.body["id"] if existing else rid.text(self.groups_segment),
                                  "name": existing.body["name"] if existing else rid.name,
                                  "type": self.returned_type or self.type}
        if self.tracked:
            location = body.get("location") or (existing.body["location"] if existing else "")
            result["location"] = location
            tags = body.get("tags", existing.body.get("tags") if existing else None)
            if tags is not None:
                result["tags"] = tags
        result.update(self.extra(ctx, rid, body, existing))
        result["properties"] = self.properties(ctx, rid, dict(body.get("properties") or {}), existing)
        return result


def _region(location: str) -> str:
    return location.replace(" ", "").lower()


def kind_for(rid_type: str, api_version: str) -> Kind:
    kind = REGISTRY.get(rid_type.lower())
    namespace, _, resource_type = rid_type.partition("/")
    if kind is None:
        raise ArmError(400, "InvalidResourceType",
                       f"The resource type '{resource_type}' could not be found in the namespace '{namespace}' "
                       f"for api version '{api_version}'.")
    if kind.api_versions and api_version not in kind.api_versions:
        raise ArmError(400, "NoRegisteredProviderFound",
                       f"No registered resource provider found for location 'global' and API version "
                       f"'{api_version}' for type '{resource_type}'. The supported api-versions are "
                       f"'{', '.join(kind.api_versions)}'.")
    return kind


def _operation(method: str) -> str:
    return {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(method, "write")


def _check_parents(ctx: Ctx, rid: ResourceId, operation: str) -> None:
    ctx.subscription(rid.subscription)
    if ctx.store.get(rid.group_scope) is None:
        raise group_not_found(str(rid.resource_group))
    parent = rid.parent()
    while parent is not None:
        parent_kind = REGISTRY.get(parent.full_type.lower())
        if not (parent_kind and parent_kind.implicit) and ctx.store.get(parent.text()) is None:
            raise parent_not_found(operation, rid.types, parent.text())
        parent = parent.parent()


def handle_resource(ctx: Ctx, rid: ResourceId) -> ArmResponse:
    kind = kind_for(rid.full_type, ctx.api_version)
    ctx.error_schema = kind.error_schema
    method = ctx.request.method
    operation = _operation(method)
    ctx.subscription(rid.subscription)
    ctx.require(f"{kind.type}/{operation}", rid.text())
    _check_parents(ctx, rid, operation)
    existing = ctx.store.get(rid.text())
    if method in ("GET", "HEAD"):
        if existing is None or kind.implicit:
            raise not_found(kind.type, rid.name, str(rid.resource_group))
        return ArmResponse(200, kind.view(ctx, existing), schema=kind.schema)
    if method == "PUT":
        return _put(ctx, kind, rid, existing)
    if method == "PATCH":
        if existing is None:
            raise not_found(kind.type, rid.name, str(rid.resource_group))
        return _patch(ctx, kind, rid, existing)
    if method == "DELETE":
        if existing is not None:
            for gone in ctx.store.delete_tree(existing.id):
                gone_kind = REGISTRY.get(gone.type.lower())
                if gone_kind is not None:
                    gone_kind.on_deleted(ctx, gone)
        return kind.delete_response(ctx, existing)
    raise ArmError(405, "MethodNotAllowed", f"The requested resource does not support http method '{method}'.")


def _put(ctx: Ctx, kind: Kind, rid: ResourceId, existing: Resource | None) -> ArmResponse:
    body = ctx.json_body()
    kind.validate(ctx, rid, body, existing)
    with ctx.store.lock:
        stored = kind.build(ctx, rid, body, existing)
        resource = Resource(stored["id"], kind.type, stored, existing.created if existing else ctx.now,
                            existing.state if existing else {})
        ctx.store.put(resource)
        if existing is None:
            kind.on_created(ctx, resource)
    return kind.put_response(ctx, resource, existing is None)


def _patch(ctx: Ctx, kind: Kind, rid: ResourceId, existing: Resource) -> ArmResponse:
    body = ctx.json_body()
    with ctx.store.lock:
        if "tags" in body:
            existing.body["tags"] = body["tags"]
        props = body.get("properties")
        if isinstance(props, dict):
            existing.body.setdefault("properties", {}).update(copy.deepcopy(props))
    return ArmResponse(200, kind.view(ctx, existing), schema=kind.schema)


def handle_collection(ctx: Ctx, parent: ResourceId, resource_type: str) -> ArmResponse:
    """GET a list: children of `parent` (a resource, a resource group or a subscription)."""
    kind = kind_for(resource_type, ctx.api_version)
    ctx.error_schema = kind.error_schema
    if ctx.request.method != "GET":
        raise ArmError(405, "MethodNotAllowed",
                       f"The requested resource does not support http method '{ctx.request.method}'.")
    ctx.subscription(parent.subscription)
    scope = parent.text() if parent.resource_group else parent.subscription_scope
    ctx.require(f"{kind.type}/read", scope)
    if parent.types:
        _check_parents(ctx, parent.child(resource_type.rsplit("/", 1)[-1], "-"), "read")
    elif parent.resource_group is not None and ctx.store.get(parent.group_scope) is None:
        raise group_not_found(parent.resource_group)
    items = (ctx.store.children(parent.text(), kind.type) if parent.types
             else ctx.store.of_type(kind.type, scope))
    top = query(ctx.request, "$top")
    body = page([kind.view(ctx, r) for r in items], ctx.request, ctx.world.arm_url, ctx.world.settings.page_size,
                top=int(top) if top and top.isdigit() else None)
    return ArmResponse(200, body, schema=kind.list_schema)


def system_data(ctx: Ctx, created: float, existing: Resource | None) -> dict[str, Any]:
    """ARM systemData: who created/modified the resource and when (createdAt is what FM-15 reads)."""
    creator = (existing.body.get("systemData", {}) if existing else {}) or {}
    return {
        "createdBy": creator.get("createdBy", ctx.caller.app_id), "createdByType": creator.get(
            "createdByType", "Application"), "createdAt": creator.get("createdAt", arm_time(created)),
        "lastModifiedBy": ctx.caller.app_id, "lastModifiedByType": "Application", "lastModifiedAt": arm_time(ctx.now),
    }
