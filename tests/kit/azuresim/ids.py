"""ARM resource ids: parsing, canonical casing and the scope hierarchy RBAC inherits along.

ARM treats ids case-insensitively; the simulator keys everything by the lower-cased id and keeps
the casing the resource was created with for responses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def norm(resource_id: str) -> str:
    """The case-insensitive key of an id or scope ("/" for the root scope)."""
    cleaned = "/" + "/".join(part for part in resource_id.split("/") if part)
    return cleaned.lower()


def is_within(child: str, scope: str) -> bool:
    """True when `child` is `scope` or below it."""
    child_key, scope_key = norm(child), norm(scope)
    return scope_key in ("/", child_key) or child_key.startswith(scope_key + "/")


def is_guid(value: str) -> bool:
    return GUID.match(value) is not None


@dataclass(frozen=True)
class ResourceId:
    """/subscriptions/{sub}[/resourceGroups/{rg}[/providers/{ns}/{type}/{name}[/{type}/{name}...]]]"""

    subscription: str
    resource_group: str | None = None
    namespace: str | None = None
    types: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    @property
    def full_type(self) -> str:
        return "/".join((self.namespace or "", *self.types))

    @property
    def name(self) -> str:
        return self.names[-1] if self.names else (self.resource_group or self.subscription)

    @property
    def subscription_scope(self) -> str:
        return f"/subscriptions/{self.subscription}"

    @property
    def group_scope(self) -> str:
        return f"{self.subscription_scope}/resourceGroups/{self.resource_group}"

    def text(self, groups_segment: str = "resourceGroups") -> str:
        if self.resource_group is None:
            return self.subscription_scope
        base = f"{self.subscription_scope}/{groups_segment}/{self.resource_group}"
        if not self.types:
            return base
        chain = "/".join(f"{t}/{n}" for t, n in zip(self.types, self.names, strict=True))
        return f"{base}/providers/{self.namespace}/{chain}"

    def parent(self) -> ResourceId | None:
        """The parent resource of a nested resource (None for top-level resources and above)."""
        if len(self.types) < 2:
            return None
        return ResourceId(self.subscription, self.resource_group, self.namespace, self.types[:-1], self.names[:-1])

    def child(self, type_name: str, name: str) -> ResourceId:
        return ResourceId(self.subscription, self.resource_group, self.namespace, (*self.types, type_name),
                          (*self.names, name))


def parse(path: str) -> ResourceId:
    """Parse a subscription, resource group or resource id; raises ValueError for anything else."""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        raise ValueError(f"not a subscription-scoped id: {path}")
    if len(parts) == 2:
        return ResourceId(parts[1])
    if parts[2].lower() != "resourcegroups" or len(parts) < 4:
        raise ValueError(f"not a resource group id: {path}")
    if len(parts) == 4:
        return ResourceId(parts[1], parts[3])
    if parts[4].lower() != "providers" or len(parts) < 8 or len(parts) % 2:
        raise ValueError(f"not a resource id: {path}")
    chain = parts[6:]
    return ResourceId(parts[1], parts[3], parts[5], tuple(chain[0::2]), tuple(chain[1::2]))


def ancestors(scope: str) -> list[str]:
    """`scope` and every scope above it, nearest first, ending with the root scope "/"."""
    if norm(scope) == "/":
        return ["/"]
    rid = parse(scope)
    chain: list[str] = []
    current: ResourceId | None = rid
    while current is not None and current.types:
        chain.append(current.text())
        current = current.parent()
    if rid.resource_group is not None:
        chain.append(rid.group_scope)
    chain += [rid.subscription_scope, "/"]
    return chain
