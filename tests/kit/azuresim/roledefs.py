"""Microsoft.Authorization role definitions (built-in plus custom) and the caller's effective permissions.

Role definitions are addressed at a subscription-or-below scope (`/subscriptions/<sub>/providers/...`) or at
the tenant level (`/providers/Microsoft.Authorization/roleDefinitions/<guid>`); the returned id follows the
form asked for. `permissions` lists the permission blocks of every role in effect for the caller.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

from tests.kit.azuresim.errors import ArmError
from tests.kit.azuresim.ids import is_guid, is_within, norm
from tests.kit.azuresim.paging import page, query
from tests.kit.azuresim.roles import Permission, RoleDefinition
from tests.kit.azuresim.scopes import check_exists, check_scope
from tests.kit.azuresim.spec import ERROR_V2, RD_DOC, Schema
from tests.kit.azuresim.world import ArmResponse, Ctx

RD_TYPE = "Microsoft.Authorization/roleDefinitions"
DEFINITION = Schema.of(RD_DOC, "RoleDefinition")
DEFINITIONS = Schema.of(RD_DOC, "RoleDefinitionListResult")
PERMISSIONS = Schema.of(RD_DOC, "PermissionGetResult")
_NAME_FILTER = re.compile(r"^\s*roleName\s+eq\s+'(.*)'\s*$", re.IGNORECASE)
_TYPE_FILTER = re.compile(r"^\s*type\s+eq\s+'(BuiltInRole|CustomRole)'\s*$", re.IGNORECASE)


def _id_prefix(scope: str) -> str:
    """Role definition ids live at the subscription (or tenant) level whatever scope they were read at."""
    parts = [p for p in scope.split("/") if p]
    return f"/subscriptions/{parts[1]}" if len(parts) >= 2 and parts[0].lower() == "subscriptions" else ""


def definition_body(role: RoleDefinition, scope: str) -> dict[str, Any]:
    return {"properties": role.properties(), "id": f"{_id_prefix(scope)}/providers/{RD_TYPE}/{role.guid}",
            "type": RD_TYPE, "name": role.guid}


def _visible(ctx: Ctx, role: RoleDefinition, scope: str) -> bool:
    return role.role_type == "BuiltInRole" or any(is_within(scope, s) or is_within(s, scope)
                                                  for s in role.assignable_scopes)


def handle_definition(ctx: Ctx, scope: str, guid: str) -> ArmResponse:
    ctx.error_schema = ERROR_V2
    rid = check_scope(ctx, scope)
    method = ctx.request.method
    if rid is not None:
        ctx.require(f"{RD_TYPE}/{'read' if method == 'GET' else 'write' if method == 'PUT' else 'delete'}", scope)
    if method == "PUT":
        check_exists(ctx, rid)
        return _put_custom(ctx, scope, guid)
    role = ctx.store.role_definition(guid) if is_guid(guid) else None
    if method == "DELETE":
        if role is None or role.role_type == "BuiltInRole":
            if role is None:
                return ArmResponse(204)
            _builtin_readonly(guid)
        with ctx.store.lock:
            ctx.store.custom_roles.pop(guid.lower(), None)
        return ArmResponse(200, definition_body(role, scope), schema=DEFINITION)
    if role is None or not _visible(ctx, role, scope if rid else "/"):
        raise ArmError(404, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{guid}' does not "
                                                          "exist.")
    return ArmResponse(200, definition_body(role, scope), schema=DEFINITION)


def _builtin_readonly(guid: str) -> NoReturn:
    raise ArmError(400, "RoleDefinitionUpdateNotAllowed", f"Built-in role definition '{guid}' cannot be modified.")


def _put_custom(ctx: Ctx, scope: str, guid: str) -> ArmResponse:
    if not is_guid(guid):
        raise ArmError(400, "InvalidRoleDefinitionId", f"The role definition ID '{guid}' is not valid.")
    props = ctx.json_body().get("properties") or {}
    name = str(props.get("roleName") or "")
    existing = ctx.store.role_definition(guid)
    if existing is not None and existing.role_type == "BuiltInRole":
        _builtin_readonly(guid)
    for other in ctx.store.custom_roles.values():
        if other.name.lower() == name.lower() and other.guid != guid.lower():
            raise ArmError(409, "RoleDefinitionWithSameNameExists",
                           "A custom role with the same name already exists in this directory. Use a different name.")
    role = RoleDefinition(guid.lower(), name, str(props.get("description") or ""),
                          tuple(Permission.from_body(p) for p in props.get("permissions") or []), "CustomRole",
                          tuple(props.get("assignableScopes") or [scope]), scope)
    with ctx.store.lock:
        ctx.store.custom_roles[role.guid] = role
    return ArmResponse(201, definition_body(role, scope), schema=DEFINITION)


def list_definitions(ctx: Ctx, scope: str) -> ArmResponse:
    ctx.error_schema = ERROR_V2
    rid = check_scope(ctx, scope)
    if rid is not None:
        ctx.require(f"{RD_TYPE}/read", scope)
    expression = query(ctx.request, "$filter")
    roles = [r for r in ctx.store.role_definitions() if _visible(ctx, r, scope if rid else "/")]
    if expression:
        name, kind = _NAME_FILTER.match(expression), _TYPE_FILTER.match(expression)
        if name is None and kind is None:
            raise ArmError(400, "UnsupportedQuery", f"The filter '{expression}' is not supported.")
        roles = [r for r in roles if (name is None or r.name.lower() == name.group(1).lower())
                 and (kind is None or r.role_type.lower() == kind.group(1).lower())]
    body = page([definition_body(r, scope) for r in roles], ctx.request, ctx.world.arm_url,
                ctx.world.settings.page_size)
    return ArmResponse(200, body, schema=DEFINITIONS)


def list_permissions(ctx: Ctx, scope: str) -> ArmResponse:
    """The caller's own effective permissions at `scope` (no permission needed to ask)."""
    ctx.error_schema = ERROR_V2
    rid = check_scope(ctx, scope)
    check_exists(ctx, rid)
    found = ctx.world.authz.permissions(ctx.caller.object_id, scope if norm(scope) != "/" else "/", ctx.now)
    return ArmResponse(200, {"value": [p.body() for p in found]}, schema=PERMISSIONS)
