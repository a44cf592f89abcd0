"""Microsoft.Authorization role assignments at any scope (subscription, resource group, resource).

Rules as ARM applies them: the assignment name is a GUID; the role definition and the principal must
exist (PrincipalNotFound, UnmatchedPrincipalType with ARM's own "PrinciaplType" typo); one principal+role+
scope triple may exist once (409 RoleAssignmentExists naming the existing one); listing at a scope
returns assignments at that scope, above it (inherited) and, unless `atScope()` is given, below it.
"""

from __future__ import annotations

import re
from typing import Any

from tests.kit.azuresim.clock import arm_time
from tests.kit.azuresim.errors import ArmError, authorization_failed
from tests.kit.azuresim.ids import ancestors, is_guid, is_within, norm
from tests.kit.azuresim.paging import page, query
from tests.kit.azuresim.scopes import check_exists, check_scope
from tests.kit.azuresim.spec import ERROR_V2, RA_DOC, Schema
from tests.kit.azuresim.store import RoleAssignment
from tests.kit.azuresim.world import ArmResponse, Ctx
from tests.kit.sim.openapi import ARM_REQUEST, validate

RA_TYPE = "Microsoft.Authorization/roleAssignments"
ASSIGNMENT = Schema.of(RA_DOC, "RoleAssignment")
ASSIGNMENTS = Schema.of(RA_DOC, "RoleAssignmentListResult")
_CREATE = Schema.of(RA_DOC, "RoleAssignmentCreateParameters")
ROLE_DEFINITION_ID = re.compile(r"^(?:/subscriptions/[^/]+)?/providers/Microsoft\.Authorization/roleDefinitions/"
                                r"([^/]+)$", re.IGNORECASE)
_FILTER_PART = re.compile(r"^\s*(?:(atScope\(\))|principalId\s+eq\s+'([^']*)'|assignedTo\('([^']*)'\))\s*$",
                          re.IGNORECASE)


def assignment_body(ra: RoleAssignment) -> dict[str, Any]:
    return {
        "properties": {
            "roleDefinitionId": ra.role_definition_id, "principalId": ra.principal_id,
            "principalType": ra.principal_type, "scope": ra.scope, "condition": ra.condition,
            "conditionVersion": ra.condition_version, "createdOn": arm_time(ra.created),
            "updatedOn": arm_time(ra.created), "createdBy": ra.created_by, "updatedBy": ra.created_by,
            "delegatedManagedIdentityResourceId": None, "description": ra.description,
        },
        "id": ra.id, "type": RA_TYPE, "name": ra.name,
    }


def _require(ctx: Ctx, verb: str, scope: str, shown: str) -> None:
    action = f"{RA_TYPE}/{verb}"
    if not ctx.world.authz.allowed(ctx.caller.object_id, action, scope, ctx.now):
        raise authorization_failed(ctx.caller.app_id, ctx.caller.object_id, action, shown)


def handle_assignment(ctx: Ctx, scope: str, name: str) -> ArmResponse:
    ctx.error_schema = ERROR_V2
    rid = check_scope(ctx, scope)
    assignment_id = f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{name}"
    key = norm(assignment_id)
    method = ctx.request.method
    if method == "GET":
        _require(ctx, "read", scope, scope)
        found = ctx.store.role_assignments.get(key)
        if found is None:
            raise ArmError(404, "RoleAssignmentNotFound", f"The role assignment '{name}' is not found.")
        return ArmResponse(200, assignment_body(found), schema=ASSIGNMENT)
    if method == "DELETE":
        _require(ctx, "delete", scope, assignment_id)
        with ctx.store.lock:
            gone = ctx.store.role_assignments.pop(key, None)
        return ArmResponse(200, assignment_body(gone), schema=ASSIGNMENT) if gone else ArmResponse(204)
    if method != "PUT":
        raise ArmError(405, "MethodNotAllowed", f"The requested resource does not support http method '{method}'.")
    if not is_guid(name):
        raise ArmError(400, "InvalidRoleAssignmentId",
                       f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.")
    _require(ctx, "write", scope, assignment_id)
    check_exists(ctx, rid)
    return _create(ctx, scope, name, assignment_id)


def _create(ctx: Ctx, scope: str, name: str, assignment_id: str) -> ArmResponse:
    body = ctx.json_body()
    assert _CREATE.located is not None
    causes = validate(body, _CREATE.located, ARM_REQUEST).causes
    if causes:
        raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                                                     f"deserialized: '{'; '.join(c.text() for c in causes)}'.")
    props = body["properties"]
    role_guid = _role_guid(ctx, str(props["roleDefinitionId"]))
    principal_type = _principal_type(ctx, str(props["principalId"]), props.get("principalType"))
    with ctx.store.lock:
        existing = ctx.store.role_assignments.get(norm(assignment_id))
        if existing is not None:
            if (existing.principal_id.lower(), existing.role_guid) != (str(props["principalId"]).lower(), role_guid):
                raise ArmError(400, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, "
                                                                        "and scope are not allowed to be updated.")
            return ArmResponse(200, assignment_body(existing), schema=ASSIGNMENT)
        for other in ctx.store.role_assignments.values():
            if (norm(other.scope), other.principal_id.lower(), other.role_guid) == (
                    norm(scope), str(props["principalId"]).lower(), role_guid):
                existing_id = other.name.replace("-", "")
                raise ArmError(409, "RoleAssignmentExists", "The role assignment already exists. The ID of the "
                                                            f"existing role assignment is {existing_id}.")
        created = RoleAssignment(assignment_id, name, scope.rstrip("/") or "/", str(props["roleDefinitionId"]),
                                 role_guid, str(props["principalId"]), principal_type, ctx.now, ctx.caller.object_id,
                                 props.get("description"), props.get("condition"), props.get("conditionVersion"))
        ctx.store.role_assignments[norm(assignment_id)] = created
    return ArmResponse(201, assignment_body(created), schema=ASSIGNMENT)


def _role_guid(ctx: Ctx, role_definition_id: str) -> str:
    match = ROLE_DEFINITION_ID.match(role_definition_id)
    if match is None:
        raise ArmError(400, "LinkedInvalidPropertyId",
                       f"Property id '{role_definition_id}' at path 'properties.roleDefinitionId' is invalid. Expect "
                       "fully qualified resource Id that start with '/subscriptions/{subscriptionId}' or "
                       "'/providers/{resourceProviderNamespace}/'.")
    guid = match.group(1).lower()
    if ctx.store.role_definition(guid) is None:
        raise ArmError(400, "RoleDefinitionDoesNotExist",
                       f"The specified role definition with ID '{match.group(1)}' does not exist.")
    return guid


def _principal_type(ctx: Ctx, principal_id: str, given: Any) -> str:
    principal = ctx.store.principal(principal_id)
    if principal is None or principal.tenant_id.lower() != ctx.caller.tenant_id.lower():
        raise ArmError(400, "PrincipalNotFound",
                       f"Principal {principal_id.replace('-', '')} does not exist in the directory "
                       f"{ctx.caller.tenant_id}. Check that you have the correct principal ID. If you are creating "
                       "this principal and then immediately assigning a role, this error might be related to a "
                       "replication delay. In this case, set the role assignment principalType property to a value, "
                       "such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype")
    if given and str(given).lower() != principal.principal_type.lower():
        raise ArmError(400, "UnmatchedPrincipalType",
                       f"The PrincipalId '{principal_id.replace('-', '')}' has type '{principal.principal_type}' , "
                       f"which is different from specified PrinciaplType '{given}'.")
    return principal.principal_type


def parse_filter(expression: str | None) -> tuple[bool, str | None]:
    """(atScope, principal id) from `$filter`; parts may be joined with `and`."""
    at_scope, principal = False, None
    for part in re.split(r"\s+and\s+", expression or "", flags=re.IGNORECASE) if expression else []:
        match = _FILTER_PART.match(part)
        if match is None:
            raise ArmError(400, "UnsupportedQuery",
                           f"The filter '{expression}' is not supported. Supported filters are either 'atScope()' "
                           "or 'principalId eq '{value}' or assignedTo('{value}')'.")
        at_scope = at_scope or bool(match.group(1))
        principal = match.group(2) or match.group(3) or principal
    return at_scope, principal


def list_assignments(ctx: Ctx, scope: str) -> ArmResponse:
    ctx.error_schema = ERROR_V2
    rid = check_scope(ctx, scope)
    _require(ctx, "read", scope, scope)
    check_exists(ctx, rid)
    at_scope, principal = parse_filter(query(ctx.request, "$filter"))
    above = {norm(s) for s in ancestors(scope)}
    with ctx.store.lock:
        found = [ra for ra in ctx.store.role_assignments.values()
                 if (norm(ra.scope) in above or (not at_scope and is_within(ra.scope, scope)))
                 and (principal is None or ra.principal_id.lower() == principal.lower())]
    found.sort(key=lambda ra: ra.created)
    body = page([assignment_body(ra) for ra in found], ctx.request, ctx.world.arm_url, ctx.world.settings.page_size)
    return ArmResponse(200, body, schema=ASSIGNMENTS)
