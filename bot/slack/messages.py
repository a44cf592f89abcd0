"""Where a proposal's message lives in Slack, and putting its current state there: every replica edits the
same message, because its location is in the database, not in a replica's memory."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import insert, select

from bot.approval.gate import Gate
from bot.slack import blocks
from bot.store.schema import SlackMessage


@dataclass(frozen=True)
class Location:
    channel: str
    ts: str
    thread_ts: str | None


def remember(gate: Gate, proposal_id: str, channel: str, ts: str, thread_ts: str | None) -> None:
    with gate.store.write() as conn:
        conn.execute(insert(SlackMessage).values(proposal_id=proposal_id, channel=channel, ts=ts,
                                                 thread_ts=thread_ts))


def where(gate: Gate, proposal_id: str) -> Location | None:
    with gate.store.read() as conn:
        row = conn.execute(select(SlackMessage).where(SlackMessage.proposal_id == proposal_id)).mappings().first()
    return Location(row["channel"], row["ts"], row["thread_ts"]) if row else None


def post_proposal(gate: Gate, client: WebClient, proposal_id: str, channel: str, thread_ts: str | None) -> Location:
    payload = blocks.proposal(gate.proposal(proposal_id), gate.policy)
    sent = client.chat_postMessage(channel=channel, thread_ts=thread_ts, **payload)
    remember(gate, proposal_id, channel, str(sent["ts"]), thread_ts)
    return Location(channel, str(sent["ts"]), thread_ts)


def refresh(gate: Gate, client: WebClient, proposal_id: str, progress: str | None = None) -> None:
    """Show the proposal's current state in its message (approved by whom, applying step k of n, …)."""
    location = where(gate, proposal_id)
    if location is None:
        return
    payload = blocks.proposal(gate.proposal(proposal_id), gate.policy, progress=progress)
    # A deleted message is no loss: the state is in the database and the thread still gets the details.
    with contextlib.suppress(SlackApiError):
        client.chat_update(channel=location.channel, ts=location.ts, **payload)


def reply(gate: Gate, client: WebClient, proposal_id: str, payload: dict[str, Any]) -> None:
    """Details go to the proposal message's thread."""
    location = where(gate, proposal_id)
    if location is not None:
        client.chat_postMessage(channel=location.channel, thread_ts=location.thread_ts or location.ts, **payload)
