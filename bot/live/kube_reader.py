"""Read the Kubernetes API as raw JSON: paginated lists, a few plain GETs and pod logs, with bounded retries.

Responses are parsed from bytes with `json`, never through the client's model classes: the collection keeps
the wire JSON (see collection.py), and the models would drop fields they do not know.

KubeReadError           a read did not succeed; `reason` is short and fit for a report
 +-- ListDenied         401/403: the credentials or RBAC refuse it (or credentials cannot be had); no retry
 +-- KindNotServed      404: the resource type (or path) is not served, e.g. KEDA's CRDs are not installed
 +-- ListFailed         retries exhausted (429, 5xx, connection errors, timeouts) or another refusal (400, 410)
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import urllib3
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException

from bot.errors import KedaAuthError

Item = dict[str, Any]
Items = list[Item]
Query = list[tuple[str, str]]
Lines = list[str]
Timeout = float | tuple[float, float]


class KubeReadError(KedaAuthError):
    def __init__(self, reason: str, status: int | None = None, message: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.message = message  # the server's Status.message, when it sent one


# The names below are the contract other modules catch; they read as outcomes, so no Error suffix.
class ListDenied(KubeReadError):  # noqa: N818
    pass


class KindNotServed(KubeReadError):  # noqa: N818
    pass


class ListFailed(KubeReadError):  # noqa: N818
    pass


@dataclass
class ListResult:
    items: Items
    pages: int


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    retry_after: str | None


class _RetryableError(Exception):
    """One attempt failed in a way worth another try."""

    def __init__(self, what: str, status: int | None = None, message: str = "", wait: float | None = None) -> None:
        super().__init__(what)
        self.what = what  # "500", "timed out", "connection failed (ProtocolError)"
        self.status = status
        self.message = message
        self.wait = wait  # what the server asked for (Retry-After), if anything

    def exhausted(self, attempts: int) -> ListFailed:
        reason = f"{self.what} after {attempts} attempts" + (f": {self.message}" if self.message else "")
        return ListFailed(reason, self.status, self.message)


_RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_MESSAGE = 300


class KubeReader:
    def __init__(self, api_client: Any, *, page_size: int = 500, attempts: int = 4, backoff: float = 0.25,
                 max_backoff: float = 4.0, timeout: Timeout = (5.0, 30.0),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.api_client = api_client
        self.page_size = page_size
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.sleep = sleep
        self._requests = 0
        self._lock = threading.Lock()

    @property
    def requests(self) -> int:
        """HTTP requests sent so far, every retry included."""
        with self._lock:
            return self._requests

    # -- public reads
    def list(self, group: str, version: str, plural: str, *, namespace: str | None = None,
             label_selector: str | None = None, field_selector: str | None = None, single_page: bool = False,
             limit: int | None = None, keep: Callable[[Item], bool] | None = None) -> ListResult:
        """Every item of a collection, page by page (`limit` overrides the page size for this list).

        `keep` filters each page as it arrives, so unwanted items never pile up in memory. A 410 Expired
        continue token (the server compacted mid-list) restarts the list from the beginning, once.
        """
        path = collection_path(group, version, plural, namespace)
        query: Query = [("limit", str(limit or self.page_size))]
        if label_selector:
            query.append(("labelSelector", label_selector))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        items: Items = []
        pages = 0
        restarted = False
        token: str | None = None
        while True:
            try:
                body = self._json(self._get(path, query + ([("continue", token)] if token else [])))
            except ListFailed as exc:
                if exc.status != 410 or token is None or restarted:
                    raise
                restarted, token, items = True, None, []
                continue
            if not isinstance(body, dict):
                raise ListFailed(f"the API server answered {path} with JSON that is not a list")
            pages += 1
            kind = str(body.get("kind") or "").removesuffix("List")
            api_version = str(body.get("apiVersion") or "")
            for raw in body.get("items") or []:
                if not isinstance(raw, dict):
                    continue
                raw.setdefault("kind", kind)
                raw.setdefault("apiVersion", api_version)
                if keep is None or keep(raw):
                    items.append(raw)
            metadata = body.get("metadata")
            token = str(metadata.get("continue") or "") if isinstance(metadata, dict) else ""
            if not token or single_page:
                return ListResult(items, pages)

    def get_json(self, path: str) -> Any:
        """One JSON document, e.g. `/version` or `/.well-known/openid-configuration`."""
        return self._json(self._get(path, []))

    def pod_log(self, namespace: str, pod: str, container: str | None, tail_lines: int,
                since_seconds: int | None) -> Lines:
        query: Query = [("tailLines", str(tail_lines))]
        if container:
            query.append(("container", container))
        if since_seconds:
            query.append(("sinceSeconds", str(since_seconds)))
        body = self._get(f"/api/v1/namespaces/{namespace}/pods/{pod}/log", query, accept="text/plain")
        return body.decode("utf-8", errors="replace").splitlines()

    # -- one GET, retried
    def _get(self, path: str, query: Query, accept: str = "application/json") -> bytes:
        attempt = 1
        while True:
            try:
                return self._attempt(path, query, accept)
            except _RetryableError as retry:
                if attempt >= self.attempts:
                    raise retry.exhausted(self.attempts) from retry
                self.sleep(self._wait(attempt, retry.wait))
                attempt += 1

    def _wait(self, attempt: int, asked: float | None) -> float:
        if asked is not None:
            return min(max(asked, 0.0), self.max_backoff)
        return min(self.backoff * 2.0 ** (attempt - 1), self.max_backoff)

    def _attempt(self, path: str, query: Query, accept: str) -> bytes:
        answer = self._send(path, query, accept)
        if 200 <= answer.status < 300:
            return answer.body
        message = _status_message(answer.body)
        summary = f"{answer.status} {_phrase(answer.status)}" + (f": {message}" if message else "")
        if answer.status in (401, 403):
            raise ListDenied(summary, answer.status, message)
        if answer.status == 404:
            raise KindNotServed(summary, answer.status, message)
        if answer.status in _RETRIED_STATUSES:
            wait = _retry_after(answer.retry_after) if answer.status in (429, 503) else None
            raise _RetryableError(str(answer.status), answer.status, message, wait)
        raise ListFailed(summary, answer.status, message)

    def _send(self, path: str, query: Query, accept: str) -> _Answer:
        api = self.api_client
        try:
            # Serialising applies the credentials, which may run an exec plugin (kubelogin) to refresh them.
            request = api.param_serialize(method="GET", resource_path=path, query_params=list(query),
                                          header_params={"Accept": accept}, auth_settings=["BearerToken"])
        except (ConfigException, OSError, ValueError) as exc:
            reason = f"401 credentials could not be refreshed: {' '.join(str(exc).split())[:_MAX_MESSAGE]}"
            raise ListDenied(reason, 401) from exc
        with self._lock:
            self._requests += 1
        try:
            response = api.call_api(*request, _request_timeout=self.timeout)
            try:
                body = response.read()
            finally:
                response.response.release_conn()
        except (urllib3.exceptions.TimeoutError, TimeoutError) as exc:
            raise _RetryableError("timed out") from exc
        except (urllib3.exceptions.HTTPError, ConnectionError) as exc:
            raise _RetryableError(f"connection failed ({type(exc).__name__})") from exc
        except ApiException as exc:  # the client reports TLS failures this way; retrying will not fix them
            raise ListFailed(f"TLS error: {' '.join(str(exc.reason).split())[:_MAX_MESSAGE]}") from exc
        return _Answer(int(response.status), bytes(body or b""), response.headers.get("Retry-After"))

    @staticmethod
    def _json(body: bytes) -> Any:
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ListFailed(f"the API server answered with something that is not JSON ({exc})") from exc


def collection_path(group: str, version: str, plural: str, namespace: str | None = None) -> str:
    root = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    return f"{root}/namespaces/{namespace}/{plural}" if namespace else f"{root}/{plural}"


def _status_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    text = str(data.get("message") or "") if isinstance(data, dict) else body.decode("utf-8", errors="replace")
    return " ".join(text.split())[:_MAX_MESSAGE]


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _retry_after(header: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not header:
        return None
    try:
        return float(header)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
