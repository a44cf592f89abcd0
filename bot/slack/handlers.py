"""The Bolt listeners: acknowledge at once, refuse what the policy or the arguments rule out before anything
starts, then run the flow (Bolt runs it on its worker pool after the ack)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.errors import InputError
from bot.slack import blocks, flows, views
from bot.slack.backend import Backend
from bot.slack.commands import parse
from bot.store import chain


def _channel_refused(backend: Backend, channel: str, user: str, what: str) -> str | None:
    verdict = backend.policy.channel_allowed(channel)
    if verdict:
        return None
    with backend.store.write() as conn:
        chain.append(conn, chain.Event(user, "slack.refused", detail={"channel": channel, "what": what,
                                                                        "reason": verdict.reason}), backend.clock)
    return f"Sorry, keda-auth does not work in this channel: {verdict.reason}."


def register(app: App, backend: Backend) -> None:
    @app.command("/keda-auth")
    def command(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        channel, user, text = command["channel_id"], command["user_id"], command.get("text") or ""
        try:
            cmd = parse(text, backend.clusters)
        except InputError as exc:
            ack(**blocks.usage(str(exc)))
            return
        if cmd.verb == "help":
            ack(**blocks.usage())
            return
        refused = _channel_refused(backend, channel, user, f"/keda-auth {cmd.verb}")
        if refused:
            ack(**blocks.notice(refused))
            return
        if cmd.verb == "check":
            ack(**blocks.notice(f"Checking {cmd.cluster or 'the cluster'} ({flows.scope_text(cmd)})…"))
            backend.spawn(flows.run_check, backend, client, channel, user, cmd)
        elif cmd.verb == "fix":
            assert cmd.target is not None
            ack(**blocks.notice(f"Working on {cmd.target}…"))
            if cmd.target.startswith("p") and len(cmd.target) == 21:
                backend.spawn(flows.show_proposal, backend, client, channel, user, cmd.target)
            else:
                backend.spawn(flows.propose_fix, backend, client, channel, user, cmd.target, cmd.cluster, None)
        elif cmd.verb == "audit":
            ack(**views.audit_view(backend, cmd.since))
        elif cmd.verb == "status":
            ack(**views.status_view(backend, client))
        else:
            ack(**blocks.notice("Reading this bot's own permissions…"))
            backend.spawn(flows.whoami, backend, client, channel, user)

    @app.action("propose_fix")
    def propose_fix(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        channel, user = body["channel"]["id"], body["user"]["id"]
        run_id, _, finding = str(body["actions"][0]["value"]).partition("|")
        if _refuse_click(backend, client, channel, user, "propose_fix"):
            return
        backend.spawn(flows.propose_fix, backend, client, channel, user, finding,
                      flows.context_of_run(backend, run_id),
                      body["container"].get("thread_ts") or body["container"]["message_ts"])

    @app.action("approve")
    def approve(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        _on_proposal(backend, client, body, "approve", flows.approve)

    @app.action("approve_with_comment")
    def approve_with_comment(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        _open_modal(backend, client, body, "approve", blocks.approve_modal)

    @app.action("reject")
    def reject(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        _open_modal(backend, client, body, "reject", blocks.reject_modal)

    @app.action("undo")
    def undo(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        _on_proposal(backend, client, body, "undo", flows.undo)

    @app.view("reject_reason")
    def reject_reason(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        proposal_id, _, _channel = str(body["view"]["private_metadata"]).partition("|")
        reason = _input(body, "reason")
        if not reason.strip():
            ack(response_action="errors", errors={"reason": "Say why, for the requester and the audit trail."})
            return
        problem = flows.reject(backend, client, body["user"]["id"], proposal_id, reason)
        if problem:
            ack(response_action="errors", errors={"reason": problem[:150]})
        else:
            ack()

    @app.view("approve_comment")
    def approve_comment(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        proposal_id, _, channel = str(body["view"]["private_metadata"]).partition("|")
        backend.spawn(flows.approve, backend, client, channel, body["user"]["id"], proposal_id,
                      _input(body, "comment"))

    @app.event("app_home_opened")
    def home(ack: Ack, event: dict[str, Any], client: WebClient) -> None:
        ack()
        if event.get("tab", "home") == "home":
            backend.spawn(_publish_home, backend, client, event["user"])


def _on_proposal(backend: Backend, client: WebClient, body: dict[str, Any], what: str,
                 flow: Callable[..., None]) -> None:
    """A button whose value is a proposal id: refused outside the allowed channels, else its flow runs."""
    channel, user = body["channel"]["id"], body["user"]["id"]
    if not _refuse_click(backend, client, channel, user, what):
        backend.spawn(flow, backend, client, channel, user, str(body["actions"][0]["value"]))


def _open_modal(backend: Backend, client: WebClient, body: dict[str, Any], what: str,
                build: Callable[[str], dict[str, Any]]) -> None:
    """The modal carries the proposal id and the channel (for private replies) through to its submission."""
    channel, user = body["channel"]["id"], body["user"]["id"]
    if not _refuse_click(backend, client, channel, user, what):
        view = build(str(body["actions"][0]["value"]))
        view["private_metadata"] = f"{view['private_metadata']}|{channel}"
        backend.spawn(functools.partial(client.views_open, trigger_id=body["trigger_id"], view=view))


def _publish_home(backend: Backend, client: WebClient, user: str) -> None:
    client.views_publish(user_id=user, view=views.home_view(backend, client, user))


def _input(body: dict[str, Any], block: str) -> str:
    values = body["view"]["state"]["values"].get(block) or {}
    return str((values.get(block) or {}).get("value") or "")


def _refuse_click(backend: Backend, client: WebClient, channel: str, user: str, what: str) -> bool:
    refused = _channel_refused(backend, channel, user, what)
    if refused:
        flows.tell(client, channel, user, refused)
    return refused is not None
