"""keda-auth's Slack app served for real: the Bolt app behind `SlackHttp` on waitress (what `keda-auth serve`
runs), talking to a `FakeSlack`, backed by the live simulators of a scenario and a real database."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from bot.approval.policy import Policy, parse_policy
from bot.slack.app import build_app
from bot.slack.backend import Backend
from bot.slack.metrics import Metrics
from bot.slack.server import SlackHttp, make_server
from bot.store.db import open_store
from tests.kit.scenario import Scenario
from tests.kit.slack import (
    CHANNEL_ID,
    FakeSlack,
    SlackSigner,
    app_home_opened,
    block_actions,
    post,
    slash_command,
    view_submission,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
REQUESTER, APPROVER, STRANGER = "U0AAA0001", "U0BBB0002", "U0CCC0003"
POLICY = f"""
allow: {{channels: [{CHANNEL_ID}], clusters: ["*"], namespaces: ["*"]}}
tiers:
  restart: {{approvers: [{REQUESTER}, {APPROVER}]}}
  patch: {{approvers: [{REQUESTER}, {APPROVER}]}}
  azure-rbac: {{approvers: [{REQUESTER}, {APPROVER}]}}
"""


@dataclass
class Bot:
    url: str
    fake: FakeSlack
    backend: Backend
    signer: SlackSigner

    def send(self, body: bytes, *, timestamp: int | None = None, secret: str | None = None) -> tuple[int, bytes, float]:
        signer = SlackSigner(secret) if secret else self.signer
        return post(f"{self.url}/slack/events", body, signer.headers(body, timestamp))

    def command(self, text: str, user: str = REQUESTER, channel: str = CHANNEL_ID) -> tuple[int, str]:
        status, body, _ = self.send(slash_command(text, user_id=user, channel_id=channel,
                                                  response_url=self.fake.response_url("cmd")))
        return status, body.decode()

    def click(self, action: str, value: str, user: str, message_ts: str, channel: str = CHANNEL_ID) -> int:
        body = block_actions(action, value, user_id=user, channel_id=channel, message_ts=message_ts,
                             response_url=self.fake.response_url("click"),
                             message=self.fake.message(channel, message_ts))
        return self.send(body)[0]

    def submit(self, callback: str, metadata: str, values: dict[str, dict[str, Any]], user: str) -> tuple[int, bytes]:
        status, body, _ = self.send(view_submission(callback, metadata, values, user_id=user))
        return status, body

    def open_home(self, user: str) -> int:
        return self.send(app_home_opened(user))[0]


def buttons(message: dict[str, Any], action: str) -> list[str]:
    """The values of the buttons with this action id, in actions blocks or as section accessories."""
    found = []
    for block in message.get("blocks") or []:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
            if element.get("type") == "button" and element.get("action_id") == action:
                found.append(element["value"])
    return found


def text_of(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks") or []) + (message.get("text") or "")


def wait_until(condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def serve_bot(sc: Scenario, fake: FakeSlack, db_url: str, *, policy: Policy | None = None,
              clock: Callable[[], datetime] | None = None) -> Iterator[Bot]:
    store = open_store(db_url)
    backend = Backend(store, policy or parse_policy(POLICY, "policy.yaml"), sc.live_options(),
                      credential=sc.azure.credential, verify_budget=20, rollout_timeout=60, metrics=Metrics(store),
                      collect_now=sc.now)
    if clock is not None:
        backend.clock = clock
    app = build_app(backend, token=fake.bot_token, signing_secret=SECRET,
                    client=WebClient(token=fake.bot_token, base_url=fake.base_url))
    server = make_server(SlackHttp(app, store, SECRET, backend.metrics), "127.0.0.1", 0, threads=32)
    thread = threading.Thread(target=server.run, name="keda-auth-serve", daemon=True)
    thread.start()
    try:
        yield Bot(f"http://127.0.0.1:{server.effective_port}", fake, backend, SlackSigner(SECRET))
    finally:
        server.close()
        thread.join(10)
        backend.close()
        store.close()
