"""The Bolt app, built from a backend: the same code serves Socket Mode and HTTP."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack.backend import Backend
from bot.slack.handlers import register


def build_app(backend: Backend, *, token: str, signing_secret: str, client: WebClient | None = None) -> App:
    # The token goes on the client only: given both, Bolt ignores `token` and then finds none.
    # process_before_response: the listener runs in the request's own thread and the response leaves when it
    # returns; listeners only ack and hand the work to backend.spawn. Bolt's default instead runs listeners on
    # a pool of five and polls for the ack every 10 ms: five slow flows would leave every later click unacked.
    app = App(signing_secret=signing_secret, client=client or WebClient(token=token),
              process_before_response=True)
    register(app, backend)
    return app
