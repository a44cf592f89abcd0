"""The ARM front door: authenticate the bearer token, require api-version, route by path, record spec
violations. Routing mirrors ARM's URL grammar:

  /subscriptions[/{sub}]                                        subscriptions
  /subscriptions/{sub}/resourcegroups[/{rg}]                    resource groups
  /subscriptions/{sub}/operationresults/{id}                    resource group deletion
  /subscriptions/{sub}/providers/{ns}/locations/{l}/operations[results]/{id}   async operations
  /subscriptions/{sub}[/resourceGroups/{rg}]/providers/{ns}/{type}             lists
  /subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}/{name}[...]   resources
  {scope}/providers/Microsoft.Authorization/{roleAssignments|roleDefinitions|permissions}[/{name}]
"""

from __future__ import annotations

import uuid

from tests.kit.azuresim import aks, groups, identities, rbac, roledefs, targets
from tests.kit.azuresim.errors import ArmError
from tests.kit.azuresim.ids import ResourceId, parse
from tests.kit.azuresim.kinds import handle_collection, handle_resource
from tests.kit.azuresim.paging import query
from tests.kit.azuresim.tokens import authenticate
from tests.kit.azuresim.world import ArmResponse, Ctx, World
from tests.kit.sim.server import Request, Response

_AUTH_MARKER = "/providers/microsoft.authorization/"
# Importing a kind module registers its resource types with kinds.REGISTRY.
KIND_MODULES = (identities, aks, targets)


class ArmApp:
    def __init__(self, world: World) -> None:
        self.world = world

    def __call__(self, request: Request) -> Response:
        now = self.world.clock.now()
        ctx: Ctx | None = None
        try:
            caller = authenticate(request.headers.get("authorization"), now, authority=self.world.authority,
                                  default_tenant=self.world.tenant_id)
            api_version = query(request, "api-version")
            if not api_version:
                raise ArmError(400, "MissingApiVersionParameter",
                               "The api-version query parameter (?api-version=) is required for all requests.")
            ctx = Ctx(self.world, request, caller, api_version, now)
            result = route(ctx)
            schema = result.schema
        except ArmError as error:
            result = ArmResponse(error.status, error.body(), error.headers)
            schema = ctx.error_schema if ctx else None
        if schema is not None and result.body is not None:
            self.world.spec.check(f"{request.method} {request.path} -> {result.status}", result.body, schema)
        headers = {"x-ms-request-id": str(uuid.uuid4()),
                   "x-ms-correlation-request-id": request.headers.get("x-ms-correlation-request-id",
                                                                      str(uuid.uuid4())),
                   **result.headers}
        return Response(result.status, result.body, headers)


def _segments(path: str) -> list[str]:
    return [p for p in path.split("/") if p]


def route(ctx: Ctx) -> ArmResponse:
    path = "/" + "/".join(_segments(ctx.request.path))
    lowered = path.lower()
    marker = lowered.rfind(_AUTH_MARKER)
    if marker >= 0:
        return _authorization(ctx, path[:marker] or "/", path[marker + len(_AUTH_MARKER):])
    parts = _segments(path)
    low = [p.lower() for p in parts]
    if low == ["subscriptions"]:
        return groups.list_subscriptions(ctx)
    if len(parts) < 2 or low[0] != "subscriptions":
        raise ArmError(404, "NotFound", f"The requested path '{path}' was not found.")
    sub = parts[1]
    if len(parts) == 2:
        return groups.get_subscription(ctx, sub)
    if low[2] == "resourcegroups":
        return _under_groups(ctx, parts, low)
    if low[2] == "operationresults" and len(parts) == 4:
        return groups.group_operation(ctx, sub, parts[3])
    if low[2] == "providers" and len(parts) == 8 and low[4] == "locations" \
            and low[6] in ("operations", "operationresults"):
        return aks.operation_status(ctx, sub, parts[7], low[6] == "operationresults")
    if low[2] == "providers" and len(parts) == 5:
        return handle_collection(ctx, ResourceId(sub), f"{parts[3]}/{parts[4]}")
    raise ArmError(404, "NotFound", f"The requested path '{path}' was not found.")


def _under_groups(ctx: Ctx, parts: list[str], low: list[str]) -> ArmResponse:
    sub = parts[1]
    if len(parts) == 3:
        return groups.list_groups(ctx, sub)
    if len(parts) == 4:
        return groups.handle_group(ctx, ResourceId(sub, parts[3]))
    if low[4] != "providers" or len(parts) < 7:
        raise ArmError(404, "NotFound", f"The requested path '/{'/'.join(parts)}' was not found.")
    if len(parts) % 2:  # .../providers/{ns}/{type}[/{name}/{type}]: a collection
        chain = parts[6:]
        parent = ResourceId(sub, parts[3], parts[5], tuple(chain[0:-1:2]), tuple(chain[1:-1:2]))
        return handle_collection(ctx, parent, "/".join((parts[5], *chain[0::2])))
    return handle_resource(ctx, parse("/" + "/".join(parts)))


def _authorization(ctx: Ctx, scope: str, rest: str) -> ArmResponse:
    pieces = [p for p in rest.split("/") if p]
    head = pieces[0].lower() if pieces else ""
    if head == "roleassignments" and len(pieces) == 1 and ctx.request.method == "GET":
        return rbac.list_assignments(ctx, scope)
    if head == "roleassignments" and len(pieces) == 2:
        return rbac.handle_assignment(ctx, scope, pieces[1])
    if head == "roledefinitions" and len(pieces) == 1 and ctx.request.method == "GET":
        return roledefs.list_definitions(ctx, scope)
    if head == "roledefinitions" and len(pieces) == 2:
        return roledefs.handle_definition(ctx, scope, pieces[1])
    if head == "permissions" and len(pieces) == 1 and ctx.request.method == "GET":
        return roledefs.list_permissions(ctx, scope)
    raise ArmError(400, "InvalidResourceType", f"The resource type '{head}' could not be found in the namespace "
                                               f"'Microsoft.Authorization' for api version '{ctx.api_version}'.")
