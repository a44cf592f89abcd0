"""Which resources the simulated API server serves, read from the official Kubernetes 1.36 OpenAPI spec.

Built-in kinds come from the spec's paths (plural, scope, verbs, subresources) and definitions (the
schema every write is validated against). Custom resources are added when a CRD is created.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tests.kit.fixtures import FIXTURES
from tests.kit.sim.openapi import Located, load_document

SWAGGER = FIXTURES / "openapi" / "kubernetes" / "swagger.json"

_SHORT_NAMES = {
    "pods": ["po"], "services": ["svc"], "serviceaccounts": ["sa"], "namespaces": ["ns"],
    "configmaps": ["cm"], "events": ["ev"], "deployments": ["deploy"], "replicasets": ["rs"],
    "horizontalpodautoscalers": ["hpa"], "customresourcedefinitions": ["crd", "crds"], "nodes": ["no"],
    "poddisruptionbudgets": ["pdb"], "endpoints": ["ep"],
}
_ALL_CATEGORY = {"pods", "services", "deployments", "replicasets", "horizontalpodautoscalers",
                 "statefulsets", "daemonsets", "jobs", "cronjobs", "replicationcontrollers"}
_STABLE = re.compile(r"^v\d+$")
_PATH = re.compile(r"^/apis?/(?:(?P<group>[^/]+)/)?(?P<version>v[^/]+)/(?:namespaces/\{namespace\}/)?"
                   r"(?P<plural>[^/{]+)(?:/\{name\}(?:/(?P<sub>[^/{]+))?)?$")


@dataclass
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    schema: Located | None  # what writes are validated against; None: free-form
    verbs: set[str] = field(default_factory=set)
    subresources: set[str] = field(default_factory=set)
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    custom: bool = False
    crd_name: str = ""
    selectable_fields: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """`deployments.apps`, `pods`: how Status messages name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources


@cache
def gvk_definitions() -> dict[tuple[str, str, str], str]:
    """(group, version, kind) → the spec's definition name; the first definition wins, as for meta types."""
    found: dict[tuple[str, str, str], str] = {}
    for name, schema in load_document(SWAGGER)["definitions"].items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            found.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return found


@cache
def builtin_types() -> tuple[ResourceType, ...]:
    spec = load_document(SWAGGER)
    definitions = gvk_definitions()
    types: dict[tuple[str, str, str], ResourceType] = {}
    for path, operations in spec["paths"].items():
        match = _PATH.match(path)
        if not match or "/watch/" in path:
            continue
        group, version, plural, sub = match["group"] or "", match["version"], match["plural"], match["sub"]
        if not _STABLE.match(version):
            continue
        actions = {m: op["x-kubernetes-action"] for m, op in operations.items()
                   if isinstance(op, dict) and "x-kubernetes-action" in op}
        gvks = [op["x-kubernetes-group-version-kind"] for op in operations.values()
                if isinstance(op, dict) and "x-kubernetes-group-version-kind" in op]
        if not gvks:
            continue
        key = (group, version, plural)
        if sub is not None:
            if key in types:
                types[key].subresources.add(sub)
            else:  # subresource path listed before its parent
                types.setdefault(key, _placeholder(group, version, plural)).subresources.add(sub)
            continue
        gvk = gvks[0]
        entry = types.get(key)
        if entry is None or not entry.kind:
            definition = definitions.get((gvk["group"], gvk["version"], gvk["kind"]))
            fresh = ResourceType(
                group=group, version=version, kind=gvk["kind"], plural=plural,
                namespaced="{namespace}" in path,
                schema=Located(spec["definitions"][definition], SWAGGER, definition) if definition else None,
                short_names=_SHORT_NAMES.get(plural, []),
                categories=["all"] if plural in _ALL_CATEGORY else [],
            )
            if entry is not None:
                fresh.subresources |= entry.subresources
            entry = types[key] = fresh
        entry.namespaced = entry.namespaced or "{namespace}" in path
        entry.verbs |= {_VERB.get(a, a) for a in actions.values()}
    _keep_newest_stable(types)
    return tuple(t for t in types.values() if t.kind and t.verbs & {"get", "list", "create"})


_VERB = {"post": "create", "put": "update", "deletecollection": "deletecollection"}


def _placeholder(group: str, version: str, plural: str) -> ResourceType:
    return ResourceType(group=group, version=version, kind="", plural=plural, namespaced=False, schema=None)


def _keep_newest_stable(types: dict[tuple[str, str, str], ResourceType]) -> None:
    """Serve one stable version per resource (autoscaling/v2 rather than v1) since the simulator does not convert."""
    newest: dict[tuple[str, str], str] = {}
    for group, version, plural in types:
        current = newest.get((group, plural))
        if current is None or int(version[1:]) > int(current[1:]):
            newest[(group, plural)] = version
    for key in [k for k in types if newest[(k[0], k[2])] != k[1]]:
        del types[key]


def custom_types(crd: dict[str, Any]) -> list[ResourceType]:
    spec = crd["spec"]
    names = spec["names"]
    result = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        subresources = set((version.get("subresources") or {}).keys())
        result.append(ResourceType(
            group=spec["group"], version=version["name"], kind=names["kind"], plural=names["plural"],
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            schema=Located(schema) if schema else None,
            verbs={"get", "list", "create", "update", "patch", "delete", "deletecollection", "watch"},
            subresources=subresources, short_names=list(names.get("shortNames", [])),
            categories=list(names.get("categories", [])), custom=True, crd_name=crd["metadata"]["name"],
            selectable_fields=tuple(f["jsonPath"].lstrip(".") for f in version.get("selectableFields", [])),
        ))
    return result


def swagger_path() -> Path:
    return SWAGGER
