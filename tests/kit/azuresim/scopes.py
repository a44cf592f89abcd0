"""RBAC scopes: validating that a scope exists before roles are assigned or listed there."""

from __future__ import annotations

from tests.kit.azuresim.errors import ArmError, group_not_found, not_found
from tests.kit.azuresim.ids import ResourceId, norm, parse
from tests.kit.azuresim.kinds import REGISTRY
from tests.kit.azuresim.world import Ctx


def check_scope(ctx: Ctx, scope: str) -> ResourceId | None:
    """The parsed scope (None for the root "/"); raises the error ARM gives for a missing part."""
    if norm(scope) == "/":
        return None
    try:
        rid = parse(scope)
    except ValueError:
        raise ArmError(400, "InvalidScope", f"The scope '{scope}' is not valid.") from None
    ctx.subscription(rid.subscription)
    return rid


def check_exists(ctx: Ctx, rid: ResourceId | None) -> None:
    if rid is None or rid.resource_group is None:
        return
    if ctx.store.get(rid.group_scope) is None:
        raise group_not_found(rid.resource_group)
    if rid.types:
        kind = REGISTRY.get(rid.full_type.lower())
        if not (kind and kind.implicit) and ctx.store.get(rid.text()) is None:
            raise not_found(rid.full_type, rid.name, rid.resource_group)

