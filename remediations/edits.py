"""Field edits against a Kubernetes object as JSON: is it already true, the patch that makes it true, and
the patch that puts back what was there. Pure functions, used by the planner (on the snapshot) and by the
executor (on the object it has just read), so what a person is shown and what runs are computed alike.

Patches are RFC 6902 JSON patches: each list position they touch is guarded by a `test` of the element's
name, so a list reordered between the read and the write fails the patch instead of editing the wrong entry.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from remediations.model import REMOVE, FieldEdit, Named, PathPart

Op = dict[str, Any]
_ABSENT = object()


class EditError(ValueError):
    """An edit cannot be placed in this object (a path through a value that is not a map or list)."""


def pointer_token(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def json_pointer(path: Sequence[str | int]) -> str:
    return "".join("/" + pointer_token(part) for part in path)


@dataclass(frozen=True)
class Resolved:
    pointer: str  # JSON pointer of the deepest existing container plus the rest, as far as it resolves
    value: Any  # the current value, or _ABSENT
    guards: tuple[Op, ...]  # `test` ops pinning each Named list position used


def _named_index(items: list[Any], name: str) -> int | None:
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == name:
            return index
    return None


def resolve(obj: Any, path: Sequence[PathPart]) -> Resolved:
    node: Any = obj
    pointer = ""
    guards: list[Op] = []
    for part in path:
        if isinstance(part, Named):
            if not isinstance(node, list):
                return Resolved(pointer, _ABSENT, tuple(guards))
            index = _named_index(node, part.name)
            if index is None:
                return Resolved(pointer, _ABSENT, tuple(guards))
            pointer += f"/{index}"
            guards.append({"op": "test", "path": pointer + "/name", "value": part.name})
            node = node[index]
        elif isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return Resolved(pointer, _ABSENT, tuple(guards))
            pointer += f"/{part}"
            node = node[part]
        else:
            if not isinstance(node, dict) or part not in node:
                return Resolved(pointer, _ABSENT, tuple(guards))
            pointer += "/" + pointer_token(part)
            node = node[part]
    return Resolved(pointer, node, tuple(guards))


def current(obj: Any, path: Sequence[PathPart]) -> Any:
    """The value at path, or REMOVE when there is none."""
    found = resolve(obj, path).value
    return REMOVE if found is _ABSENT else found


def satisfied(obj: Any, edit: FieldEdit) -> bool:
    return bool(current(obj, edit.path) == edit.value) if edit.value is not REMOVE else (
        current(obj, edit.path) is REMOVE)


def _materialise(path: Sequence[PathPart], value: Any) -> Any:
    """The JSON to add where a path first stops existing: nested maps, or a named list element."""
    out = value
    for part in reversed(path):
        if isinstance(part, Named):
            out = {"name": part.name, **(out if isinstance(out, dict) else {})}
            out = [out]
        elif isinstance(part, int):
            raise EditError("cannot create a list position by index")
        else:
            out = {part: out}
    return out


def _add_missing(doc: Any, path: Sequence[PathPart], value: Any) -> list[Op]:
    """Ops adding `value` at path in doc, creating what is missing on the way."""
    node: Any = doc
    pointer = ""
    guards: list[Op] = []
    for depth, part in enumerate(path):
        rest = path[depth + 1:]
        if isinstance(part, Named):
            if not isinstance(node, list):
                raise EditError(f"{pointer or '/'} is not a list")
            index = _named_index(node, part.name)
            if index is None:
                element = _materialise(rest, value) if rest else value
                element = {"name": part.name, **element} if isinstance(element, dict) else element
                return [*guards, {"op": "add", "path": pointer + "/-", "value": element}]
            pointer += f"/{index}"
            guards.append({"op": "test", "path": pointer + "/name", "value": part.name})
            node = node[index]
            continue
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                raise EditError(f"{pointer}/{part} does not exist")
            pointer += f"/{part}"
            node = node[part]
            continue
        if not isinstance(node, dict):
            raise EditError(f"{pointer or '/'} is not a map")
        child = pointer + "/" + pointer_token(part)
        if part not in node:
            add = _materialise(rest, value) if rest else value
            return [*guards, {"op": "add", "path": child, "value": add}]
        pointer, node = child, node[part]
    return [*guards, {"op": "replace", "path": pointer, "value": value}]


def forward_ops(obj: Any, edits: Sequence[FieldEdit]) -> list[Op]:
    """The JSON patch making every edit true in obj; [] when all already are (the step is skipped)."""
    doc = copy.deepcopy(obj)
    ops: list[Op] = []
    for edit in edits:
        if satisfied(doc, edit):
            continue
        if edit.value is REMOVE:
            found = resolve(doc, edit.path)
            step = [*found.guards, {"op": "remove", "path": found.pointer}]
        else:
            step = _add_missing(doc, edit.path, edit.value)
        doc = apply_ops(doc, step)
        ops += step
    return ops


def undo_ops(before: Any, after: Any, edits: Sequence[FieldEdit]) -> list[Op]:
    """The JSON patch that puts every edited path of `after` back to what it was in `before`, exactly.

    Edits are undone last first, so list positions line up with the state each one left behind."""
    doc = copy.deepcopy(after)
    ops: list[Op] = []
    for edit in reversed(edits):
        was = current(before, edit.path)
        if current(doc, edit.path) == was:
            continue
        if was is REMOVE:
            # Remove what the edit created, from the first level that did not exist before: an annotation
            # added to a template without annotations leaves no empty map behind.
            depth = next(d for d in range(1, len(edit.path) + 1) if current(before, edit.path[:d]) is REMOVE)
            found = resolve(doc, edit.path[:depth])
            step = [*found.guards, {"op": "remove", "path": found.pointer}]
        elif isinstance(edit.path[-1], Named) and current(doc, edit.path) is REMOVE:
            # a removed list element goes back to its old position
            old = resolve(before, edit.path)
            parent = resolve(doc, edit.path[:-1])
            index = old.pointer.rsplit("/", 1)[-1]
            step = [*parent.guards, {"op": "add", "path": f"{parent.pointer}/{index}", "value": was}]
        else:
            step = _add_missing(doc, edit.path, was)
        doc = apply_ops(doc, step)
        ops += step
    return ops


def apply_ops(doc: Any, ops: Sequence[Op]) -> Any:
    """RFC 6902 as the API server applies it (via the jsonpatch library)."""
    import jsonpatch

    try:
        return jsonpatch.apply_patch(doc, list(ops), in_place=False)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise EditError(str(exc)) from exc
