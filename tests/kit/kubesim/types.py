"""The live set of served resources: the built-ins plus whatever CRDs have been created."""

from __future__ import annotations

import threading
from typing import Any

from tests.kit.kubesim.registry import ResourceType, builtin_types, custom_types
from tests.kit.kubesim.store import Store


class TypeRegistry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.RLock()
        self._by_route: dict[tuple[str, str, str], ResourceType] = {}
        for rtype in builtin_types():
            self._by_route[(rtype.group, rtype.version, rtype.plural)] = rtype

    def route(self, group: str, version: str, plural: str) -> ResourceType | None:
        with self._lock:
            return self._by_route.get((group, version, plural))

    def storage(self, group: str, plural: str) -> ResourceType:
        """The served type for (group, plural), whatever its version."""
        with self._lock:
            for (g, _, p), rtype in self._by_route.items():
                if g == group and p == plural:
                    return rtype
        raise KeyError(f"{plural}.{group}")

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._by_route.values())

    def group_versions(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for rtype in self.all():
            versions = groups.setdefault(rtype.group, [])
            if rtype.version not in versions:
                versions.append(rtype.version)
        return groups

    def register_crd(self, crd: dict[str, Any]) -> None:
        with self._lock:
            self._drop(crd["metadata"]["name"])
            for rtype in custom_types(crd):
                self._by_route[(rtype.group, rtype.version, rtype.plural)] = rtype

    def unregister_crd(self, crd: dict[str, Any]) -> None:
        with self._lock:
            self._drop(crd["metadata"]["name"])
            self.store.drop_resource(crd["spec"]["group"], crd["spec"]["names"]["plural"])

    def _drop(self, crd_name: str) -> None:
        for key in [k for k, t in self._by_route.items() if t.custom and t.crd_name == crd_name]:
            del self._by_route[key]
