"""The audit trail: a hash chain built through the product's own appends (check runs, proposals, refusals,
decisions, the kill switch) holds when untouched and breaks, at the event touched, for any edit, deletion,
reordering, renumbering or forged append made directly in SQL. And no secret given to the store in any of its
inputs reaches any table, nor the SQLite file on disk.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, delete, insert, inspect, select, text, update

from bot.approval import decisions, proposals, runner
from bot.approval.gate import Gate, Origin
from bot.approval.journal import SqlJournal
from bot.approval.kill_switch import set_kill_switch
from bot.approval.states import State, transition
from bot.diagnosis.engine import Report, diagnose
from bot.diagnosis.findings import Evidence
from bot.errors import Refused
from bot.execute.records import Execution, Status, now_iso
from bot.execute.verify import FAILED, PROPAGATING, Check, Verification
from bot.snapshot.bundle import read_bundle
from bot.store import chain
from bot.store.check_runs import record_check
from bot.store.db import Store
from bot.store.schema import AuditEvent, AuditHead
from tests.kit.gate_kit import (
    BUNDLE,
    audit_events,
    bundle_plan,
    migrated_store,
    policy,
    verified_chain,
)

REQUESTER, ALICE, BOB = "U0REQ1", "U0AAA1", "U0BBB2"
CLI = Origin("cli", user="req", host="laptop")
COLUMNS = ("at", "actor", "action", "proposal_id", "check_run_id", "cluster", "findings", "state", "break_glass",
           "detail", "prev_hash", "hash")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    with migrated_store(database_url) as opened:
        yield opened


def bundle_report() -> Report:
    return diagnose(read_bundle(BUNDLE))


def build_chain(store: Store) -> int:
    """Events of every shape: check runs, a proposal refused, rejected, a kill switch, a break-glass."""
    report = bundle_report()
    record_check(store, report, "cli:alice", {"via": "cli", "user": "alice", "host": "laptop"})
    gate = Gate(store, policy([ALICE, BOB]))
    proposal_id = proposals.propose(gate, bundle_plan(), REQUESTER, CLI).id
    with pytest.raises(Refused):
        decisions.approve(gate, proposal_id, REQUESTER)
    decisions.reject(gate, proposal_id, BOB, "not during the freeze")
    set_kill_switch(gate, True, BOB, "freeze")
    record_check(store, report, BOB, {"via": "slack", "channel": "C0123ABCD"})
    proposals.propose(gate, bundle_plan(), ALICE, CLI, break_glass_reason="SEV1: orders backlog growing")
    events = audit_events(store)
    assert [e["action"] for e in events] == [
        "check.run", "proposal.created", "approve.refused", "proposal.rejected", "kill-switch.on", "check.run",
        "proposal.created", "proposal.break-glass"]
    return len(events)


def row(conn: Connection, seq: int) -> dict[str, Any]:
    return dict(conn.execute(select(AuditEvent).where(AuditEvent.seq == seq)).mappings().one())


def set_row(store: Store, seq: int, values: dict[str, Any]) -> None:
    with store.write() as conn:
        conn.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(**values))


def changed(value: Any) -> Any:
    """A different value of the same column type."""
    if isinstance(value, bool):
        return not value
    if value is None or value == "":
        return "x"
    if isinstance(value, str):
        return value[:-1] + ("0" if value[-1] != "0" else "1")
    return value + timedelta(seconds=1)  # a datetime


def test_an_untouched_chain_verifies(store: Store) -> None:
    count = build_chain(store)
    report = verified_chain(store)
    assert report.ok, report.broken
    assert report.events == report.head_seq == count
    assert report.head_hash == audit_events(store)[-1]["hash"]


def test_editing_any_column_of_any_event_breaks_the_chain_at_that_event(store: Store) -> None:
    count = build_chain(store)
    for seq in range(1, count + 1):
        with store.read() as conn:
            original = row(conn, seq)
        for column in COLUMNS:
            set_row(store, seq, {column: changed(original[column])})
            report = verified_chain(store)
            assert report.broken is not None and report.broken.seq == seq, (seq, column, report)
            assert f"event #{seq}" in report.broken.problem
            set_row(store, seq, {column: original[column]})
        assert verified_chain(store).ok, f"restoring event #{seq} did not mend the chain"


def test_deleting_an_event_in_the_middle_is_reported_missing(store: Store) -> None:
    build_chain(store)
    with store.write() as conn:
        conn.execute(delete(AuditEvent).where(AuditEvent.seq == 4))
    report = verified_chain(store)
    assert report.broken is not None and report.broken.seq == 4
    assert "missing" in report.broken.problem and "#4" in report.broken.problem


@pytest.mark.parametrize("deleted", [1, 3])
def test_deleting_the_last_events_is_caught_by_the_head(store: Store, deleted: int) -> None:
    count = build_chain(store)
    with store.write() as conn:
        conn.execute(delete(AuditEvent).where(AuditEvent.seq > count - deleted))
    report = verified_chain(store)
    assert report.broken is not None and report.broken.seq == count - deleted + 1
    assert "deleted from the end" in report.broken.problem
    assert report.head_seq == count


@pytest.mark.parametrize(("first", "second"), [(3, 6), (4, 5)], ids=["far-apart", "adjacent"])
def test_swapping_two_events_is_caught(store: Store, first: int, second: int) -> None:
    build_chain(store)
    with store.read() as conn:
        one, two = row(conn, first), row(conn, second)
    set_row(store, first, {c: two[c] for c in COLUMNS})
    set_row(store, second, {c: one[c] for c in COLUMNS})
    report = verified_chain(store)
    assert report.broken is not None and report.broken.seq == first


def test_renumbering_after_a_delete_is_caught(store: Store) -> None:
    count = build_chain(store)
    with store.write() as conn:
        conn.execute(delete(AuditEvent).where(AuditEvent.seq == 4))
        for seq in range(5, count + 1):  # close the gap, one row at a time (the primary key stays unique)
            conn.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(seq=seq - 1))
        last = conn.execute(select(AuditEvent.hash).where(AuditEvent.seq == count - 1)).scalar_one()
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=count - 1, hash=last))
    report = verified_chain(store)
    assert report.broken is not None and report.broken.seq == 4
    assert "does not match its hash" in report.broken.problem


def test_a_forged_event_with_its_own_hash_but_a_wrong_link_is_caught(store: Store) -> None:
    count = build_chain(store)
    with store.write() as conn:
        at = row(conn, count)["at"]
        forged = chain.prepare(chain.Event(ALICE, "proposal.approved", detail={"note": "forged"}), count + 1, at,
                               "f" * 64)
        assert forged["hash"] == chain.event_hash(forged)
        conn.execute(insert(AuditEvent).values(**forged))
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=count + 1, hash=forged["hash"]))
    report = verified_chain(store)
    assert report.broken is not None and report.broken.seq == count + 1
    assert "does not follow" in report.broken.problem


# -- no secret reaches the store

SB = "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=CANARYSBKEY0123456789abc="
SAS = "https://x.blob.core.windows.net/c/b?sv=2022-11-02&sr=b&sig=CANARYSASSIG0123456789%3D"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.CANARYJWTSIG0123456789"
BEARER = "Bearer CANARYBEARER0123456789abcdef"
SLACK = "xoxb-123456789012-CANARYSLACK0123456789"
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sb"}, "data": {"k": "CANARYSECRETVALUE"}}
MARKERS = ("CANARYSBKEY", "CANARYSASSIG", "CANARYJWTSIG", "CANARYBEARER", "CANARYSLACK", "CANARYSECRETVALUE")
SECRETS = f"see {SB} and {SAS} and {JWT} and {BEARER} and {SLACK}"
PLANTED = {("check_runs", "origin"), ("check_findings", "title"), ("check_findings", "objects"),
           ("check_findings", "evidence"), ("proposals", "payload"), ("proposals", "origin"),
           ("proposals", "break_glass_reason"), ("proposals", "message"), ("decisions", "comment"),
           ("settings", "value"),
           ("step_executions", "before"), ("step_executions", "after"), ("step_executions", "sent"),
           ("step_executions", "message"), ("audit_events", "detail")}
STRUCTURED = {"text": SECRETS, "object": SECRET, "list": [SECRETS, SECRET]}


def canary_report() -> Report:
    report = bundle_report()
    first, *rest = report.findings
    planted = dataclasses.replace(
        first, title=f"{first.title} {SECRETS}", detail=SECRETS, objects=(*first.objects, SECRETS),
        evidence=(*first.evidence, Evidence(source=SECRETS, field="spec", expected=SECRETS, actual=SECRETS)))
    return dataclasses.replace(report, findings=(planted, *rest))


def dump(store: Store) -> list[tuple[str, str, str]]:
    """(table, column, value as text) for every column of every row of every table."""
    out: list[tuple[str, str, str]] = []
    with store.read() as conn:
        for table in inspect(conn).get_table_names():
            columns = [c["name"] for c in inspect(conn).get_columns(table)]
            selected = ", ".join(f'CAST("{c}" AS TEXT) AS "{c}"' for c in columns)
            for values in conn.execute(text(f'SELECT {selected} FROM "{table}"')).mappings():
                out.extend((table, c, str(values[c])) for c in columns)
    return out


def leaks(store: Store) -> list[str]:
    return [f"{table}.{column}: {value[:160]}" for table, column, value in dump(store)
            if any(m in value for m in MARKERS)]


def sqlite_file_leaks(store: Store) -> list[str]:
    database = store.engine.url.database
    assert database is not None
    found = []
    for path in (Path(database), Path(database + "-wal")):
        data = path.read_bytes() if path.exists() else b""
        found += [f"{path.name}: {m}" for m in MARKERS if m.encode() in data]
    return found


def test_no_secret_given_to_the_store_reaches_any_table_or_file(store: Store) -> None:
    gate = Gate(store, policy([ALICE, BOB]))
    record_check(store, canary_report(), ALICE, {"via": "cli", "note": SECRETS, "object": SECRET})

    plan = bundle_plan()
    plan = dataclasses.replace(
        plan, findings=tuple(dataclasses.replace(f, title=f"{f.title} {SECRETS}") for f in plan.findings),
        notes=(*plan.notes, SECRETS))
    origin = Origin("cli", user=f"req {SECRETS}", host=f"laptop {SECRETS}")
    rejected = proposals.propose(gate, plan, REQUESTER, origin)
    decisions.reject(gate, rejected.id, BOB, SECRETS)

    glass = proposals.propose(gate, plan, ALICE, origin, break_glass_reason=SECRETS)
    set_kill_switch(gate, True, BOB, SECRETS)
    with pytest.raises(Refused):  # refused by the kill switch, whose reason it quotes
        runner.apply_proposal(gate, glass.id, ALICE, lambda p: pytest.fail("the kill switch let an apply through"))
    set_kill_switch(gate, False, BOB, SECRETS)

    # The journal of an apply under way, as the runner writes it, with secrets in every state it records.
    owner = runner.lease_owner(ALICE)
    with store.write() as conn:
        assert transition(conn, glass.id, State.APPLYING, gate.clock(), frm=(State.APPROVED,),
                          lease_owner=owner, lease_until=gate.clock() + timedelta(minutes=10))
    journal = SqlJournal(gate, gate.proposal(glass.id), "apply", ALICE, owner, timedelta(minutes=10))
    execution = Execution.start(plan)
    journal.open(execution)
    record = execution.steps[0]
    record.before, record.status, record.started_at = STRUCTURED, Status.STARTED, now_iso()
    journal.step_started(execution, record)
    record.after, record.sent, record.message = STRUCTURED, STRUCTURED, SECRETS
    record.status, record.finished_at = Status.APPLIED, now_iso()
    journal.step_finished(execution, record)

    assert verified_chain(store).ok
    assert leaks(store) == []
    redacted = {(table, column) for table, column, value in dump(store) if "<redacted:" in value}
    assert redacted >= PLANTED, f"canaries never reached {sorted(PLANTED - redacted)}: the test planted nothing there"
    if store.dialect == "sqlite":
        assert sqlite_file_leaks(store) == []


def test_an_approval_comment_is_stored_redacted(store: Store) -> None:
    gate = Gate(store, policy([ALICE, BOB]))
    proposal_id = proposals.propose(gate, bundle_plan(), REQUESTER, CLI).id
    view = decisions.approve(gate, proposal_id, ALICE, f"lgtm {SECRETS}")
    assert view.state is State.APPROVED
    comment = json.loads(audit_events(store, proposal_id)[-1]["detail"])["comment"]
    assert comment.startswith("lgtm see <redacted:")
    assert leaks(store) == []
    if store.dialect == "sqlite":
        assert sqlite_file_leaks(store) == []


def test_verification_details_are_stored_redacted(store: Store) -> None:
    gate = Gate(store, policy([ALICE, BOB]))
    view = proposals.propose(gate, bundle_plan(), ALICE, CLI, break_glass_reason="SEV1")
    runner.record_verification(gate, view, ALICE, Verification(
        FAILED, (Check(SECRETS, FAILED, SECRETS),), (Check("wi-pod-label-missing", PROPAGATING, SECRETS),), 1.0))
    assert leaks(store) == []
    assert any(t == "verifications" and "<redacted:" in v for t, _, v in dump(store))


def test_a_check_run_scope_is_stored_redacted(store: Store) -> None:
    record_check(store, bundle_report(), ALICE, {"via": "cli"}, scope=f"namespace orders {SECRETS}")
    assert leaks(store) == []
