"""The approval gate's shared parts: who is asking and from where, the store and policy every operation
checks against, and the read model of a proposal that the CLI and Slack render."""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from bot.approval.policy import Policy
from bot.approval.states import State
from bot.errors import InputError, Refused
from bot.store import chain
from bot.store.clock import Clock, utcnow
from bot.store.db import Store
from bot.store.schema import Decision, Proposal, Setting

KILL_SWITCH = "kill_switch"


@dataclass(frozen=True)
class Origin:
    """Where a request came from: a Slack channel (and thread), or a terminal."""

    via: str  # "slack" or "cli"
    channel: str | None = None
    thread: str | None = None
    user: str | None = None
    host: str | None = None
    context: str | None = None  # the cluster (kubeconfig context) it was asked about, when not the default

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None}

    def __str__(self) -> str:
        if self.via == "slack":
            return f"Slack <#{self.channel}>" + (f" thread {self.thread}" if self.thread else "")
        return f"the command line ({self.user}@{self.host})"


def cli_actor() -> tuple[str, Origin]:
    """The person at this terminal, as the policy names them (`cli:<os user>`)."""
    user = getpass.getuser()
    return f"cli:{user}", Origin("cli", user=user, host=socket.gethostname())


@dataclass
class Gate:
    store: Store
    policy: Policy
    clock: Clock = utcnow
    groups_of: Callable[[str], frozenset[str]] | None = field(default=None)  # Slack user group → user ids

    def audit(self, conn: Connection, event: chain.Event) -> int:
        return chain.append(conn, event, self.clock)

    def refuse(self, event: chain.Event, message: str) -> Refused:
        """Record a refusal in its own transaction (it must survive the caller's rollback), then return the
        exception to raise."""
        with self.store.write() as conn:
            self.audit(conn, chain.Event(event.actor, event.action, event.proposal_id, event.check_run_id,
                                         event.cluster, event.findings, event.state, event.break_glass,
                                         {**event.detail, "reason": message}))
        return Refused(message)

    def kill_switch(self) -> tuple[bool, str]:
        """On if the policy file or the run-time switch says so; the reason says which and why."""
        if self.policy.kill_switch:
            return True, f"the kill switch is on in {self.policy.source}"
        with self.store.read() as conn:
            row = conn.execute(select(Setting).where(Setting.key == KILL_SWITCH)).mappings().one_or_none()
        if row and row["value"].get("on"):
            return True, (f"the kill switch was turned on by {row['updated_by']} at {row['updated_at']:%Y-%m-%d %H:%M} "
                          f"UTC: {row['value'].get('reason') or 'no reason given'}")
        return False, "the kill switch is off"

    def proposal_state(self, conn: Connection, proposal_id: str) -> State:
        return State(conn.execute(select(Proposal.state).where(Proposal.id == proposal_id)).scalar_one())

    def proposal(self, proposal_id: str) -> ProposalView:
        with self.store.read() as conn:
            return load(conn, proposal_id)


@dataclass(frozen=True)
class ProposalView:
    id: str
    kind: str
    undoes: str | None
    state: State
    message: str
    risk: str
    cluster: str | None
    namespaces: tuple[str, ...]
    findings: tuple[str, ...]
    requester: str
    origin: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    state_changed_at: datetime
    approvals: int
    required: int
    approvers: tuple[str, ...]
    rejected_by: tuple[tuple[str, str], ...]  # (actor, reason)
    plan_hash: str
    payload: dict[str, Any]
    break_glass: bool
    break_glass_reason: str | None

    def commands(self) -> list[tuple[str, str]]:
        """(title, exact command) in the order they run; an undo shows the undo commands of what the apply
        changed, last change first."""
        if self.kind == "undo":
            changed = {r.get("key") for r in self.payload.get("steps") or () if r.get("status") in ("applied",
                                                                                                   "started")}
            planned = (self.payload.get("plan") or {}).get("steps") or []
            return [(f"undo: {s.get('title', '')}", str(s.get("undo_command", ""))) for s in reversed(planned)
                    if s.get("key") in changed]
        return [(str(s.get("title", "")), str(s.get("command", ""))) for s in self.payload.get("steps") or ()]

    def expired(self, now: datetime) -> bool:
        return self.state in (State.PROPOSED, State.APPROVED) and now >= self.expires_at


def load(conn: Connection, proposal_id: str) -> ProposalView:
    row = conn.execute(select(Proposal).where(Proposal.id == proposal_id)).mappings().one_or_none()
    if row is None:
        raise InputError(f"no proposal {proposal_id!r}: `keda-auth audit list` shows the recent ones")
    decisions = conn.execute(select(Decision.actor, Decision.decision, Decision.comment)
                             .where(Decision.proposal_id == proposal_id).order_by(Decision.id)).all()
    return ProposalView(
        id=row["id"], kind=row["kind"], undoes=row["undoes"], state=State(row["state"]), message=row["message"],
        risk=row["risk"], cluster=row["cluster"], namespaces=tuple(row["namespaces"]),
        findings=tuple(f for f in row["findings"].split(",") if f), requester=row["requester"],
        origin=dict(row["origin"]), created_at=row["created_at"], expires_at=row["expires_at"],
        state_changed_at=row["state_changed_at"], approvals=row["approvals"], required=row["required"],
        approvers=tuple(d.actor for d in decisions if d.decision == "approve"),
        rejected_by=tuple((d.actor, d.comment) for d in decisions if d.decision == "reject"),
        plan_hash=row["plan_hash"], payload=dict(row["payload"]), break_glass=row["break_glass"],
        break_glass_reason=row["break_glass_reason"])


PENDING = (State.PROPOSED, State.APPROVED, State.APPLYING, State.APPLIED)  # still waiting for someone or something


def pending(conn: Connection, limit: int | None = None) -> list[ProposalView]:
    """Proposals not yet settled, newest first (for `status` and App Home)."""
    ids = conn.execute(select(Proposal.id).where(Proposal.state.in_([s.value for s in PENDING]))
                       .order_by(Proposal.created_at.desc()).limit(limit)).scalars().all()
    return [load(conn, i) for i in ids]
