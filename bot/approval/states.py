"""The proposal state machine. Every transition is one conditional UPDATE (`WHERE state IN (…)`, plus the
expiry for approve and apply), so of two clicks or two replicas exactly one changes the row; the other sees
zero rows and reports what happened instead.

    proposed ──► approved ──► applying ──► applied ──► verified
       │  │          │            │           │           │
       │  └► expired ◄┘            └► failed ◄─┘           │
       └──► rejected                                       │
    applied / verified / failed ──(an approved undo)──► undone
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, update

from bot.store.schema import Proposal


class State(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    APPLYING = "applying"
    APPLIED = "applied"
    VERIFIED = "verified"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"
    UNDONE = "undone"


FINAL = frozenset({State.REJECTED, State.EXPIRED, State.UNDONE})
WAITING = frozenset({State.PROPOSED, State.APPROVED})  # may still expire
UNDOABLE = frozenset({State.APPLIED, State.VERIFIED, State.FAILED})

ALLOWED: dict[State, frozenset[State]] = {
    State.PROPOSED: frozenset({State.APPROVED, State.REJECTED, State.EXPIRED}),
    State.APPROVED: frozenset({State.APPLYING, State.EXPIRED, State.REJECTED}),
    State.APPLYING: frozenset({State.APPLIED, State.FAILED}),
    State.APPLIED: frozenset({State.VERIFIED, State.FAILED, State.UNDONE}),
    State.VERIFIED: frozenset({State.UNDONE}),
    State.FAILED: frozenset({State.UNDONE}),
}


def transition(conn: Connection, proposal_id: str, to: State, at: datetime, *, frm: Iterable[State],
               unexpired_at: datetime | None = None, message: str = "", **values: Any) -> bool:
    """Move the proposal to `to` if it is in one of `frm` (and, when `unexpired_at` is given, not expired
    by then). True when this call made the change."""
    sources = [s.value for s in frm]
    for source in sources:
        if to not in ALLOWED.get(State(source), frozenset()):
            raise ValueError(f"no transition {source} → {to}")
    statement = (update(Proposal).where(Proposal.id == proposal_id, Proposal.state.in_(sources))
                 .values(state=to.value, state_changed_at=at, message=message, **values))
    if unexpired_at is not None:
        statement = statement.where(Proposal.expires_at > unexpired_at)
    return conn.execute(statement).rowcount == 1
