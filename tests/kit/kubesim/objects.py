"""Create, read, update, patch and delete objects: metadata bookkeeping, validation, dry-run, no-op detection.

Every write goes through `ObjectApi.write`, the one place that decides resourceVersion, generation,
managedFields and whether anything is persisted; controllers and admission hook in around it.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from tests.kit.kubesim import defaults
from tests.kit.kubesim.errors import ApiError
from tests.kit.kubesim.managed import record_manager
from tests.kit.kubesim.registry import ResourceType, builtin_types
from tests.kit.kubesim.store import Store, random_suffix
from tests.kit.sim.openapi import KUBE, Cause, validate

Hook = Callable[[ResourceType, dict[str, Any], dict[str, Any] | None], None]


@dataclass
class WriteOptions:
    dry_run: bool = False
    manager: str = "unknown"
    operation: str = "Update"  # or Apply
    subresource: str = ""
    field_validation: str = "Warn"  # Strict | Warn | Ignore, as the fieldValidation query parameter


@dataclass
class WriteResult:
    obj: dict[str, Any]
    warnings: list[str]


class ObjectApi:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.admit_create: list[Hook] = []  # mutating admission, may raise ApiError
        self.after_write: list[Hook] = []  # controllers, run after a persisted write
        self.after_delete: list[Hook] = []

    # -- reads
    def get(self, rtype: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        obj = self.store.get(rtype, namespace, name)
        if obj is None:
            raise ApiError.not_found(rtype.qualified, name, rtype.group, rtype.plural)
        return copy.deepcopy(obj)

    # -- writes
    def create(self, rtype: ResourceType, namespace: str, body: Any, options: WriteOptions) -> WriteResult:
        if not isinstance(body, dict):
            raise ApiError.bad_request("the body of the request was not a JSON object")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if rtype.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise ApiError.bad_request("the namespace of the provided object does not match the namespace "
                                           "sent on the request")
            meta["namespace"] = namespace
            if self.store.get(_namespaces(), "", namespace) is None:
                raise ApiError.not_found("namespaces", namespace, "", "namespaces")
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + random_suffix()
            else:
                raise ApiError.invalid(rtype.kind, rtype.group, "", [Cause(
                    "FieldValueRequired", "metadata.name", "Required value: name or generateName is required")])
        with self.store.lock:
            for hook in self.admit_create:
                hook(rtype, obj, None)
            if self.store.get(rtype, namespace, meta["name"]) is not None:
                raise ApiError.already_exists(rtype.qualified, meta["name"], rtype.group, rtype.plural)
            now = self.store.clock.stamp()
            meta.update(uid=str(uuid.uuid4()), creationTimestamp=now, generation=1)
            for key in ("resourceVersion", "deletionTimestamp", "selfLink"):
                meta.pop(key, None)
            if rtype.has_status:
                obj.pop("status", None)  # status is the controllers' to write, as on a real server
            return self._finish(rtype, obj, None, options)

    def update(self, rtype: ResourceType, namespace: str, name: str, body: Any, options: WriteOptions) -> WriteResult:
        if not isinstance(body, dict):
            raise ApiError.bad_request("the body of the request was not a JSON object")
        with self.store.lock:
            current = self.store.get(rtype, namespace, name)
            if current is None:
                raise ApiError.not_found(rtype.qualified, name, rtype.group, rtype.plural)
            meta = body.get("metadata") or {}
            if meta.get("name") not in (None, name):
                raise ApiError.bad_request(f"the name of the object ({meta.get('name')}) does not match the name on "
                                           f"the URL ({name})")
            sent_version = meta.get("resourceVersion")
            if sent_version and sent_version != current["metadata"]["resourceVersion"]:
                raise ApiError.conflict(rtype.qualified, name, rtype.group, rtype.plural)
            return self._replace(rtype, current, copy.deepcopy(body), options)

    def replace_with(self, rtype: ResourceType, current: dict[str, Any], new: dict[str, Any],
                     options: WriteOptions) -> WriteResult:
        """The tail of PATCH: `new` is the patched object."""
        sent_version = (new.get("metadata") or {}).get("resourceVersion")
        if sent_version and sent_version != current["metadata"]["resourceVersion"]:
            raise ApiError.conflict(rtype.qualified, current["metadata"]["name"], rtype.group, rtype.plural)
        return self._replace(rtype, current, new, options)

    def _replace(self, rtype: ResourceType, current: dict[str, Any], new: dict[str, Any],
                 options: WriteOptions) -> WriteResult:
        meta = new.setdefault("metadata", {})
        kept = current["metadata"]
        for key in ("uid", "creationTimestamp", "generation", "namespace", "name", "managedFields",
                    "resourceVersion", "deletionTimestamp"):
            if key in kept:
                meta[key] = kept[key]
            else:
                meta.pop(key, None)
        if options.subresource == "status":
            status = new.get("status")
            new = copy.deepcopy(current)
            if status is not None:
                new["status"] = status
        elif rtype.has_status:
            if "status" in current:
                new["status"] = copy.deepcopy(current["status"])
            else:
                new.pop("status", None)
        if rtype.kind == "Pod" and options.subresource != "status":
            causes = defaults.pod_update_causes(current, new)
            if causes:
                raise ApiError.invalid(rtype.kind, rtype.group, kept["name"], causes)
        return self._finish(rtype, new, current, options)

    def _finish(self, rtype: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None,
                options: WriteOptions) -> WriteResult:
        obj["apiVersion"] = rtype.api_version
        obj["kind"] = rtype.kind
        obj, warnings = self._validated(rtype, obj, options)
        if old is not None and _spec_changed(rtype, old, obj):
            obj["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if old is not None and _same(old, obj):
            return WriteResult(copy.deepcopy(old), warnings)  # a no-op write keeps its resourceVersion
        record_manager(obj, old, options.manager, options.operation, options.subresource, self.store.clock.stamp())
        if options.dry_run:
            if old is None:
                obj["metadata"].pop("resourceVersion", None)
            return WriteResult(obj, warnings)
        obj["metadata"]["resourceVersion"] = self.store.next_revision()
        self.store.put(rtype, obj)
        result = WriteResult(copy.deepcopy(obj), warnings)
        for hook in self.after_write:
            hook(rtype, obj, old)
        return result

    def _validated(self, rtype: ResourceType, obj: dict[str, Any],
                   options: WriteOptions) -> tuple[dict[str, Any], list[str]]:
        meta = obj["metadata"]
        causes = defaults.name_causes(rtype.kind, meta["name"])
        if not rtype.custom:
            defaults.apply_defaults(rtype.kind, obj)
        warnings: list[str] = []
        if rtype.schema is not None:
            outcome = validate(obj, rtype.schema, KUBE)
            causes += outcome.causes
            unknown = [u for u in outcome.unknown if not u.startswith("metadata.")]
            if unknown and options.field_validation == "Strict":
                raise ApiError.bad_request("strict decoding error: " + ", ".join(f'unknown field "{u}"'
                                                                                  for u in unknown))
            if options.field_validation == "Warn":
                warnings += [f'unknown field "{u}"' for u in unknown]
            # A CRD schema's `metadata` is free-form, so the object's metadata is kept as sent.
            outcome.value["metadata"] = meta
            obj = outcome.value
        causes += defaults.semantic_causes(rtype.kind, obj)
        if causes:
            raise ApiError.invalid(rtype.kind, rtype.group, meta["name"], causes)
        return obj, warnings

    # -- recorded state (a simulator-only handle, see KubeSim.preload)
    def record(self, rtype: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """Store `obj` as a recorded state, bypassing admission, validation, defaulting, pruning and the
        `after_write` hooks (so no controller is told). Only what a server always returns is filled in: the
        namespace scope, `uid` and `creationTimestamp` when absent, and a fresh `resourceVersion` from the
        global counter (a recorded one belongs to another server's counter). Replaces an object at the same key."""
        stored = copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        if rtype.namespaced:
            meta["namespace"] = meta.get("namespace") or "default"  # where a client would have sent it
        else:
            meta.pop("namespace", None)  # a server never returns one on a cluster-scoped object
        with self.store.lock:
            # A recorded uid is kept: ownerReferences and events may point at it.
            meta["uid"] = meta.get("uid") or str(uuid.uuid4())
            meta["creationTimestamp"] = meta.get("creationTimestamp") or self.store.clock.stamp()
            meta["resourceVersion"] = self.store.next_revision()
            self.store.put(rtype, stored)
        return copy.deepcopy(stored)

    def delete(self, rtype: ResourceType, namespace: str, name: str, dry_run: bool = False) -> dict[str, Any]:
        with self.store.lock:
            current = self.store.get(rtype, namespace, name)
            if current is None:
                raise ApiError.not_found(rtype.qualified, name, rtype.group, rtype.plural)
            gone = copy.deepcopy(current)
            gone["metadata"]["deletionTimestamp"] = self.store.clock.stamp()
            if dry_run:
                return gone
            self.store.remove(rtype, namespace, name)
            self.store.next_revision()
            for hook in self.after_delete:
                hook(rtype, current, None)
            return gone


@cache
def _namespaces() -> ResourceType:
    return next(t for t in builtin_types() if t.plural == "namespaces" and not t.group)


def _spec_changed(rtype: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Generation counts changes of everything but metadata and status (status only if it is a subresource)."""
    ignored = {"metadata", "status"} if rtype.has_status or not rtype.custom else {"metadata"}
    return {k: v for k, v in old.items() if k not in ignored} != {k: v for k, v in new.items() if k not in ignored}


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    def comparable(obj: dict[str, Any]) -> dict[str, Any]:
        clone = copy.deepcopy(obj)
        clone["metadata"].pop("managedFields", None)
        clone["metadata"].pop("resourceVersion", None)
        return clone

    return comparable(old) == comparable(new)
