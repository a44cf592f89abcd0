"""Hold the simulator to the published ARM specs: every response body of an operation that a swagger in
shared/fixtures describes is validated against that operation's response schema; bodies of resource types
with only upstream examples (AKS, Service Bus) are checked for type-compatibility with the example.
Mismatches are recorded in `violations` (tests assert it stays empty) rather than raised, so a
simulator bug shows up as a clear list instead of a confusing client error.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tests.kit.fixtures import FIXTURES
from tests.kit.sim.openapi import ARM_RESPONSE, Located, definition, validate

_SPECS = FIXTURES / "openapi" / "azure" / "specification"
_AUTH = _SPECS / "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01"
RA_DOC = _AUTH / "authorization-RoleAssignmentsCalls.json"
RD_DOC = _AUTH / "authorization-RoleDefinitionsCalls.json"
MSI_DOC = _SPECS / "msi/resource-manager/Microsoft.ManagedIdentity/stable/2024-11-30/ManagedIdentity.json"
COMMON_V2 = _SPECS / "common-types/resource-management/v2/types.json"
COMMON_V4 = _SPECS / "common-types/resource-management/v4/types.json"
AKS_GET_EXAMPLE = (_SPECS / "containerservice/resource-manager/Microsoft.ContainerService/aks/stable/2026-08-01/"
                   "examples/ManagedClustersGet.json")
_SB = _SPECS / "servicebus/resource-manager/Microsoft.ServiceBus"
SB_EXAMPLES = {
    "microsoft.servicebus/namespaces": _SB / "ServiceBus/stable/2026-01-01/examples/NameSpaces/SBNameSpaceGet.json",
    "microsoft.servicebus/namespaces/queues": _SB / "ServiceBus/stable/2026-01-01/examples/Queues/SBQueueGet.json",
    "microsoft.servicebus/namespaces/topics": _SB / "stable/2024-01-01/examples/Topics/SBTopicGet.json",
    "microsoft.servicebus/namespaces/topics/subscriptions":
        _SB / "stable/2024-01-01/examples/Subscriptions/SBSubscriptionGet.json",
}


@dataclass(frozen=True)
class Schema:
    """What a response must conform to: a swagger definition or an upstream example body."""

    located: Located | None = None
    example: Path | None = None

    @staticmethod
    def of(document: Path, name: str) -> Schema:
        return Schema(located=_definition(document, name))


@cache
def _definition(document: Path, name: str) -> Located:
    return definition(document, name)


@cache
def _example(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))["responses"]["200"]["body"]


def _json_type(value: Any) -> str:
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) else type(value).__name__


def _shape_mismatches(body: Any, example: Any, path: str) -> list[str]:
    """Fields present in both whose JSON types differ (the example need not list every field)."""
    if isinstance(example, dict) and isinstance(body, dict):
        found: list[str] = []
        for key, value in body.items():
            if key in example and value is not None:
                found += _shape_mismatches(value, example[key], f"{path}.{key}" if path else key)
        return found
    if isinstance(example, list) and isinstance(body, list):
        return [m for item in body for m in _shape_mismatches(item, example[0], f"{path}[]")] if example else []
    if _json_type(body) != _json_type(example):
        return [f"{path}: {_json_type(body)} where the upstream example has {_json_type(example)}"]
    return []


class SpecRecorder:
    def __init__(self) -> None:
        self.violations: list[str] = []
        self._lock = threading.Lock()

    def check(self, label: str, body: Any, schema: Schema) -> None:
        problems: list[str] = []
        if schema.located is not None:
            outcome = validate(body, schema.located, ARM_RESPONSE)
            problems += [c.text() for c in outcome.causes]
            problems += [f"{field}: not in the published schema" for field in outcome.unknown]
        if schema.example is not None:
            problems += _shape_mismatches(body, _example(schema.example), "")
        if problems:
            with self._lock:
                self.violations += [f"{label}: {p}" for p in problems]


ERROR_V2 = Schema.of(COMMON_V2, "ErrorResponse")
ERROR_V4 = Schema.of(COMMON_V4, "ErrorResponse")
