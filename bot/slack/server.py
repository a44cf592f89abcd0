"""HTTP mode: one WSGI app for Slack's requests and the probes, on waitress (threaded, production-grade).

The signature is checked on the raw bytes before anything is parsed: an unsigned or forged request, however
malformed, gets 401 and never reaches Bolt. A signed but malformed body gets 400, never a 5xx.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from slack_bolt import App, BoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import text

from bot.slack.metrics import Metrics
from bot.store.db import Store

MAX_BODY = 1 << 20  # Slack's payloads are far smaller; anything bigger is not from Slack
StartResponse = Callable[..., Any]


def _reply(start: StartResponse, status: str, body: bytes | str, content_type: str = "text/plain; charset=utf-8",
           headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
    data = body.encode() if isinstance(body, str) else body
    start(status, [("Content-Type", content_type), ("Content-Length", str(len(data))), *headers])
    return [data]


class SlackHttp:
    def __init__(self, app: App | None, store: Store, signing_secret: str, metrics: Metrics,
                 path: str = "/slack/events") -> None:
        self.app, self.store, self.metrics, self.path = app, store, metrics, path
        self.verifier = SignatureVerifier(signing_secret)
        self._slack_ok: tuple[float, bool] = (0.0, False)
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start: StartResponse) -> list[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        if method == "GET" and path == "/healthz":
            return _reply(start, "200 OK", "ok")
        if method == "GET" and path == "/readyz":
            return self._ready(start)
        if method == "GET" and path == "/metrics":
            return _reply(start, "200 OK", self.metrics.render(), "text/plain; version=0.0.4; charset=utf-8")
        if method == "POST" and path == self.path and self.app is not None:
            return self._slack(environ, start)
        return _reply(start, "404 Not Found", "not found")

    def _slack(self, environ: dict[str, Any], start: StartResponse) -> list[bytes]:
        began = time.perf_counter()
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return _reply(start, "413 Payload Too Large" if length > MAX_BODY else "400 Bad Request", "bad length")
        body = environ["wsgi.input"].read(length) if length else b""
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
        signature = environ.get("HTTP_X_SLACK_SIGNATURE") or ""
        # SignatureVerifier also refuses timestamps more than five minutes from now (replays).
        try:
            valid = self.verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
        except ValueError:  # a timestamp that is not a number
            valid = False
        if not valid:
            return _reply(start, "401 Unauthorized", json.dumps({"error": "invalid request"}), "application/json")
        assert self.app is not None
        headers: dict[str, str | Sequence[str]] = {k[5:].replace("_", "-").lower(): [v] for k, v in environ.items()
                                                   if k.startswith("HTTP_")}
        headers["content-type"] = [environ.get("CONTENT_TYPE") or ""]
        try:
            text_body = body.decode("utf-8")
            request = BoltRequest(body=text_body, query=environ.get("QUERY_STRING") or "", headers=headers)
            response = self.app.dispatch(request)
        except (ValueError, KeyError, TypeError, AttributeError):
            return _reply(start, "400 Bad Request", "malformed request")
        finally:
            self.metrics.ack.observe(time.perf_counter() - began)
        status = response.status
        if status >= 500:  # a listener that failed on a malformed but signed payload: the caller's fault
            status = 400
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}.get(status, "Error")
        extra = [(k, v) for k, values in response.headers.items() if k.lower() not in ("content-length",
                                                                                       "content-type")
                 for v in values]
        content_type = (response.headers.get("content-type") or ["text/plain; charset=utf-8"])[0]
        return _reply(start, f"{status} {reason}", response.body or "", content_type, extra)

    def _ready(self, start: StartResponse) -> list[bytes]:
        problems = []
        try:
            with self.store.read() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means not ready; the reason is reported
            problems.append(f"database: {type(exc).__name__}")
        if self.app is not None and not self._slack_reachable():
            problems.append("slack: auth.test failed")
        body = json.dumps({"ready": not problems, "problems": problems})
        return _reply(start, "503 Service Unavailable" if problems else "200 OK", body, "application/json")

    def _slack_reachable(self) -> bool:
        with self._lock:
            checked, ok = self._slack_ok
            if time.monotonic() - checked < 30:
                return ok
        assert self.app is not None
        try:
            ok = bool(self.app.client.auth_test().get("ok"))
        except (SlackApiError, OSError):
            ok = False
        with self._lock:
            self._slack_ok = (time.monotonic(), ok)
        return ok


def make_server(wsgi: SlackHttp, host: str, port: int, threads: int = 32) -> Any:
    """A waitress server (not yet running): `.run()` serves, `.close()` stops; `.effective_port` when port 0."""
    from waitress import create_server

    return create_server(wsgi, host=host, port=port, threads=threads, connection_limit=200, channel_timeout=30)
