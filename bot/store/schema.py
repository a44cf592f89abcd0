"""The tables, as SQLAlchemy 2 models. Migrations in `migrations/` create them; a test keeps the two in step.

Times are naive UTC `DateTime`s (SQLite has no time zone type); every value in a JSON or text column was
redacted before it was written (see bot/store/redaction.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON, datetime: DateTime}


class CheckRun(Base):
    __tablename__ = "check_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200))
    origin: Mapped[dict[str, Any]]
    cluster: Mapped[str | None] = mapped_column(String(253))
    source: Mapped[str] = mapped_column(Text)
    exit_code: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, Any]]


class CheckFinding(Base):
    __tablename__ = "check_findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    check_run_id: Mapped[str] = mapped_column(ForeignKey("check_runs.id", ondelete="CASCADE"), index=True)
    finding_id: Mapped[str] = mapped_column(String(100), index=True)
    severity: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text)
    objects: Mapped[list[Any]]
    evidence: Mapped[dict[str, Any]]


class Proposal(Base):
    __tablename__ = "proposals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # unguessable: only it travels in Slack buttons
    kind: Mapped[str] = mapped_column(String(10))  # "fix", or "undo" of another proposal's apply
    undoes: Mapped[str | None] = mapped_column(ForeignKey("proposals.id"))
    payload: Mapped[dict[str, Any]]  # the frozen plan (fix) or the execution to undo (undo)
    plan_hash: Mapped[str] = mapped_column(String(64))
    risk: Mapped[str] = mapped_column(String(20))
    cluster: Mapped[str | None] = mapped_column(String(253), index=True)
    namespaces: Mapped[list[Any]]
    findings: Mapped[str] = mapped_column(Text)  # ",id1,id2," so one LIKE finds a finding id
    requester: Mapped[str] = mapped_column(String(200), index=True)
    origin: Mapped[dict[str, Any]]  # {"via": "slack", "channel", "thread"} or {"via": "cli", "user", "host"}
    check_run_id: Mapped[str | None] = mapped_column(ForeignKey("check_runs.id"))
    created_at: Mapped[datetime] = mapped_column(index=True)
    expires_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(20), index=True)
    state_changed_at: Mapped[datetime]
    message: Mapped[str] = mapped_column(Text, default="")  # why it is in its state, in a sentence
    approvals: Mapped[int] = mapped_column(Integer, default=0)
    required: Mapped[int] = mapped_column(Integer)
    break_glass: Mapped[bool] = mapped_column(Boolean, default=False)
    break_glass_reason: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]


class Decision(Base):
    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("proposal_id", "actor", "decision", name="uq_decisions_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(10))  # approve / reject
    comment: Mapped[str] = mapped_column(Text, default="")
    plan_hash: Mapped[str] = mapped_column(String(64))  # what was approved: an approval binds to one hash
    at: Mapped[datetime]


class StepExecution(Base):
    __tablename__ = "step_executions"
    __table_args__ = (UniqueConstraint("proposal_id", "run", "step_key", name="uq_step_executions_step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    run: Mapped[str] = mapped_column(String(10))  # apply / undo
    position: Mapped[int] = mapped_column(Integer)
    step_key: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sent: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Verification(Base):
    __tablename__ = "verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]]


class Setting(Base):
    """Run-time switches shared by every replica (the kill switch)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))


class AuditEvent(Base):
    """Append-only. `hash` covers every other column and the previous event's hash (bot/store/chain.py)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_proposal", "proposal_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(60))
    proposal_id: Mapped[str | None] = mapped_column(String(40))
    check_run_id: Mapped[str | None] = mapped_column(String(32))
    cluster: Mapped[str | None] = mapped_column(String(253))
    findings: Mapped[str] = mapped_column(Text, default="")  # ",id1,id2,"
    state: Mapped[str | None] = mapped_column(String(20))  # the proposal's state after this event
    break_glass: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly as hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last event's seq and hash. Locking it serialises appends across replicas, and it lets
    `audit verify` notice events deleted from the end of the chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))


class SlackMessage(Base):
    """The Slack message that shows a proposal: every state change edits it, from whichever replica."""

    __tablename__ = "slack_messages"

    proposal_id: Mapped[str] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(40))
    ts: Mapped[str] = mapped_column(String(40))
    thread_ts: Mapped[str | None] = mapped_column(String(40))
