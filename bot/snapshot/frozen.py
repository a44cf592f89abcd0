"""Deep read-only views of parsed JSON/YAML so no check can alter the snapshot it shares."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

EMPTY: Mapping[str, Any] = MappingProxyType({})


def freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy (for JSON output or for patches built from an object)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    return value


def dig(value: Any, *path: str | int) -> Any:
    """Follow a path through mappings and sequences; None as soon as a step is missing."""
    cur = value
    for step in path:
        if isinstance(step, int):
            if isinstance(cur, tuple | list) and -len(cur) <= step < len(cur):
                cur = cur[step]
            else:
                return None
        elif isinstance(cur, Mapping):
            cur = cur.get(step)
        else:
            return None
        if cur is None:
            return None
    return cur


_MAPPING_TYPES = (MappingProxyType, dict)


def as_mapping(value: Any) -> Mapping[str, Any]:
    # Exact type checks first: the ABC isinstance check dominates the checks' run time on big snapshots.
    if type(value) in _MAPPING_TYPES or isinstance(value, Mapping):
        return value  # type: ignore[no-any-return]
    return EMPTY


def as_seq(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, tuple | list) else ()


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
