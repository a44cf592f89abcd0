"""Slack for tests: a fake Web API that records calls, and requests signed exactly as Slack signs them.

`FakeSlack` serves the Web API methods the app uses on `http://127.0.0.1:PORT/api/` (the `base_url` of
`slack_sdk.WebClient`, which must end with `/`) and a response_url sink on `/respond/<name>`. It answers
with Slack's response shapes (`{"ok": true, ...}` / `{"ok": false, "error": ...}` with HTTP 200; 429 with
`Retry-After` when rate limited), keeps the messages it was sent per channel so that `chat.update`,
thread replies and `replace_original` responses act on them, and refuses what Slack refuses (a foreign
token, more than 50 blocks in a message, a section text over 3,000 characters, a text over 40,000, more
than 100 blocks in a view...). Every request is recorded as a `Call`, refused ones included.

    with FakeSlack() as fake:
        client = WebClient(token=fake.bot_token, base_url=fake.base_url)
        client.chat_postMessage(channel=CHANNEL_ID, text="hi")
        fake.wait_for("chat.postMessage")

The client side: `SlackSigner(secret).headers(body)` signs a raw body as Slack does (`v0=` + HMAC-SHA256 of
`v0:{timestamp}:{body}`); `slash_command`, `block_actions`, `view_submission` and `app_home_opened` build the
raw bodies Slack sends; `post` sends them with `http.client`; `serve_wsgi` serves a WSGI app (e.g. Bolt's
`slack_bolt.adapter.wsgi.SlackRequestHandler`) on 127.0.0.1 for the duration of a `with` block.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import http.client
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import WSGIApplication

# -- realistic ids ---------------------------------------------------------------------------------------

BOT_TOKEN = "xoxb-test"
TEAM_ID = "T0TEAM001"
TEAM_DOMAIN = "keda-auth-dev"
TEAM_NAME = "keda-auth dev"
APP_ID = "A0APP0001"
BOT_USER_ID = "U0BOT0001"
BOT_ID = "B0BOT0001"
BOT_NAME = "keda-auth"
USER_ID = "U0AAA0001"
OTHER_USER_ID = "U0BBB0002"
CHANNEL_ID = "C0OPS0001"
CHANNEL_NAME = "ops"
ONCALL_GROUP_ID = "S0ONCALL1"
VERIFICATION_TOKEN = "Zk0VerificationTok3n0001"  # the deprecated `token` field of every payload

# -- limits Slack enforces (Block Kit reference; chat.postMessage; views.open / views.publish) -------------

MAX_TEXT = 40_000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3_000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2_000
MAX_HEADER_TEXT = 150
MAX_BLOCK_ID = 255
MAX_ACTION_ID = 255
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2_000
MAX_PRIVATE_METADATA = 3_000
MAX_CALLBACK_ID = 255

_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")  # JSON-encoded strings in form bodies
_TS_BASE = 1_700_000_000


@dataclass(frozen=True)
class Call:
    """One request the fake received. `method` is the Web API method (`chat.postMessage`) or
    `respond:<name>` for a response_url. `body` holds the arguments as Slack reads them: a JSON body as
    sent, a form body (and the query string) as a dict with its JSON-encoded fields (blocks, attachments,
    view, metadata) decoded. `token` is the bearer token, or the `token` argument."""

    method: str
    token: str | None
    body: dict[str, Any]
    content_type: str = ""
    raw: bytes = b""
    status: int = 200
    response: Any = None


@dataclass
class _Failure:
    error: str
    status: int
    retry_after: int | None
    times: int


@dataclass
class _Origin:
    channel: str | None
    message_ts: str | None
    uses: int = 0


@dataclass
class _Answer:
    status: int
    body: Any  # dict → JSON; str → text/html as Slack's response_url answers
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlack:
    """A fake Slack Web API + response_url sink on 127.0.0.1 (see the module docstring)."""

    def __init__(self, *, bot_token: str = BOT_TOKEN, team_id: str = TEAM_ID, team_domain: str = TEAM_DOMAIN,
                 bot_user_id: str = BOT_USER_ID, bot_id: str = BOT_ID, app_id: str = APP_ID) -> None:
        self.bot_token = bot_token
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.groups: dict[str, list[str]] = {}  # usergroup id → member user ids (usergroups.users.list)
        self.channels: dict[str, dict[str, Any]] = {CHANNEL_ID: {"name": CHANNEL_NAME}}  # conversations.info
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._messages: dict[str, dict[str, dict[str, Any]]] = {}  # channel → ts → message
        self._views: dict[str, dict[str, Any]] = {}  # view id → view
        self._home: dict[str, dict[str, Any]] = {}  # user id → published home view
        self._origins: dict[str, _Origin] = {}  # response_url name → where it came from
        self._ts = itertools.count(1)
        self._view_ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-slack", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "FakeSlack is not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The `base_url` for `slack_sdk.WebClient` (ends with `/`)."""
        return f"{self.url}/api/"

    def response_url(self, name: str, *, channel: str | None = None, message_ts: str | None = None) -> str:
        """A response_url recorded as `respond:<name>`. With `channel` (and `message_ts` for a message's
        button), `replace_original` / `delete_original` / `response_type: in_channel` act on the store."""
        with self._lock:
            self._origins[name] = _Origin(channel, message_ts)
        return f"{self.url}/respond/{name}"

    # -- configuration ---------------------------------------------------------------------------------------

    def fail_next(self, method: str, error: str = "ratelimited", status: int = 429, retry_after: int | None = 1,
                  *, times: int = 1) -> None:
        """Answer the next `times` calls of `method` (or `respond:<name>`) with `error`; a 429 carries
        `Retry-After: retry_after`. The calls are recorded; nothing else happens."""
        with self._lock:
            self._failures.setdefault(method, []).append(_Failure(error, status, retry_after, times))

    # -- inspection ------------------------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def clear(self) -> None:
        """Forget the recorded calls (the message store and configuration stay)."""
        with self._lock:
            self._calls.clear()

    def wait_for(self, method: str, predicate: Callable[[Call], bool] | None = None,
                 timeout: float = 10.0) -> Call:
        """The first recorded call of `method` matching `predicate`, polling until `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            for call in self.calls(method):
                if predicate is None or predicate(call):
                    return call
            if time.monotonic() >= deadline:
                seen = "\n".join(f"  {c.method} {_brief(c.body)}" for c in self.calls()) or "  (nothing)"
                raise AssertionError(f"no {method} call{' matching the predicate' if predicate else ''} "
                                     f"within {timeout}s; the fake saw:\n{seen}")
            time.sleep(0.01)

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """The current message (text, blocks, thread fields...) at `ts` in `channel`."""
        with self._lock:
            found = self._messages.get(channel, {}).get(ts)
            if found is None:
                known = sorted(self._messages.get(channel, {}))
                raise KeyError(f"no message {ts} in {channel}; it has {known}")
            return copy.deepcopy(found)

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """The channel's top-level messages, oldest first."""
        with self._lock:
            stored = self._messages.get(channel, {})
            return [copy.deepcopy(m) for ts, m in sorted(stored.items(), key=lambda kv: _ts_key(kv[0]))
                    if m.get("thread_ts", ts) == ts]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The replies posted with `thread_ts=ts` in `channel`, oldest first (the parent excluded)."""
        with self._lock:
            stored = self._messages.get(channel, {})
            return [copy.deepcopy(m) for mts, m in sorted(stored.items(), key=lambda kv: _ts_key(kv[0]))
                    if m.get("thread_ts") == ts and mts != ts]

    def view(self, view_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._views[view_id])

    def home(self, user_id: str) -> dict[str, Any] | None:
        """The home tab last published for `user_id`."""
        with self._lock:
            found = self._home.get(user_id)
            return copy.deepcopy(found) if found is not None else None

    # -- the server side -------------------------------------------------------------------------------------

    def _handle(self, http_method: str, raw_path: str, headers: Mapping[str, str], raw: bytes) -> _Answer:
        split = urlsplit(raw_path)
        path = unquote(split.path)
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if path.startswith("/respond/") and http_method == "POST":
            return self._respond(path[len("/respond/"):], content_type, raw)
        if not path.startswith("/api/") or len(path) <= len("/api/"):
            return _Answer(404, "not_found")
        method = path[len("/api/"):]
        args, parse_error = _parse_args(content_type, raw, split.query)
        token = _bearer(headers.get("authorization")) or _str_or_none(args.get("token"))
        with self._lock:
            failure = self._take_failure(method)
            if failure is not None:
                answer = _Answer(failure.status, {"ok": False, "error": failure.error})
                if failure.status == 429 and failure.retry_after is not None:
                    answer.headers["Retry-After"] = str(failure.retry_after)
            elif parse_error is not None:
                answer = _Answer(200, {"ok": False, "error": parse_error})
            elif method == "api.test":
                answer = _Answer(200, {"ok": True, "args": {k: v for k, v in args.items() if k != "token"}})
            elif token is None:
                answer = _Answer(200, {"ok": False, "error": "not_authed"})
            elif token != self.bot_token:
                answer = _Answer(200, {"ok": False, "error": "invalid_auth"})
            else:
                handler = _METHODS.get(method)
                if handler is None:
                    answer = _Answer(200, {"ok": False, "error": "unknown_method", "req_method": method})
                else:
                    answer = _Answer(200, handler(self, args))
            self._calls.append(Call(method, token, args, content_type, raw, answer.status, answer.body))
        return answer

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def _respond(self, name: str, content_type: str, raw: bytes) -> _Answer:
        """A response_url: modelled on Slack's webhook answers (200 `ok`, or 4xx with a plain-text error)."""
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
        with self._lock:
            failure = self._take_failure(f"respond:{name}")
            args = body if isinstance(body, dict) else {}
            if failure is not None:
                answer = _Answer(failure.status, failure.error)
            elif not isinstance(body, dict):
                answer = _Answer(400, "invalid_payload")
            else:
                answer = self._apply_response(name, body)
            self._calls.append(Call(f"respond:{name}", None, args, content_type, raw, answer.status, answer.body))
        return answer

    def _apply_response(self, name: str, body: dict[str, Any]) -> _Answer:
        origin = self._origins.get(name)
        if body.get("delete_original") in (True, "true"):
            if origin is not None and origin.channel and origin.message_ts:
                self._messages.get(origin.channel, {}).pop(origin.message_ts, None)
            return _Answer(200, "ok")
        if not _has_content(body):
            return _Answer(400, "no_text")
        if len(str(body.get("text") or "")) > MAX_TEXT:
            return _Answer(400, "msg_too_long")
        if "blocks" in body and _block_errors(body["blocks"], "/blocks", MAX_MESSAGE_BLOCKS):
            return _Answer(400, "invalid_blocks")
        if origin is not None and origin.channel:
            if body.get("replace_original") in (True, "true") and origin.message_ts:
                stored = self._messages.get(origin.channel, {}).get(origin.message_ts)
                if stored is not None:
                    _edit(stored, body, self.bot_user_id)
            elif body.get("response_type") == "in_channel":
                self._store(origin.channel, body)
        return _Answer(200, "ok")

    # -- the store -------------------------------------------------------------------------------------------

    def _next_ts(self) -> str:
        n = next(self._ts)
        return f"{_TS_BASE + n // 10_000}.{(n % 10_000) * 100:06d}"

    def _store(self, channel: str, args: Mapping[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        message: dict[str, Any] = {"user": self.bot_user_id, "type": "message", "ts": ts, "bot_id": self.bot_id,
                                   "app_id": self.app_id, "text": str(args.get("text") or ""), "team": self.team_id,
                                   "bot_profile": {"id": self.bot_id, "app_id": self.app_id, "name": BOT_NAME,
                                                   "deleted": False, "team_id": self.team_id}}
        if args.get("blocks"):
            message["blocks"] = _with_block_ids(args["blocks"])
        if args.get("attachments"):
            message["attachments"] = copy.deepcopy(args["attachments"])
        if args.get("metadata"):
            message["metadata"] = copy.deepcopy(args["metadata"])
        thread_ts = _str_or_none(args.get("thread_ts"))
        channel_messages = self._messages.setdefault(channel, {})
        if thread_ts:
            message["thread_ts"] = thread_ts
            message["parent_user_id"] = self.bot_user_id
            parent = channel_messages.get(thread_ts)
            if parent is not None:
                parent["thread_ts"] = thread_ts
                parent["reply_count"] = int(parent.get("reply_count", 0)) + 1
                parent["latest_reply"] = ts
                users = parent.setdefault("reply_users", [])
                if self.bot_user_id not in users:
                    users.append(self.bot_user_id)
                parent["reply_users_count"] = len(users)
        channel_messages[ts] = message
        return message

    def _permalink(self, channel: str, ts: str, thread_ts: str | None) -> str:
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel}"
        return link

    def _view_echo(self, view: Mapping[str, Any], *, view_id: str | None = None) -> dict[str, Any]:
        vid = view_id or f"V0VIEW{next(self._view_ids):03d}"
        echo: dict[str, Any] = {
            "id": vid, "team_id": self.team_id, "type": view.get("type"),
            "blocks": _with_block_ids(view.get("blocks") or []),
            "private_metadata": view.get("private_metadata", ""), "callback_id": view.get("callback_id", ""),
            "state": {"values": {}}, "hash": f"{_TS_BASE}.{vid}", "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)), "close": view.get("close"),
            "submit": view.get("submit"), "previous_view_id": None, "root_view_id": vid, "app_id": self.app_id,
            "external_id": view.get("external_id", ""), "app_installed_team_id": self.team_id, "bot_id": self.bot_id,
        }
        self._views[vid] = echo
        return echo

    # -- Web API methods (called with the lock held) ---------------------------------------------------------

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"https://{self.team_domain}.slack.com/", "team": TEAM_NAME, "user": BOT_NAME,
                "team_id": self.team_id, "user_id": self.bot_user_id, "bot_id": self.bot_id,
                "is_enterprise_install": False}

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = _str_or_none(args.get("channel"))
        if not channel:
            return _error("channel_not_found")
        refused = _message_refusal(args, require_content=True)
        if refused is not None:
            return refused
        message = self._store(channel, args)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": _public(message)}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = _str_or_none(args.get("channel")), _str_or_none(args.get("ts"))
        if not channel:
            return _error("channel_not_found")
        refused = _message_refusal(args, require_content=True)
        if refused is not None:
            return refused
        stored = self._messages.get(channel, {}).get(ts or "")
        if stored is None or ts is None:
            return _error("message_not_found")
        _edit(stored, args, self.bot_user_id)
        return {"ok": True, "channel": channel, "ts": ts, "text": stored.get("text", ""), "message": _public(stored)}

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = _str_or_none(args.get("channel")), _str_or_none(args.get("ts"))
        if not channel:
            return _error("channel_not_found")
        if ts is None or self._messages.get(channel, {}).pop(ts, None) is None:
            return _error("message_not_found")
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = _str_or_none(args.get("channel"))
        if not channel:
            return _error("channel_not_found")
        if not _str_or_none(args.get("user")):
            return _error("user_not_in_channel")
        refused = _message_refusal(args, require_content=True)
        if refused is not None:
            return refused
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = _str_or_none(args.get("channel")), _str_or_none(args.get("message_ts"))
        if not channel:
            return _error("channel_not_found")
        stored = self._messages.get(channel, {}).get(ts or "")
        if stored is None or ts is None:
            return _error("message_not_found")
        return {"ok": True, "channel": channel, "permalink": self._permalink(channel, ts, stored.get("thread_ts"))}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not (_str_or_none(args.get("trigger_id")) or _str_or_none(args.get("interactivity_pointer"))):
            return _invalid_arguments(["missing required field: trigger_id"])
        refused = _view_refusal(args.get("view"), "modal")
        if refused is not None:
            return refused
        return {"ok": True, "view": self._view_echo(args["view"])}

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._views_open(args)

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = _str_or_none(args.get("view_id"))
        if view_id is None:
            external = _str_or_none(args.get("external_id"))
            view_id = next((v for v, view in self._views.items() if external and view.get("external_id") == external),
                           None)
        if view_id is None or view_id not in self._views:
            return _error("not_found")
        refused = _view_refusal(args.get("view"), None)
        if refused is not None:
            return refused
        return {"ok": True, "view": self._view_echo(args["view"], view_id=view_id)}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = _str_or_none(args.get("user_id"))
        if not user_id:
            return _invalid_arguments(["missing required field: user_id"])
        refused = _view_refusal(args.get("view"), "home")
        if refused is not None:
            return refused
        echo = self._view_echo(args["view"])
        self._home[user_id] = echo
        return {"ok": True, "view": echo}

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = _str_or_none(args.get("usergroup"))
        if not group:
            return _invalid_arguments(["missing required field: usergroup"])
        if group not in self.groups:
            return _error("no_such_subteam")
        return {"ok": True, "users": list(self.groups[group])}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = _str_or_none(args.get("channel"))
        if not channel:
            return _error("channel_not_found")
        return {"ok": True, "channel": _channel_object(channel, self.channels.get(channel, {}), self.team_id)}


_METHODS: dict[str, Callable[[FakeSlack, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": FakeSlack._auth_test,
    "chat.postMessage": FakeSlack._chat_post_message,
    "chat.update": FakeSlack._chat_update,
    "chat.delete": FakeSlack._chat_delete,
    "chat.postEphemeral": FakeSlack._chat_post_ephemeral,
    "chat.getPermalink": FakeSlack._chat_get_permalink,
    "views.open": FakeSlack._views_open,
    "views.push": FakeSlack._views_push,
    "views.update": FakeSlack._views_update,
    "views.publish": FakeSlack._views_publish,
    "usergroups.users.list": FakeSlack._usergroups_users_list,
    "conversations.info": FakeSlack._conversations_info,
}


def _handler_for(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "FakeSlack/1.0"
        timeout = 30

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = fake._handle(self.command, self.path, headers, raw)
            if isinstance(answer.body, dict):
                payload = json.dumps(answer.body).encode()
                content_type = "application/json; charset=utf-8"
            else:
                payload = str(answer.body).encode()
                content_type = "text/html"
            self.send_response(answer.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_POST = _serve  # noqa: N815 - http.server's naming
        do_GET = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# -- request parsing and validation --------------------------------------------------------------------------

def _parse_args(content_type: str, raw: bytes, query: str) -> tuple[dict[str, Any], str | None]:
    """The call's arguments (query string, then the body) and the error Slack gives for an unreadable body."""
    args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if not raw:
        return args, None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return args, "invalid_form_data"
    if content_type == "application/json":
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            return args, "invalid_json"
        if not isinstance(body, dict):
            return args, "invalid_json"
        args.update(body)
        return args, None
    if content_type in ("application/x-www-form-urlencoded", ""):
        form: dict[str, Any] = dict(parse_qsl(text, keep_blank_values=True))
        for name in _JSON_FIELDS:
            value = form.get(name)
            if isinstance(value, str) and value.strip():
                try:
                    form[name] = json.loads(value)
                except json.JSONDecodeError:
                    return args | form, "invalid_blocks_format" if name == "blocks" else "invalid_arguments"
        args.update(form)
        return args, None
    return args, "invalid_form_data"


def _message_refusal(args: Mapping[str, Any], *, require_content: bool) -> dict[str, Any] | None:
    if require_content and not _has_content(args):
        return _error("no_text")
    if len(str(args.get("text") or "")) > MAX_TEXT:
        return _error("msg_too_long")
    if "blocks" in args:
        errors = _block_errors(args["blocks"], "/blocks", MAX_MESSAGE_BLOCKS)
        if errors:
            return {"ok": False, "error": "invalid_blocks", "errors": errors,
                    "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]}}
    return None


def _view_refusal(view: Any, kind: str | None) -> dict[str, Any] | None:
    if not isinstance(view, dict):
        return _invalid_arguments(["missing required field: view" if view is None else
                                   "must be an object [json-pointer:/view]"])
    errors: list[str] = []
    if view.get("type") not in ("modal", "home") or (kind is not None and view.get("type") != kind):
        errors.append(f"must be '{kind or 'modal'}' [json-pointer:/view/type]")
    if view.get("type") == "modal" and not isinstance(view.get("title"), dict):
        errors.append("missing required field: title [json-pointer:/view]")
    if len(str(view.get("private_metadata") or "")) > MAX_PRIVATE_METADATA:
        errors.append(f"must be less than {MAX_PRIVATE_METADATA + 1} characters [json-pointer:/view/private_metadata]")
    if len(str(view.get("callback_id") or "")) > MAX_CALLBACK_ID:
        errors.append(f"must be less than {MAX_CALLBACK_ID + 1} characters [json-pointer:/view/callback_id]")
    errors += _block_errors(view.get("blocks", []), "/view/blocks", MAX_VIEW_BLOCKS)
    return _invalid_arguments(errors) if errors else None


def _block_errors(blocks: Any, pointer: str, limit: int) -> list[str]:
    """Slack's refusals of a blocks array, worded as Slack words them (`... [json-pointer:/blocks/0/...]`)."""
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    if len(blocks) > limit:
        return [f"no more than {limit} items allowed [json-pointer:{pointer}]"]
    errors: list[str] = []
    seen_ids: set[str] = set()
    for i, block in enumerate(blocks):
        at = f"{pointer}/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"missing required field: type [json-pointer:{at}]")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if len(block_id) > MAX_BLOCK_ID:
                errors.append(f"must be less than {MAX_BLOCK_ID + 1} characters [json-pointer:{at}/block_id]")
            if block_id in seen_ids:
                errors.append(f"duplicate block_id [json-pointer:{at}/block_id]")
            seen_ids.add(block_id)
        kind = block["type"]
        if kind == "section":
            text, fields = block.get("text"), block.get("fields")
            if text is None and not fields:
                errors.append(f"must provide either text or fields [json-pointer:{at}]")
            if text is not None:
                errors += _text_errors(text, f"{at}/text", MAX_SECTION_TEXT)
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > MAX_SECTION_FIELDS:
                    errors.append(f"no more than {MAX_SECTION_FIELDS} items allowed [json-pointer:{at}/fields]")
                else:
                    for j, item in enumerate(fields):
                        errors += _text_errors(item, f"{at}/fields/{j}", MAX_FIELD_TEXT)
            if isinstance(block.get("accessory"), dict):
                errors += _element_errors(block["accessory"], f"{at}/accessory")
        elif kind == "header":
            errors += _text_errors(block.get("text"), f"{at}/text", MAX_HEADER_TEXT, plain_only=True)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                errors.append(f"missing required field: elements [json-pointer:{at}]")
            elif len(elements) > MAX_ACTIONS_ELEMENTS:
                errors.append(f"no more than {MAX_ACTIONS_ELEMENTS} items allowed [json-pointer:{at}/elements]")
            else:
                for j, element in enumerate(elements):
                    errors += _element_errors(element, f"{at}/elements/{j}")
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                errors.append(f"missing required field: elements [json-pointer:{at}]")
            elif len(elements) > MAX_CONTEXT_ELEMENTS:
                errors.append(f"no more than {MAX_CONTEXT_ELEMENTS} items allowed [json-pointer:{at}/elements]")
    return errors


def _text_errors(text: Any, at: str, limit: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(text, dict) or not isinstance(text.get("text"), str):
        return [f"must be a text object [json-pointer:{at}]"]
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    errors = [] if text.get("type") in allowed else [f"must be one of {list(allowed)} [json-pointer:{at}/type]"]
    if len(text["text"]) > limit:
        errors.append(f"must be less than {limit + 1} characters [json-pointer:{at}/text]")
    return errors


def _element_errors(element: Any, at: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"must be an object [json-pointer:{at}]"]
    errors: list[str] = []
    if len(str(element.get("action_id") or "")) > MAX_ACTION_ID:
        errors.append(f"must be less than {MAX_ACTION_ID + 1} characters [json-pointer:{at}/action_id]")
    if element.get("type") == "button":
        errors += _text_errors(element.get("text"), f"{at}/text", MAX_BUTTON_TEXT, plain_only=True)
        if len(str(element.get("value") or "")) > MAX_BUTTON_VALUE:
            errors.append(f"must be less than {MAX_BUTTON_VALUE + 1} characters [json-pointer:{at}/value]")
    return errors


def _has_content(args: Mapping[str, Any]) -> bool:
    return bool(args.get("text")) or bool(args.get("blocks")) or bool(args.get("attachments"))


def _edit(stored: dict[str, Any], args: Mapping[str, Any], editor: str) -> None:
    """chat.update / replace_original: text replaced when given; blocks and attachments replaced when given
    (an empty list removes them), else kept."""
    if "text" in args:
        stored["text"] = str(args.get("text") or "")
    for name in ("blocks", "attachments"):
        if name in args:
            if args[name]:
                stored[name] = _with_block_ids(args[name]) if name == "blocks" else copy.deepcopy(args[name])
            else:
                stored.pop(name, None)
    stored["edited"] = {"user": editor, "ts": f"{time.time():.6f}"}


def _with_block_ids(blocks: Sequence[Any]) -> list[Any]:
    """Blocks as Slack stores them: every block gets a block_id (Slack makes one up when none is given)."""
    out = copy.deepcopy(list(blocks))
    for i, block in enumerate(out):
        if isinstance(block, dict) and "block_id" not in block:
            digest = hashlib.sha1(json.dumps(block, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
            block["block_id"] = f"{digest[:4]}{i}"
    return out


def _public(message: Mapping[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(dict(message))


def _channel_object(channel: str, overrides: Mapping[str, Any], team_id: str) -> dict[str, Any]:
    name = str(overrides.get("name") or channel.lower())
    is_im = channel.startswith("D")
    obj: dict[str, Any] = {
        "id": channel, "name": name, "is_channel": not is_im and not channel.startswith("G"),
        "is_group": channel.startswith("G"), "is_im": is_im, "is_mpim": False,
        "is_private": channel.startswith("G"), "created": _TS_BASE - 86_400, "is_archived": False,
        "is_general": False, "unlinked": 0, "name_normalized": name, "is_shared": False, "is_org_shared": False,
        "is_pending_ext_shared": False, "pending_shared": [], "context_team_id": team_id,
        "updated": _TS_BASE * 1000, "parent_conversation": None, "creator": USER_ID, "is_ext_shared": False,
        "shared_team_ids": [team_id], "pending_connected_team_ids": [], "is_member": True,
        "topic": {"value": "", "creator": "", "last_set": 0}, "purpose": {"value": "", "creator": "", "last_set": 0},
        "previous_names": [],
    }
    obj.update(copy.deepcopy(dict(overrides)))
    return obj


def _error(error: str) -> dict[str, Any]:
    return {"ok": False, "error": error}


def _invalid_arguments(errors: list[str]) -> dict[str, Any]:
    return {"ok": False, "error": "invalid_arguments",
            "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]}}


def _bearer(value: str | None) -> str | None:
    if value and value.lower().startswith("bearer "):
        return value[7:].strip() or None
    return None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


def _brief(body: Mapping[str, Any], limit: int = 160) -> str:
    text = json.dumps(body, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- the client side: signing and payloads -------------------------------------------------------------------

class SlackSigner:
    """Signs request bodies as Slack does (https://docs.slack.dev/authentication/verifying-requests-from-slack/)."""

    def __init__(self, signing_secret: str) -> None:
        self.signing_secret = signing_secret

    def signature(self, body: bytes, timestamp: int) -> str:
        base = b"v0:" + str(timestamp).encode() + b":" + body
        return "v0=" + hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()

    def headers(self, body: bytes, timestamp: int | None = None, *, content_type: str | None = None) -> dict[str, str]:
        """The headers Slack sends with `body`: the timestamp (now by default), the signature, the content
        type (JSON for a body starting with `{`, else form-encoded) and Slack's User-Agent."""
        ts = int(time.time()) if timestamp is None else timestamp
        if content_type is None:
            content_type = "application/json" if body.lstrip().startswith(b"{") else "application/x-www-form-urlencoded"
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": self.signature(body, ts),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }


_trigger_seq = itertools.count(1)


def new_trigger_id() -> str:
    """A fresh trigger_id shaped like Slack's (`<digits>.<digits>.<hex>`)."""
    n = next(_trigger_seq)
    return f"{_TS_BASE}{n:04d}.{700_000_000_000 + n}.{hashlib.md5(str(n).encode(), usedforsecurity=False).hexdigest()}"


def _action_ts() -> str:
    return f"{time.time():.6f}"


def slash_command(text: str, *, user_id: str = USER_ID, channel_id: str = CHANNEL_ID, command: str = "/keda-auth",
                  team_id: str = TEAM_ID, response_url: str, trigger_id: str | None = None,
                  user_name: str = "alice", channel_name: str = CHANNEL_NAME, team_domain: str = TEAM_DOMAIN,
                  api_app_id: str = APP_ID) -> bytes:
    """A slash command's body: form-encoded, fields in Slack's order."""
    fields = [
        ("token", VERIFICATION_TOKEN), ("team_id", team_id), ("team_domain", team_domain),
        ("channel_id", channel_id), ("channel_name", channel_name), ("user_id", user_id), ("user_name", user_name),
        ("command", command), ("text", text), ("api_app_id", api_app_id), ("is_enterprise_install", "false"),
        ("response_url", response_url), ("trigger_id", trigger_id or new_trigger_id()),
    ]
    return urlencode(fields).encode()


def _interactive(payload: Mapping[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def _user(user_id: str, team_id: str) -> dict[str, Any]:
    name = f"user-{user_id.lower()}"
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def block_actions_payload(action_id: str, value: str, *, user_id: str = USER_ID, channel_id: str = CHANNEL_ID,
                          message_ts: str, response_url: str, block_id: str = "b",
                          message: Mapping[str, Any] | None = None, team_id: str = TEAM_ID,
                          button_text: str = "x", trigger_id: str | None = None) -> dict[str, Any]:
    """A button click on a message (`type: block_actions`), as a dict; `block_actions` encodes it."""
    shown: dict[str, Any] = dict(copy.deepcopy(message)) if message is not None else {
        "type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "app_id": APP_ID, "text": "x", "blocks": []}
    shown.setdefault("type", "message")
    shown.setdefault("text", "")
    shown.setdefault("blocks", [])
    shown["ts"] = message_ts
    return {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id, "is_ephemeral": False},
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": CHANNEL_NAME if channel_id == CHANNEL_ID else channel_id.lower()},
        "message": shown,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{"type": "button", "action_id": action_id, "block_id": block_id, "value": value,
                     "action_ts": _action_ts(), "text": {"type": "plain_text", "text": button_text, "emoji": True}}],
    }


def block_actions(action_id: str, value: str, *, user_id: str = USER_ID, channel_id: str = CHANNEL_ID,
                  message_ts: str, response_url: str, block_id: str = "b", message: Mapping[str, Any] | None = None,
                  team_id: str = TEAM_ID, button_text: str = "x", trigger_id: str | None = None) -> bytes:
    """A button click's body: `payload=<urlencoded JSON>`."""
    return _interactive(block_actions_payload(action_id, value, user_id=user_id, channel_id=channel_id,
                                              message_ts=message_ts, response_url=response_url, block_id=block_id,
                                              message=message, team_id=team_id, button_text=button_text,
                                              trigger_id=trigger_id))


def view_submission(callback_id: str, private_metadata: str, values: Mapping[str, Mapping[str, Any]], *,
                    user_id: str = USER_ID, team_id: str = TEAM_ID, view_id: str = "V0VIEW900",
                    blocks: Sequence[Mapping[str, Any]] = ()) -> bytes:
    """A modal's submission. `values` is `{block_id: {action_id: value}}`; a str value becomes a
    `plain_text_input` state, a dict is used as the element's state as is."""
    state = {block: {action: ({"type": "plain_text_input", "value": v} if isinstance(v, str) else dict(v))
                     for action, v in actions.items()}
             for block, actions in values.items()}
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": new_trigger_id(),
        "view": {
            "id": view_id, "team_id": team_id, "type": "modal", "blocks": [dict(b) for b in blocks],
            "private_metadata": private_metadata, "callback_id": callback_id, "state": {"values": state},
            "hash": f"{_TS_BASE}.{view_id}", "title": {"type": "plain_text", "text": "keda-auth", "emoji": True},
            "clear_on_close": False, "notify_on_close": False, "close": None,
            "submit": {"type": "plain_text", "text": "Submit", "emoji": True}, "previous_view_id": None,
            "root_view_id": view_id, "app_id": APP_ID, "external_id": "", "app_installed_team_id": team_id,
            "bot_id": BOT_ID,
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return _interactive(payload)


_event_seq = itertools.count(1)


def app_home_opened(user_id: str = USER_ID, *, team_id: str = TEAM_ID, tab: str = "home") -> bytes:
    """An Events API `event_callback` for `app_home_opened` (a JSON body)."""
    n = next(_event_seq)
    now = int(time.time())
    body = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": {"type": "app_home_opened", "user": user_id, "channel": f"D0HOME{n:03d}", "tab": tab,
                  "event_ts": f"{now}.{n:06d}"},
        "type": "event_callback",
        "event_id": f"Ev0HOME{n:05d}",
        "event_time": now,
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": BOT_USER_ID, "is_bot": True,
                            "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }
    return json.dumps(body).encode()


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float = 10.0) -> tuple[int, bytes, float]:
    """POST `body` to `url` with `http.client`; returns (status, response body, seconds)."""
    split = urlsplit(url)
    assert split.scheme == "http" and split.hostname, f"not a plain http URL: {url}"
    conn = http.client.HTTPConnection(split.hostname, split.port or 80, timeout=timeout)
    started = time.monotonic()
    try:
        target = split.path or "/"
        if split.query:
            target += f"?{split.query}"
        conn.request("POST", target, body=body, headers=dict(headers))
        response = conn.getresponse()
        data = response.read()
        return response.status, data, time.monotonic() - started
    finally:
        conn.close()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_wsgi(app: WSGIApplication) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1 (a free port) in a thread; yields its base URL (`http://127.0.0.1:PORT`).
    wsgiref serves one request at a time; the server is shut down and its socket closed on exit."""
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="wsgi-app",
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
