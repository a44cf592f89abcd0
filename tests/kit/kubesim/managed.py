"""managedFields: who wrote which fields, when, with which operation (FieldsV1 sets, merge keys as `k:`)."""

from __future__ import annotations

import json
from typing import Any

_SKIPPED_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                 "generateName", "deletionTimestamp"}
_MERGE_KEYS = ("name", "containerPort", "mountPath", "type", "key", "ip")


def fields_v1(value: Any, top: bool = True) -> dict[str, Any]:
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if top and key in ("apiVersion", "kind"):
                continue
            if top and key == "metadata" and isinstance(item, dict):
                meta = {k: v for k, v in item.items() if k not in _SKIPPED_META}
                if meta:
                    result["f:metadata"] = fields_v1(meta, top=False)
                continue
            result[f"f:{key}"] = fields_v1(item, top=False)
        return result
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        keyed: dict[str, Any] = {}
        for item in value:
            merge_key = next((k for k in _MERGE_KEYS if k in item), None)
            if merge_key is None:
                return {}
            keyed[f"k:{json.dumps({merge_key: item[merge_key]}, separators=(',', ':'))}"] = {
                ".": {}, **fields_v1(item, top=False)}
        return keyed
    return {}


def record_manager(obj: dict[str, Any], old: dict[str, Any] | None, manager: str, operation: str,
                   subresource: str, now: str) -> None:
    entries: list[dict[str, Any]] = list((old or obj)["metadata"].get("managedFields") or []) if old else []
    body = {"status": obj.get("status")} if subresource == "status" else obj
    entry: dict[str, Any] = {"manager": manager, "operation": operation, "apiVersion": obj["apiVersion"],
                             "time": now, "fieldsType": "FieldsV1", "fieldsV1": fields_v1(body)}
    if subresource:
        entry["subresource"] = subresource
    for i, existing in enumerate(entries):
        if (existing.get("manager"), existing.get("operation"), existing.get("subresource", "")) == \
                (manager, operation, subresource):
            entries[i] = entry
            break
    else:
        entries.append(entry)
    obj["metadata"]["managedFields"] = entries
