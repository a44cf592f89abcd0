"""The Bolt app, built from a backend: the same code serves Socket Mode and HTTP."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack.backend import Backend
from bot.slack.handlers import register


def build_app(backend: Backend, *, token: str, signing_secret: str, client: WebClient | None = None,
              process_before_response: bool = False) -> App:
    # The token goes on the client only: given both, Bolt ignores `token` and then finds none.
    app = App(signing_secret=signing_secret, client=client or WebClient(token=token),
              process_before_response=process_before_response)
    register(app, backend)
    return app
