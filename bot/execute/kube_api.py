"""Kubernetes reads and writes for the executor, as raw JSON through the official client's transport.

Writes are JSON patches (RFC 6902) that first `test` the resourceVersion they were computed against: a
concurrent change makes the API server refuse the patch rather than have us overwrite it.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes.client.rest import ApiException

from bot.execute.errors import ExecuteError, WriteRefused
from remediations.model import KubeRef

Query = list[tuple[str, str]]
Items = list[dict[str, Any]]
JSON_PATCH = "application/json-patch+json"


class KubeApi:
    def __init__(self, api_client: Any, *, timeout: float = 30.0) -> None:
        self.api_client = api_client
        self.timeout = timeout

    def get(self, ref: KubeRef) -> dict[str, Any] | None:
        status, body = self._call("GET", ref.path)
        if status == 404:
            return None
        if status >= 400:
            raise _refused("get", ref, status, body)
        return body if isinstance(body, dict) else None

    def list_items(self, path: str, query: Query) -> Items:
        status, body = self._call("GET", path, query=query)
        if status >= 400:
            raise ExecuteError(f"listing {path} failed: {status} {_message(body)}")
        return [i for i in (body or {}).get("items") or () if isinstance(i, dict)]

    def patch(self, ref: KubeRef, ops: list[dict[str, Any]], *, dry_run: bool = False) -> dict[str, Any]:
        query = [("dryRun", "All")] if dry_run else []
        query.append(("fieldManager", "keda-auth"))
        status, body = self._call("PATCH", ref.path, body=ops, query=query, content_type=JSON_PATCH)
        if status >= 400:
            raise _refused("patch", ref, status, body)
        if not isinstance(body, dict):
            raise ExecuteError(f"patching {ref.ref} answered with no object")
        return body

    def _call(self, method: str, path: str, *, body: Any = None, query: Query | None = None,
              content_type: str | None = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        api = self.api_client
        try:
            request = api.param_serialize(method=method, resource_path=path, query_params=query or [],
                                          header_params=headers, body=body, auth_settings=["BearerToken"])
            response = api.call_api(*request, _request_timeout=self.timeout)
            try:
                raw = response.read()
            finally:
                response.response.release_conn()
            status = int(response.status)
        except ApiException as exc:
            status, raw = int(exc.status or 0), exc.body
        except Exception as exc:  # the transport: connection refused, TLS, timeouts
            raise ExecuteError(f"{method} {path} failed: {type(exc).__name__}: {exc}") from exc
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None


def _message(body: Any) -> str:
    return " ".join(str(body.get("message") or "").split()) if isinstance(body, dict) else ""


def rbac_rule(verb: str, ref: KubeRef) -> str:
    return (f'RBAC rule: apiGroups ["{ref.group}"], resources ["{ref.plural}"], verbs ["{verb}"], '
            f'resourceNames ["{ref.name}"]' + (f' in namespace {ref.namespace} (Role)' if ref.namespace
                                              else " (ClusterRole)"))


def _refused(verb: str, ref: KubeRef, status: int, body: Any) -> WriteRefused:
    message = _message(body) or f"HTTP {status}"
    if status in (401, 403):
        permission = rbac_rule(verb, ref)
        return WriteRefused(f"not allowed to {verb} {ref.ref}: {message} — grant {permission}", status, permission)
    if status == 409 or (status == 422 and "resourceVersion" in message):
        return WriteRefused(f"{ref.ref} changed while it was being patched ({message}); plan again", status)
    return WriteRefused(f"{verb} {ref.ref} refused: {status} {message}", status)
