"""Reading the audit trail back: filtered event lists (newest first), one proposal's whole story, and streamed
exports that can be re-verified offline.

Lists must stay fast on millions of events: every filter is a plain column predicate the indexes on `at`,
`actor` and `(proposal_id, seq)` can serve, the page is `ORDER BY seq DESC LIMIT n`, and exports walk the
primary key in keyset pages instead of holding the table in memory.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from sqlalchemy import ColumnElement, Connection, RowMapping, Select, func, select

from bot.approval.gate import ProposalView, load
from bot.approval.states import State
from bot.errors import InputError
from bot.store import chain
from bot.store.clock import aware, naive_utc
from bot.store.schema import AuditEvent, CheckFinding, CheckRun, Decision, Proposal, StepExecution, Verification

SINCE_USAGE = ("--since takes a duration back from now (90s, 30m, 24h, 7d) or an ISO date or time in UTC "
               "(2026-11-26, 2026-11-26T08:00:00, 2026-11-26T09:00:00+01:00)")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
EXPORT_FORMATS = ("jsonl", "csv")
EXPORT_PAGE = 10_000
_NOTHING = -1  # no (more) pages to read
# Every column, in the order `chain.event_hash` covers them, so an export carries what re-verifying needs.
EXPORT_COLUMNS = ("seq", "at", "actor", "action", "proposal_id", "check_run_id", "cluster", "findings", "state",
                  "break_glass", "detail", "prev_hash", "hash")


def parse_since(text: str, now: datetime) -> datetime:
    """A duration back from `now` or an absolute time, as an aware UTC datetime (naive input is UTC)."""
    match = _DURATION.match(text)
    if match:
        return aware(now).astimezone(UTC) - timedelta(**{_UNIT[match[2]]: int(match[1])})
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{SINCE_USAGE}; got {text!r}") from None
    return aware(at).astimezone(UTC)


@dataclass(frozen=True)
class EventFilter:
    since: datetime | None = None
    cluster: str | None = None
    actor: str | None = None
    finding: str | None = None
    state: str | None = None  # the proposal's state now, not at the time of the event
    proposal: str | None = None
    limit: int = 100


@dataclass(frozen=True)
class EventRow:
    seq: int
    at: datetime  # aware UTC
    actor: str
    action: str
    proposal_id: str | None
    check_run_id: str | None
    cluster: str | None
    findings: tuple[str, ...]
    state: str | None
    break_glass: bool
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": iso(self.at), "actor": self.actor, "action": self.action,
                "proposal_id": self.proposal_id, "check_run_id": self.check_run_id, "cluster": self.cluster,
                "findings": list(self.findings), "state": self.state, "break_glass": self.break_glass,
                "detail": self.detail}


def iso(at: datetime | None) -> str | None:
    return aware(at).isoformat().replace("+00:00", "Z") if at is not None else None


def _event_row(row: RowMapping) -> EventRow:
    try:
        detail = json.loads(row["detail"])
    except ValueError:
        detail = {"unparsed": row["detail"]}  # an edited row must still be listable; verify names it
    return EventRow(seq=row["seq"], at=aware(row["at"]), actor=row["actor"], action=row["action"],
                    proposal_id=row["proposal_id"], check_run_id=row["check_run_id"], cluster=row["cluster"],
                    findings=tuple(f for f in (row["findings"] or "").split(",") if f), state=row["state"],
                    break_glass=bool(row["break_glass"]),
                    detail=detail if isinstance(detail, dict) else {"value": detail})


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def first_seq_since(conn: Connection, since: datetime) -> int | None:
    """The lowest seq of any event at or after `since`, read from the `at` index alone.

    `seq + 0` keeps PostgreSQL from answering min() by walking the primary key and filtering on `at`, which
    reads nearly the whole table when the window is recent."""
    first = conn.execute(select(func.min(AuditEvent.seq + 0)).where(AuditEvent.at >= naive_utc(since))).scalar_one()
    return int(first) if first is not None else None


def _conditions(flt: EventFilter, first_seq: int | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if flt.since is not None:
        # The seq bound is implied by the time bound; stated, it lets the (proposal_id, seq) index, and SQLite's
        # actor index (which carries seq as the rowid), seek straight to the window instead of reading every
        # event of a busy actor or proposal.
        conditions.append(AuditEvent.at >= naive_utc(flt.since))
        if first_seq is not None:
            conditions.append(AuditEvent.seq >= first_seq)
    if flt.cluster is not None:
        conditions.append(AuditEvent.cluster == flt.cluster)
    if flt.actor is not None:
        conditions.append(AuditEvent.actor == flt.actor)
    if flt.finding is not None:
        conditions.append(AuditEvent.findings.like(f"%,{_like_literal(flt.finding)},%", escape="\\"))
    if flt.proposal is not None:
        conditions.append(AuditEvent.proposal_id == flt.proposal)
    if flt.state is not None:
        conditions.append(Proposal.state == flt.state)
    return conditions


def _filtered(statement: Select[Any], flt: EventFilter, first_seq: int | None) -> Select[Any]:
    if flt.state is not None:
        statement = statement.join(Proposal, Proposal.id == AuditEvent.proposal_id)
    return statement.where(*_conditions(flt, first_seq))


def check_filter(flt: EventFilter) -> None:
    """Refuse a filter that could only ever match nothing because it was mistyped."""
    valid = [s.value for s in State]
    if flt.state is not None and flt.state not in valid:
        raise InputError(f"--state takes one of {', '.join(valid)}; got {flt.state!r}")
    if flt.finding is not None and (not flt.finding or "," in flt.finding):
        raise InputError(f"--finding takes one finding id, got {flt.finding!r}")
    if flt.limit < 1:
        raise InputError(f"--limit takes a positive number, got {flt.limit}")


def list_events(conn: Connection, flt: EventFilter) -> tuple[list[EventRow], int]:
    """The newest `flt.limit` matching events, newest first, and how many match in all."""
    check_filter(flt)
    first_seq = None
    if flt.since is not None and conn.dialect.name == "sqlite":
        # SQLite plans without statistics and needs the seq bound to seek; PostgreSQL plans the time window well
        # on its own, and finding the bound would cost it a heap read per event in the window.
        first_seq = first_seq_since(conn, flt.since)
        if first_seq is None:
            return [], 0
    page = conn.execute(_filtered(select(*_event_columns()), flt, first_seq).order_by(AuditEvent.seq.desc())
                        .limit(flt.limit)).mappings().all()
    rows = [_event_row(r) for r in page]
    if len(rows) < flt.limit:
        return rows, len(rows)  # the page holds every match: no need to count
    total = conn.execute(_filtered(select(func.count()).select_from(AuditEvent), flt, first_seq)).scalar_one()
    return rows, int(total)


def _event_columns() -> tuple[Any, ...]:
    return tuple(getattr(AuditEvent, name) for name in EXPORT_COLUMNS)


@dataclass(frozen=True)
class Story:
    proposal: ProposalView
    decisions: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    verifications: list[dict[str, Any]]
    events: list[EventRow]
    check_run: dict[str, Any] | None


def story(conn: Connection, proposal_id: str) -> Story:
    """Everything on record about one proposal, each part in the order it happened."""
    view = load(conn, proposal_id)
    decisions = [dict(r) for r in conn.execute(
        select(Decision.actor, Decision.decision, Decision.comment, Decision.plan_hash, Decision.at)
        .where(Decision.proposal_id == proposal_id).order_by(Decision.at, Decision.id)).mappings()]
    steps = [dict(r) for r in conn.execute(
        select(StepExecution.run, StepExecution.position, StepExecution.step_key, StepExecution.title,
               StepExecution.target, StepExecution.status, StepExecution.message, StepExecution.before,
               StepExecution.after, StepExecution.sent, StepExecution.started_at, StepExecution.finished_at)
        .where(StepExecution.proposal_id == proposal_id).order_by(StepExecution.id)).mappings()]
    verifications = [dict(r) for r in conn.execute(
        select(Verification.at, Verification.outcome, Verification.detail)
        .where(Verification.proposal_id == proposal_id).order_by(Verification.id)).mappings()]
    events = [_event_row(r) for r in conn.execute(
        select(*_event_columns()).where(AuditEvent.proposal_id == proposal_id)
        .order_by(AuditEvent.seq)).mappings()]
    check_run_id = conn.execute(select(Proposal.check_run_id).where(Proposal.id == proposal_id)).scalar_one()
    return Story(view, decisions, steps, verifications, events, _check_run(conn, check_run_id))


def _check_run(conn: Connection, check_run_id: str | None) -> dict[str, Any] | None:
    if check_run_id is None:
        return None
    run = conn.execute(select(CheckRun).where(CheckRun.id == check_run_id)).mappings().one_or_none()
    if run is None:
        return None
    findings = conn.execute(select(CheckFinding.finding_id, CheckFinding.severity, CheckFinding.title)
                            .where(CheckFinding.check_run_id == check_run_id).order_by(CheckFinding.id)).mappings()
    return {**dict(run), "findings": [dict(f) for f in findings]}


def _export_row(row: RowMapping) -> dict[str, Any]:
    # `at` in exactly the form that was hashed, `detail` as the stored text: byte for byte what verify checks.
    return {**{name: row[name] for name in EXPORT_COLUMNS}, "at": chain.timestamp(row["at"]),
            "break_glass": bool(row["break_glass"])}


def export_events(conn: Connection, out: TextIO, fmt: str, since: datetime | None = None) -> int:
    """Write events oldest first as JSON lines or CSV, a keyset page at a time. Returns how many were written."""
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"--format takes one of {', '.join(EXPORT_FORMATS)}; got {fmt!r}")
    conditions: list[ColumnElement[bool]] = []
    last = 0
    if since is not None:
        conditions.append(AuditEvent.at >= naive_utc(since))
        first = first_seq_since(conn, since)
        last = first - 1 if first is not None else _NOTHING
    writer = csv.writer(out, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(EXPORT_COLUMNS)
    count = 0
    while last != _NOTHING:
        page = conn.execute(select(*_event_columns()).where(AuditEvent.seq > last, *conditions)
                            .order_by(AuditEvent.seq).limit(EXPORT_PAGE)).mappings().all()
        for row in page:
            record = _export_row(row)
            if fmt == "csv":
                writer.writerow([_csv_cell(record[name]) for name in EXPORT_COLUMNS])
            else:
                out.write(chain.canonical(record) + "\n")
        count += len(page)
        last = page[-1]["seq"] if len(page) == EXPORT_PAGE else _NOTHING
    return count


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
