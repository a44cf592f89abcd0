"""HTTP routing of the simulated API server: discovery, resource paths, subresources, lists, errors."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from tests.kit.kubesim import patch as patches
from tests.kit.kubesim.errors import ApiError
from tests.kit.kubesim.objects import ObjectApi, WriteOptions
from tests.kit.kubesim.registry import ResourceType
from tests.kit.kubesim.selectors import fields_match, labels_match, parse_field_selector, parse_label_selector
from tests.kit.kubesim.subresources import Subresources
from tests.kit.kubesim.types import TypeRegistry
from tests.kit.sim.oidc import OidcIssuer
from tests.kit.sim.server import Request, Response

_REVIEWS = {("authorization.k8s.io", "selfsubjectaccessreviews"), ("authorization.k8s.io", "selfsubjectrulesreviews"),
            ("authentication.k8s.io", "selfsubjectreviews"), ("authorization.k8s.io", "subjectaccessreviews")}
# (request, review plural, spec) -> the review's status; only the authenticating layer knows who is asking
Reviewer = Callable[[Request, str, dict[str, Any]], dict[str, Any]]


class KubeApp:
    def __init__(self, api: ObjectApi, types: TypeRegistry, issuer: OidcIssuer, version: str,
                 subresources: Subresources, reviewer: Reviewer) -> None:
        self.api = api
        self.types = types
        self.issuer = issuer
        self.version = version
        self.subresources = subresources
        self.reviewer = reviewer

    def __call__(self, request: Request) -> Response:
        try:
            return self._dispatch(request)
        except ApiError as exc:
            return Response(exc.code, exc.status(), headers=dict(exc.headers))

    # -- routing
    def _dispatch(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        if request.path in ("/.well-known/openid-configuration",):
            return Response(200, self.issuer.discovery())
        if request.path == "/openid/v1/jwks":
            return Response(200, self.issuer.jwks(), content_type="application/jwk-set+json")
        if request.path == "/version":
            major, minor = self.version.lstrip("v").split(".")[:2]
            return Response(200, {"major": major, "minor": minor, "gitVersion": self.version,
                                  "platform": "linux/amd64", "goVersion": "go1.24.6", "compiler": "gc"})
        if request.path in ("/healthz", "/readyz", "/livez"):
            return Response(200, "ok", content_type="text/plain")
        if parts[:1] == ["api"]:
            if len(parts) == 1:
                return Response(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
            return self._resource(request, "", parts[1], parts[2:])
        if parts[:1] == ["apis"]:
            if len(parts) == 1:
                return Response(200, self._group_list())
            if len(parts) == 2:
                return Response(200, self._group(parts[1]))
            return self._resource(request, parts[1], parts[2], parts[3:])
        raise _not_found_path()

    def _resource(self, request: Request, group: str, version: str, rest: list[str]) -> Response:
        if not rest:
            if request.method != "GET" or version not in self.types.group_versions().get(group, []):
                raise _not_found_path()
            return Response(200, self._resource_list(group, version))
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] != "status" and rest[2] != "finalize":
            namespace, rest = rest[1], rest[2:]
        rtype = self.types.route(group, version, rest[0])
        if rtype is None:
            raise _not_found_path()
        if namespace and not rtype.namespaced:
            raise _not_found_path()
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        if len(rest) > 3 or (sub and sub not in rtype.subresources):
            raise _not_found_path()
        if request.param("watch") in ("true", "1"):
            raise ApiError.bad_request("watch is not served by the keda-auth API-server simulator")
        if (group, rtype.plural) in _REVIEWS:
            return self._review(request, rtype)
        if sub and sub != "status":
            return self.subresources.serve(request, rtype, namespace, name, sub)
        if not name:
            return self._collection(request, rtype, namespace)
        return self._item(request, rtype, namespace, name, sub)

    # -- collections
    def _collection(self, request: Request, rtype: ResourceType, namespace: str) -> Response:
        if request.method == "GET":
            return Response(200, self._list(request, rtype, namespace or None))
        if request.method == "POST":
            if rtype.namespaced and not namespace:
                raise ApiError.method_not_allowed()
            result = self.api.create(rtype, namespace, _body(request), self._options(request))
            return Response(201, result.obj, headers=_warnings(result.warnings))
        raise ApiError.method_not_allowed()

    def _list(self, request: Request, rtype: ResourceType, namespace: str | None) -> dict[str, Any]:
        labels = parse_label_selector(request.param("labelSelector") or "")
        fields = parse_field_selector(request.param("fieldSelector") or "", rtype.kind, rtype.selectable_fields)
        limit = int(request.param("limit") or 0)
        token = request.param("continue")
        with self.api.store.lock:
            revision = self.api.store.revision
            start = None
            if token:
                start, revision = self.api.store.parse_continue(token)
            items = [(key, obj) for key, obj in self.api.store.items(rtype, namespace)
                     if (start is None or key > start) and labels_match(labels, obj["metadata"].get("labels"))
                     and fields_match(fields, obj)]
            page = items[:limit] if limit > 0 else items
            metadata: dict[str, Any] = {"resourceVersion": str(self.api.store.revision)}
            if limit > 0 and len(items) > limit:
                metadata["continue"] = self.api.store.continue_token(page[-1][0], revision)
                metadata["remainingItemCount"] = len(items) - limit
            out = [copy.deepcopy(obj) for _, obj in page]
        if not rtype.custom:  # built-in lists carry no kind/apiVersion per item, as on the wire
            for obj in out:
                obj.pop("kind", None)
                obj.pop("apiVersion", None)
        return {"kind": rtype.list_kind, "apiVersion": rtype.api_version, "metadata": metadata, "items": out}

    # -- single objects
    def _item(self, request: Request, rtype: ResourceType, namespace: str, name: str, sub: str) -> Response:
        options = self._options(request, sub)
        if request.method == "GET":
            return Response(200, self.api.get(rtype, namespace, name))
        if request.method == "PUT":
            result = self.api.update(rtype, namespace, name, _body(request), options)
            return Response(200, result.obj, headers=_warnings(result.warnings))
        if request.method == "PATCH":
            return self._patch(request, rtype, namespace, name, options)
        if request.method == "DELETE":
            gone = self.api.delete(rtype, namespace, name, dry_run=options.dry_run)
            if rtype.kind == "Pod":
                return Response(200, gone)
            return Response(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                  "details": {"name": name, "group": rtype.group, "kind": rtype.plural,
                                              "uid": gone["metadata"]["uid"]}})
        raise ApiError.method_not_allowed()

    def _patch(self, request: Request, rtype: ResourceType, namespace: str, name: str,
               options: WriteOptions) -> Response:
        kind = request.content_type
        accepted = [patches.JSON_PATCH, patches.MERGE_PATCH, patches.APPLY_PATCH]
        if not rtype.custom:
            accepted.insert(2, patches.STRATEGIC_MERGE_PATCH)
        if kind not in accepted:
            raise ApiError.unsupported_media_type(kind, accepted)
        body = _body(request, yaml_ok=kind == patches.APPLY_PATCH)
        with self.api.store.lock:
            current = self.api.get(rtype, namespace, name)
            if kind == patches.JSON_PATCH:
                patched = patches.json_patch(current, body)
            elif kind == patches.STRATEGIC_MERGE_PATCH:
                patched = patches.strategic_merge_patch(current, body, rtype.schema)
            else:
                if kind == patches.APPLY_PATCH:
                    if not request.param("fieldManager"):
                        raise ApiError.bad_request("PATCH, application/apply-patch+yaml requires fieldManager")
                    options.operation = "Apply"
                # Server-side apply is approximated by a merge patch: no field-ownership conflicts.
                patched = patches.merge_patch(current, body)
            if not isinstance(patched, dict):
                raise ApiError.bad_request("the patched object is not a JSON object")
            result = self.api.replace_with(rtype, current, patched, options)
        return Response(200, result.obj, headers=_warnings(result.warnings))

    def _options(self, request: Request, sub: str = "") -> WriteOptions:
        dry_run = request.query.get("dryRun", [])
        if any(v != "All" for v in dry_run):
            raise ApiError.bad_request(f'Invalid dry run value: {dry_run}; only "All" is supported')
        validation = request.param("fieldValidation") or "Warn"
        if validation not in ("Strict", "Warn", "Ignore"):
            raise ApiError.bad_request(f"fieldValidation must be one of Ignore, Warn or Strict, got {validation}")
        agent = request.headers.get("user-agent", "unknown")
        manager = request.param("fieldManager") or agent.split("/", 1)[0]
        return WriteOptions(dry_run=bool(dry_run), manager=manager, subresource=sub, field_validation=validation)

    # -- reviews answer at once and are never stored
    def _review(self, request: Request, rtype: ResourceType) -> Response:
        if request.method != "POST":
            raise ApiError.method_not_allowed()
        body = _body(request)
        body.setdefault("metadata", {})
        body["apiVersion"], body["kind"] = rtype.api_version, rtype.kind
        body["status"] = self.reviewer(request, rtype.plural, dict(body.get("spec") or {}))
        return Response(201, body)

    # -- discovery
    def _group_list(self) -> dict[str, Any]:
        groups = []
        for group, versions in sorted(self.types.group_versions().items()):
            if group:
                groups.append(self._group_body(group, versions))
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _group(self, group: str) -> dict[str, Any]:
        versions = self.types.group_versions().get(group)
        if not versions:
            raise _not_found_path()
        return dict(self._group_body(group, versions), kind="APIGroup", apiVersion="v1")

    @staticmethod
    def _group_body(group: str, versions: list[str]) -> dict[str, Any]:
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": entries, "preferredVersion": entries[0]}

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        resources: list[dict[str, Any]] = []
        for rtype in sorted(self.types.all(), key=lambda t: t.plural):
            if rtype.group != group or rtype.version != version:
                continue
            entry: dict[str, Any] = {"name": rtype.plural, "singularName": rtype.singular,
                                     "namespaced": rtype.namespaced, "kind": rtype.kind,
                                     "verbs": sorted(rtype.verbs - {"watch"})}
            if rtype.short_names:
                entry["shortNames"] = rtype.short_names
            if rtype.categories:
                entry["categories"] = rtype.categories
            resources.append(entry)
            for sub in sorted(rtype.subresources):
                resources.append({"name": f"{rtype.plural}/{sub}", "singularName": "", "namespaced": rtype.namespaced,
                                  "kind": rtype.kind, "verbs": ["get", "patch", "update"]})
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}


def _not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def _body(request: Request, yaml_ok: bool = False) -> Any:
    try:
        if yaml_ok:
            import yaml

            return yaml.safe_load(request.body or b"{}")
        return json.loads(request.body or b"null")
    except Exception as exc:  # JSON or YAML: any parse error is the client's bad request
        raise ApiError.bad_request(f"couldn't get version/kind; json parse error: {exc}") from exc


def _warnings(warnings: list[str]) -> dict[str, str]:
    if not warnings:
        return {}
    return {"Warning": ", ".join(f'299 - "{w.replace(chr(34), chr(92) + chr(34))}"' for w in warnings)}
