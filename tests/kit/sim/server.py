"""A threaded HTTP/1.1 (optionally TLS) server on 127.0.0.1 that hands parsed requests to a simulator.

The simulators are plain functions `Request -> Response`; this module owns sockets, keep-alive,
fault injection and the request log, so both simulators behave the same on the wire.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.kit.sim.faults import Fault, FaultInjector
from tests.kit.sim.tls import authority


@dataclass
class Request:
    method: str
    path: str  # percent-decoded path, no query string
    raw_path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass
class Response:
    status: int
    body: Any = None  # dict/list → JSON; bytes/str sent as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int


App = Callable[[Request], Response]
FaultBody = Callable[[int, str], Response]


class SimServer:
    """Serve `app` on a free port. Use as a context manager or call start()/stop()."""

    def __init__(self, app: App, *, fault_body: FaultBody, tls: bool = False, name: str = "sim",
                 log_size: int = 10_000) -> None:
        self.app = app
        self.fault_body = fault_body
        self.tls = tls
        self.name = name
        self.faults = FaultInjector()
        self.requests: deque[RecordedRequest] = deque(maxlen=log_size)
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> SimServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        if self.tls:
            context = authority().server_context()
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{self.name}-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def calls(self, method: str | None = None, path_prefix: str = "") -> list[RecordedRequest]:
        return [r for r in list(self.requests)
                if (method is None or r.method == method) and r.path.startswith(path_prefix)]

    # -- one request
    def serve(self, request: Request) -> Response | None:
        """The response to send, or None to drop the connection."""
        fault = self.faults.take(request.method, request.path)
        if fault is not None:
            outcome = self._apply_fault(fault)
            if outcome is not _SERVE:
                return outcome  # type: ignore[return-value]
        try:
            return self.app(request)
        except Exception as exc:  # a simulator bug must surface as a 500, not a hung client
            return self.fault_body(500, f"simulator error: {type(exc).__name__}: {exc}")

    def _apply_fault(self, fault: Fault) -> Response | object | None:
        if fault.delay:
            self._stopping.wait(fault.delay)
        if fault.hang:
            self._stopping.wait(300)
            return None
        if fault.drop:
            return None
        if fault.status is None:
            return _SERVE
        response = self.fault_body(fault.status, fault.message or _DEFAULT_MESSAGES.get(fault.status, "injected"))
        if fault.retry_after is not None:
            response.headers["Retry-After"] = _seconds(fault.retry_after)
        return response


_SERVE = object()
_DEFAULT_MESSAGES = {
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: injected fault",
    503: "The server is currently unable to handle the request",
}


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _handler_for(sim: SimServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = sim.name
        disable_nagle_algorithm = True  # headers and body go out in separate writes; Nagle would add 40 ms

        def log_message(self, format: str, *args: Any) -> None:
            return  # tests read sim.requests instead of stderr noise

        def _handle(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                method=self.command, path=unquote(split.path), raw_path=split.path,
                query=parse_qs(split.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()}, body=body,
            )
            started = time.perf_counter()
            response = sim.serve(request)
            if response is None:
                self.close_connection = True
                return
            payload = response.payload()
            self.send_response(response.status)
            if payload or response.status not in (204, 304):
                self.send_header("Content-Type", response.content_type)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-Sim-Duration", f"{time.perf_counter() - started:.6f}")
            # Logged before the answer leaves, so a test that got its response can already see the request.
            sim.requests.append(RecordedRequest(request.method, request.path, request.query, request.headers,
                                                request.body, response.status))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle  # noqa: N815 - stdlib dispatch names

    return Handler
