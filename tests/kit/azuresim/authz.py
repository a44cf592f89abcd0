"""Azure RBAC evaluation: which actions a principal may perform at a scope.

A role grants an action when one of its `actions` patterns matches and none of the same role's
`notActions` does (wildcards `*` match any characters, comparison is case-insensitive); roles add up.
Assignments take effect only `rbac_propagation_seconds` after creation, like RBAC's cache refresh,
although they are listed at once.
"""

from __future__ import annotations

import re
from functools import cache

from tests.kit.azuresim.errors import authorization_failed
from tests.kit.azuresim.ids import ancestors, norm
from tests.kit.azuresim.roles import Permission
from tests.kit.azuresim.store import RoleAssignment, Settings, Store
from tests.kit.azuresim.tokens import Caller


@cache
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in glob.split("*")) + "$", re.IGNORECASE)


def matches(glob: str, action: str) -> bool:
    return _pattern(glob).match(action) is not None


def grants(permission: Permission, action: str, *, data: bool = False) -> bool:
    allowed, denied = ((permission.data_actions, permission.not_data_actions) if data
                       else (permission.actions, permission.not_actions))
    return any(matches(a, action) for a in allowed) and not any(matches(n, action) for n in denied)


class Authorizer:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def assignments_in_effect(self, principal_id: str, scope: str, now: float) -> list[RoleAssignment]:
        """Assignments of `principal_id` at `scope` or above that have propagated by `now`."""
        above = {norm(s) for s in ancestors(scope)}
        delay = self.settings.rbac_propagation_seconds
        with self.store.lock:
            return [ra for ra in self.store.role_assignments.values()
                    if ra.principal_id.lower() == principal_id.lower() and norm(ra.scope) in above
                    and ra.created + delay <= now]

    def permissions(self, principal_id: str, scope: str, now: float) -> list[Permission]:
        found: list[Permission] = []
        for ra in self.assignments_in_effect(principal_id, scope, now):
            role = self.store.role_definition(ra.role_guid)
            if role is not None:
                found += [p for p in role.permissions if p not in found]
        return found

    def allowed(self, principal_id: str, action: str, scope: str, now: float) -> bool:
        return any(grants(p, action) for p in self.permissions(principal_id, scope, now))

    def require(self, caller: Caller, action: str, scope: str, now: float) -> None:
        if not self.allowed(caller.object_id, action, scope, now):
            raise authorization_failed(caller.app_id, caller.object_id, action, scope)

    def has_any_access(self, principal_id: str, scope: str, now: float) -> bool:
        """Any propagated assignment at, above or below `scope` (what lets a caller see a subscription)."""
        delay = self.settings.rbac_propagation_seconds
        key = norm(scope)
        with self.store.lock:
            return any(ra.principal_id.lower() == principal_id.lower() and ra.created + delay <= now
                       and (norm(ra.scope).startswith(key) or key.startswith(norm(ra.scope)))
                       for ra in self.store.role_assignments.values())
