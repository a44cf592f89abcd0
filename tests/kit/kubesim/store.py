"""The simulated etcd: objects by resource and key, one global resourceVersion counter, a clock and logs."""

from __future__ import annotations

import base64
import json
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.kit.kubesim.errors import ApiError
from tests.kit.kubesim.registry import ResourceType
from tests.kit.sim.clock import Clock

_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # the API server's generateName alphabet


def random_suffix(length: int = 5) -> str:
    return "".join(random.choice(_NAME_ALPHABET) for _ in range(length))


@dataclass
class LogLine:
    at: float
    text: str


@dataclass
class Store:
    clock: Clock = field(default_factory=Clock)
    lock: threading.RLock = field(default_factory=threading.RLock)
    revision: int = 1000
    compacted: int = 0  # continue tokens older than this answer 410 Expired
    objects: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    logs: dict[tuple[str, str, str], list[LogLine]] = field(default_factory=dict)

    def next_revision(self) -> str:
        self.revision += 1
        return str(self.revision)

    def bucket(self, rtype: ResourceType) -> dict[tuple[str, str], dict[str, Any]]:
        return self.objects.setdefault((rtype.group, rtype.plural), {})

    def get(self, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        return self.bucket(rtype).get((namespace if rtype.namespaced else "", name))

    def put(self, rtype: ResourceType, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        self.bucket(rtype)[(meta.get("namespace", "") if rtype.namespaced else "", meta["name"])] = obj

    def remove(self, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        return self.bucket(rtype).pop((namespace if rtype.namespaced else "", name), None)

    def items(self, rtype: ResourceType, namespace: str | None) -> list[tuple[tuple[str, str], dict[str, Any]]]:
        """In key order (namespace, name), as etcd returns them."""
        bucket = self.bucket(rtype)
        keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
        return [(k, bucket[k]) for k in keys]

    def drop_resource(self, group: str, plural: str) -> None:
        self.objects.pop((group, plural), None)

    # -- continue tokens carry the last key returned and the revision of the first page
    def continue_token(self, key: tuple[str, str], revision: int) -> str:
        raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": f"{key[0]}/{key[1]}\x00"})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def parse_continue(self, token: str) -> tuple[tuple[str, str], int]:
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            namespace, _, name = raw["start"].rstrip("\x00").partition("/")
            revision = int(raw["rv"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ApiError.bad_request(f"continue key is not valid: {exc}") from exc
        if revision < self.compacted:
            raise ApiError.gone("The provided continue parameter is too old to display a consistent list result. "
                                "You can start a new list without the continue parameter, or use the continue token "
                                "in this response to retrieve the remainder of the results. Continuing with the "
                                "provided token results in an inconsistent list - objects that were created, "
                                "modified, or deleted between the time the first chunk was returned and now may "
                                "show up in the list.")
        return (namespace, name), revision
