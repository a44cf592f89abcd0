"""Validate JSON values against the official schemas: Kubernetes' swagger, CRD openAPIV3Schema, ARM swaggers.

The simulators use it to reject what a real server rejects and to prune what a real server drops;
the tests use it to prove that every body the simulators send matches the published specs.
Errors come out as Kubernetes field causes (`spec.triggers[0].type: Required value`), which ARM
callers reformat into their own error bodies.

Not modelled: CEL rules (`x-kubernetes-validations`), `format` checks other than int-or-string,
discriminators, and `oneOf`/`anyOf` beyond KEDA's int-or-string unions.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Cause:
    reason: str  # FieldValueRequired, FieldValueNotSupported, FieldValueTypeInvalid, FieldValueInvalid, ...
    field: str
    message: str

    def text(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass
class Outcome:
    value: Any  # the instance after pruning (unknown fields dropped) and defaulting
    causes: list[Cause] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # paths of fields a real server would drop

    @property
    def ok(self) -> bool:
        return not self.causes


@dataclass(frozen=True)
class Dialect:
    """What differs between a Kubernetes server and ARM when reading the same kind of schema."""

    enforce_model_as_string_enums: bool = False  # ARM: x-ms-enum modelAsString means "extensible"
    apply_defaults: bool = False  # CRD structural defaulting
    read_only_is_error: bool = False
    response: bool = False  # validating a server's response: read-only fields are expected


KUBE = Dialect(apply_defaults=True)
KUBE_RESPONSE = Dialect(response=True)
ARM_REQUEST = Dialect()
ARM_RESPONSE = Dialect(response=True)

_ABSENT = object()


@cache
def load_document(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)


@dataclass(frozen=True)
class Located:
    """A schema together with the file its relative `$ref`s resolve against."""

    schema: Mapping[str, Any]
    document: Path | None = None
    name: str = ""  # the definition name it was reached through, e.g. ...resource.Quantity


def definition(document: Path, name: str) -> Located:
    return Located(load_document(document)["definitions"][name], document, name)


def resolve(located: Located) -> Located:
    schema, doc, name = located.schema, located.document, located.name
    seen = 0
    while "$ref" in schema:
        ref = str(schema["$ref"])
        file_part, _, pointer = ref.partition("#")
        if file_part:
            if doc is None:
                raise ValueError(f"relative $ref {ref!r} without a base document")
            doc = (doc.parent / file_part).resolve()
        if doc is None:
            raise ValueError(f"$ref {ref!r} without a base document")
        target: Any = load_document(doc)
        for part in [p for p in pointer.split("/") if p]:
            target = target[part.replace("~1", "/").replace("~0", "~")]
        schema, name = target, pointer.rsplit("/", 1)[-1]
        seen += 1
        if seen > 64:
            raise ValueError(f"$ref loop at {ref}")
    return Located(schema, doc, name)


def merged(located: Located) -> Located:
    """Fold allOf branches into one schema (ARM models inherit through allOf)."""
    located = resolve(located)
    schema = located.schema
    if "allOf" not in schema:
        return located
    combined: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    properties: dict[str, Located] = {k: Located(v, located.document) for k, v in schema.get("properties", {}).items()}
    required = list(schema.get("required", []))
    for branch in schema["allOf"]:
        part = merged(Located(branch, located.document))
        for key, value in part.schema.items():
            if key == "properties":
                for prop, sub in value.items():
                    properties.setdefault(prop, sub if isinstance(sub, Located) else Located(sub, part.document))
            elif key == "required":
                required += [r for r in value if r not in required]
            else:
                combined.setdefault(key, value)
    combined["properties"] = properties
    combined["required"] = required
    return Located(combined, located.document, located.name)


def validate(instance: Any, located: Located, dialect: Dialect = KUBE, path: str = "") -> Outcome:
    outcome = Outcome(value=None)
    value = _check(copy.deepcopy(instance), located, dialect, path, outcome)
    outcome.value = None if value is _ABSENT else value
    return outcome


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _type_ok(value: Any, expected: str) -> bool:
    actual = _type_name(value)
    if expected == "number":
        return actual in ("integer", "number")
    if expected == "integer" and isinstance(value, float) and value.is_integer():
        return True
    return actual == expected


def _quote(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check(value: Any, located: Located, dialect: Dialect, path: str, out: Outcome) -> Any:
    located = merged(located)
    schema = located.schema
    if value is None:
        return None if (schema.get("nullable") or schema.get("x-nullable")) else _ABSENT
    int_or_string = schema.get("x-kubernetes-int-or-string") or schema.get("format") == "int-or-string"
    if int_or_string or located.name.endswith("resource.Quantity"):
        if _type_name(value) not in ("integer", "string", "number"):
            out.causes.append(Cause("FieldValueTypeInvalid", path,
                                    f'Invalid value: "{_type_name(value)}": {path} in body must be of type '
                                    f'integer,string: "{_type_name(value)}"'))
        return value
    expected = schema.get("type")
    if isinstance(expected, str) and not _type_ok(value, expected):
        actual = _type_name(value)
        out.causes.append(Cause("FieldValueTypeInvalid", path,
                                f'Invalid value: "{actual}": {path} in body must be of type {expected}: "{actual}"'))
        return value
    enum = schema.get("enum")
    model_as_string = bool((schema.get("x-ms-enum") or {}).get("modelAsString"))
    if enum is not None and value not in enum and (not model_as_string or dialect.enforce_model_as_string_enums):
        supported = ", ".join(_quote(e) for e in enum)
        out.causes.append(Cause("FieldValueNotSupported", path,
                                f"Unsupported value: {_quote(value)}: supported values: {supported}"))
    if isinstance(value, str):
        _check_string(value, schema, path, out)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_number(value, schema, path, out)
    elif isinstance(value, list):
        return _check_array(value, located, dialect, path, out)
    elif isinstance(value, dict):
        return _check_object(value, located, dialect, path, out)
    return value


def _check_string(value: str, schema: Mapping[str, Any], path: str, out: Outcome) -> None:
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        out.causes.append(Cause("FieldValueTooLong", path,
                                f"Too long: may not be more than {schema['maxLength']} bytes"))
    if "minLength" in schema and len(value) < schema["minLength"]:
        out.causes.append(Cause("FieldValueInvalid", path, f'Invalid value: "{value}": {path} in body should be at '
                                                           f"least {schema['minLength']} chars long"))
    if "pattern" in schema and re.search(schema["pattern"], value) is None:
        out.causes.append(Cause("FieldValueInvalid", path,
                                f"Invalid value: \"{value}\": {path} in body should match '{schema['pattern']}'"))


def _check_number(value: float, schema: Mapping[str, Any], path: str, out: Outcome) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        out.causes.append(Cause("FieldValueInvalid", path, f"Invalid value: {value}: {path} in body should be "
                                                           f"greater than or equal to {schema['minimum']}"))
    if "maximum" in schema and value > schema["maximum"]:
        out.causes.append(Cause("FieldValueInvalid", path, f"Invalid value: {value}: {path} in body should be "
                                                           f"less than or equal to {schema['maximum']}"))


def _check_array(value: list[Any], located: Located, dialect: Dialect, path: str, out: Outcome) -> list[Any]:
    schema = located.schema
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        out.causes.append(Cause("FieldValueTooMany", path, f"Too many: {len(value)}: must have at most "
                                                           f"{schema['maxItems']} items"))
    if "minItems" in schema and len(value) < schema["minItems"]:
        out.causes.append(Cause("FieldValueInvalid", path, f"Invalid value: {len(value)}: {path} in body should have "
                                                           f"at least {schema['minItems']} items"))
    items = schema.get("items")
    if not isinstance(items, Mapping):
        return value
    sub = Located(items, located.document)
    checked = [_check(item, sub, dialect, f"{path}[{i}]", out) for i, item in enumerate(value)]
    return [item for item in checked if item is not _ABSENT]


def _check_object(value: dict[str, Any], located: Located, dialect: Dialect, path: str, out: Outcome) -> dict[str, Any]:
    schema = located.schema
    properties: Mapping[str, Any] = schema.get("properties") or {}
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    additional = schema.get("additionalProperties")
    result: dict[str, Any] = {}
    for key, item in value.items():
        if key in properties:
            prop = properties[key]
            sub = prop if isinstance(prop, Located) else Located(prop, located.document)
            if dialect.read_only_is_error and resolve(sub).schema.get("readOnly"):
                out.causes.append(Cause("FieldValueForbidden", _child(path, key), "Forbidden: read-only"))
            checked = _check(item, sub, dialect, _child(path, key), out)
        elif isinstance(additional, Mapping):
            checked = _check(item, Located(additional, located.document), dialect, f"{path}[{key}]", out)
        elif preserve or additional is True or (not properties and additional is None and not schema.get("type")):
            checked = item
        elif not properties and additional is None and schema.get("type") == "object" and not located.name:
            checked = item  # a free-form object such as `metadata` in a CRD schema
        else:
            out.unknown.append(_child(path, key))
            continue
        if checked is not _ABSENT:
            result[key] = checked
    for key in schema.get("required", []):
        if result.get(key) is None:
            out.causes.append(Cause("FieldValueRequired", _child(path, key), "Required value"))
    if dialect.apply_defaults:
        for key, prop in properties.items():
            resolved = resolve(prop if isinstance(prop, Located) else Located(prop, located.document)).schema
            if key not in result and "default" in resolved:
                result[key] = copy.deepcopy(resolved["default"])
    return result
