"""The three patch types the API server accepts: JSON merge patch, JSON patch and strategic merge patch.

Strategic merge patch is driven by the official schema's `x-kubernetes-patch-strategy` and
`x-kubernetes-patch-merge-key`, so containers, env, volumes and volumeMounts merge by name exactly
where a real server merges them, and `$patch`, `$setElementOrder`, `$retainKeys` and
`$deleteFromPrimitiveList` directives work as kubectl sends them.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from tests.kit.kubesim.errors import ApiError
from tests.kit.sim.openapi import Located
from tests.kit.sim.openapi import merged as merged_schema

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902, with the API server's error mapping."""
    if not isinstance(operations, list):
        raise ApiError.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    try:
        return jsonpatch.apply_patch(copy.deepcopy(target), operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, IndexError, TypeError) as exc:
        raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request",
                       {"causes": [{"message": str(exc)}]}) from exc


def _strip(value: Any) -> Any:
    """Drop patch directives from a value being inserted as is."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and v.get("$patch") == "delete")]
    return value


def _property(located: Located | None, key: str) -> Located | None:
    if located is None:
        return None
    merged = merged_schema(located)
    props = merged.schema.get("properties") or {}
    if key in props:
        prop = props[key]
        return prop if isinstance(prop, Located) else Located(prop, merged.document)
    additional = merged.schema.get("additionalProperties")
    if isinstance(additional, dict):
        return Located(additional, merged.document)
    return None


def _items(located: Located | None) -> Located | None:
    if located is None:
        return None
    merged = merged_schema(located)
    items = merged.schema.get("items")
    return Located(items, merged.document) if isinstance(items, dict) else None


def strategic_merge_patch(target: dict[str, Any], patch: Any, schema: Located | None) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise ApiError.bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
    return _smp_map(copy.deepcopy(target), patch, schema)


def _smp_map(target: dict[str, Any], patch: dict[str, Any], schema: Located | None) -> dict[str, Any]:
    if patch.get("$patch") == "replace":
        return _strip(patch)  # type: ignore[no-any-return]
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
        elif key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            target[field] = [v for v in target.get(field) or [] if v not in value]
        elif key.startswith("$"):
            continue
        elif value is None:
            target.pop(key, None)
        else:
            target[key] = _smp_value(target.get(key), value, _property(schema, key))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        for key in [k for k in target if k not in retain]:
            del target[key]
    for field, order in orders.items():
        target[field] = _ordered(target.get(field) or [], order, _merge_key(_property(schema, field)))
    return target


def _smp_value(current: Any, value: Any, schema: Located | None) -> Any:
    if isinstance(value, dict):
        if value.get("$patch") == "delete":
            return None
        if isinstance(current, dict):
            return _smp_map(current, value, schema)
        return _strip(value)
    if isinstance(value, list):
        strategy = "" if schema is None else str(merged_schema(schema).schema.get("x-kubernetes-patch-strategy", ""))
        if "merge" in strategy.split(","):
            return _merge_list(list(current or []), value, _merge_key(schema), _items(schema))
        return _strip(value)
    return value


def _merge_key(schema: Located | None) -> str | None:
    if schema is None:
        return None
    key = merged_schema(schema).schema.get("x-kubernetes-patch-merge-key")
    return str(key) if key else None


def _merge_list(current: list[Any], patch: list[Any], key: str | None, items: Located | None) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [_strip(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    if key is None:  # a set of primitives (finalizers): union, original order first
        return current + [_strip(p) for p in patch if p not in current]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise ApiError.bad_request(f"map: {item} does not contain declared merge key: {key}")
        index = next((i for i, c in enumerate(current) if isinstance(c, dict) and c.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del current[index]
        elif index is None:
            current.append(_strip(item))
        else:
            current[index] = _smp_map(current[index], item, items)
    return current


def _ordered(values: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def position(value: Any) -> int:
        ident = value.get(key) if key and isinstance(value, dict) else value
        for i, wanted in enumerate(order):
            if (wanted.get(key) if key and isinstance(wanted, dict) else wanted) == ident:
                return i
        return len(order)

    return sorted(values, key=position)
