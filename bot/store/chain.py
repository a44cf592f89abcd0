"""The audit trail as a hash chain: every event carries the hash of the one before it, over a canonical
serialisation of all its fields, so an edited, deleted or reordered event breaks a link `verify` finds.

Appends lock the single `audit_head` row, which orders them across threads and replicas, and record the
newest seq and hash there: deleting events from the end is caught too. What the chain cannot catch alone
is someone rewriting the whole chain and the head; `verify` prints the head hash so it can be kept elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, insert, select, update

from bot.redact import redact, redact_for_store
from bot.store.clock import naive_utc
from bot.store.schema import AuditEvent, AuditHead

GENESIS = "0" * 64


@dataclass(frozen=True)
class Event:
    actor: str
    action: str  # dotted: check.run, proposal.created, proposal.approved, step.finished, …
    proposal_id: str | None = None
    check_run_id: str | None = None
    cluster: str | None = None
    findings: Iterable[str] = ()
    state: str | None = None
    break_glass: bool = False
    detail: Mapping[str, Any] = field(default_factory=dict)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def joined(ids: Iterable[str]) -> str:
    """",a,b," so that `LIKE '%,a,%'` finds one id exactly."""
    ids = sorted(set(ids))
    return f",{','.join(ids)}," if ids else ""


def timestamp(at: datetime) -> str:
    return naive_utc(at).isoformat(timespec="microseconds")


# One encoder, made once: `json.dumps` with options builds a new one per call, which dominated verify's time.
# Over a list of scalars its output is exactly `canonical`'s.
_ENCODE_FIELDS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _fields_hash(seq: int, at: str, actor: str, action: str, proposal_id: str | None, check_run_id: str | None,
                 cluster: str | None, findings: str, state: str | None, break_glass: bool, detail: str,
                 prev_hash: str) -> str:
    fields = [seq, at, actor, action, proposal_id, check_run_id, cluster, findings, state, bool(break_glass), detail,
              prev_hash]
    return hashlib.sha256(_ENCODE_FIELDS(fields).encode()).hexdigest()


def event_hash(row: Mapping[str, Any] | RowMapping) -> str:
    """Over every column but the hash itself, in one fixed form: what verify recomputes."""
    return _fields_hash(row["seq"], timestamp(row["at"]), row["actor"], row["action"], row["proposal_id"],
                        row["check_run_id"], row["cluster"], row["findings"], row["state"], row["break_glass"],
                        row["detail"], row["prev_hash"])


def body(event: Event) -> dict[str, Any]:
    """Everything of the row that does not depend on its place in the chain, redacted: made before the head
    is locked, so the lock is held only for the link."""
    return {"actor": redact(event.actor), "action": event.action, "proposal_id": event.proposal_id,
            "check_run_id": event.check_run_id, "cluster": redact(event.cluster) if event.cluster else event.cluster,
            "findings": joined(event.findings), "state": event.state, "break_glass": event.break_glass,
            "detail": canonical(redact_for_store(dict(event.detail)))}


def link(row: dict[str, Any], seq: int, at: datetime, prev_hash: str) -> dict[str, Any]:
    row = {**row, "seq": seq, "at": naive_utc(at), "prev_hash": prev_hash}
    row["hash"] = event_hash(row)
    return row


def prepare(event: Event, seq: int, at: datetime, prev_hash: str) -> dict[str, Any]:
    """The row for `event`, redacted, linked and hashed."""
    return link(body(event), seq, at, prev_hash)


def append(conn: Connection, event: Event, at: datetime | Callable[[], datetime]) -> int:
    """Append within the caller's transaction (so the event commits with the change it records)."""
    return append_many(conn, [event], at)[-1]


# Built once: an append is on every state change's path, and building statements costs more than running them.
_LOCK_HEAD = select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
_INSERT_EVENT = insert(AuditEvent)
_MOVE_HEAD = update(AuditHead).where(AuditHead.id == 1).values(seq=bindparam("head_seq"),
                                                               hash=bindparam("head_hash"))
# PostgreSQL: the insert and the head move in one round trip, which is time the head's row lock is not held.
_INSERT_AND_MOVE = insert(AuditEvent).add_cte(_MOVE_HEAD.returning(AuditHead.id).cte("moved_head"))


def append_many(conn: Connection, events: list[Event], at: datetime | Callable[[], datetime]) -> list[int]:
    """`at` may be a clock, read once the head is locked, so event times never run backwards along the chain."""
    bodies = [body(event) for event in events]
    head = conn.execute(_LOCK_HEAD).one()
    seq, prev = head.seq, head.hash
    when = at() if callable(at) else at
    rows = []
    for row in bodies:
        seq += 1
        rows.append(link(row, seq, when, prev))
        prev = rows[-1]["hash"]
    if len(rows) == 1 and conn.dialect.name == "postgresql":
        conn.execute(_INSERT_AND_MOVE, {**rows[0], "head_seq": seq, "head_hash": prev})
    else:
        conn.execute(_INSERT_EVENT, rows)
        conn.execute(_MOVE_HEAD, {"head_seq": seq, "head_hash": prev})
    return [r["seq"] for r in rows]


@dataclass(frozen=True)
class Break:
    seq: int
    problem: str


@dataclass(frozen=True)
class ChainReport:
    events: int
    head_seq: int
    head_hash: str
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


_COLUMNS = (AuditEvent.seq, AuditEvent.at, AuditEvent.actor, AuditEvent.action, AuditEvent.proposal_id,
            AuditEvent.check_run_id, AuditEvent.cluster, AuditEvent.findings, AuditEvent.state,
            AuditEvent.break_glass, AuditEvent.detail, AuditEvent.prev_hash, AuditEvent.hash)


def _rows(conn: Connection, batch: int = 20_000) -> Iterator[tuple[Any, ...]]:
    # Keyset pages rather than one server-side cursor: the same code streams on SQLite and PostgreSQL. Rows
    # unpacked as tuples: a million RowMappings cost more than the hashing.
    last = -1
    while True:
        page = conn.execute(select(*_COLUMNS).where(AuditEvent.seq > last).order_by(AuditEvent.seq)
                            .limit(batch)).all()
        if not page:
            return
        yield from page
        last = page[-1][0]


def verify(conn: Connection) -> ChainReport:
    """Walk the chain from the genesis; the first link that does not hold is reported."""
    head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    expected_seq, prev, count = 1, GENESIS, 0
    for seq, at, actor, action, proposal_id, run_id, cluster, findings, state, glass, detail, prev_hash, stored \
            in _rows(conn):
        count += 1
        if seq != expected_seq:
            return ChainReport(count, head_seq, head_hash, Break(expected_seq, (
                f"event #{expected_seq} is missing (deleted); the next one is #{seq}")))
        # Stored times are naive UTC already: formatting them directly is what timestamp() would give.
        if _fields_hash(seq, at.isoformat(timespec="microseconds"), actor, action, proposal_id, run_id, cluster,
                        findings, state, glass, detail, prev_hash) != stored:
            return ChainReport(count, head_seq, head_hash, Break(seq, (
                f"event #{seq} ({action} by {actor}) does not match its hash: it was edited or moved")))
        if prev_hash != prev:
            return ChainReport(count, head_seq, head_hash, Break(seq, (
                f"event #{seq} does not follow event #{seq - 1}: events were removed, replaced or reordered")))
        prev, expected_seq = stored, seq + 1
    last = expected_seq - 1
    if head is None:
        return ChainReport(count, 0, GENESIS, Break(0, "the chain head is missing"))
    if last != head_seq or prev != head_hash:
        return ChainReport(count, head_seq, head_hash, Break(last + 1, (
            f"the chain ends at event #{last} but its head records #{head_seq}: events were deleted from the end"
            if last < head_seq else f"the chain head does not match event #{last}")))
    return ChainReport(count, head_seq, head_hash, None)
