"""The store's schema and how it is opened: migrations build exactly the models, an older database keeps its
data and its audit chain through upgrade and downgrade, SQLite needs no set-up (a private file at the default
path, migrated once however many open it at once), and PostgreSQL is never used behind its schema or with an
error that is a driver's traceback instead of a sentence.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select

from bot.approval import proposals
from bot.approval.gate import Gate, Origin
from bot.diagnosis.engine import diagnose
from bot.snapshot.bundle import read_bundle
from bot.store import chain, migrate
from bot.store.check_runs import record_check
from bot.store.clock import utcnow
from bot.store.db import DB_ENV, Store, StoreError, create_store_engine, open_store
from bot.store.schema import AuditEvent, Base, CheckFinding, CheckRun, Proposal
from tests.kit.gate_kit import BUNDLE, bundle_plan, migrated_store, policy, verified_chain

HEAD = migrate.head_revision()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    created = create_store_engine(database_url)
    try:
        yield created
    finally:
        created.dispose()


def schema_diff(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, Base.metadata))


def contents(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """What a check run and its audit trail left in the 0001 tables."""
    with store.read() as conn:
        return {"check_runs": [tuple(r) for r in conn.execute(select(CheckRun).order_by(CheckRun.id))],
                "check_findings": [tuple(r) for r in conn.execute(select(CheckFinding).order_by(CheckFinding.id))],
                "audit_events": [tuple(r) for r in conn.execute(select(AuditEvent).order_by(AuditEvent.seq))]}


def test_revisions_run_in_order_up_to_the_head() -> None:
    revisions = migrate.revisions()
    assert revisions[:2] == ["0001", "0002"] and revisions[-1] == HEAD


def test_upgrading_an_empty_database_builds_exactly_the_models(engine: Engine) -> None:
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == HEAD
    assert schema_diff(engine) == []


def test_a_database_at_0001_keeps_its_data_and_chain_through_upgrade_and_downgrade(engine: Engine,
                                                                                   database_url: str) -> None:
    migrate.upgrade(engine, "0001")
    assert migrate.current_revision(engine) == "0001"
    old = Store(engine)  # what a keda-auth of revision 0001 wrote: check runs and their audit events
    report = diagnose(read_bundle(BUNDLE))
    record_check(old, report, "cli:alice", {"via": "cli", "user": "alice", "host": "laptop"})
    record_check(old, report, "U0AAA1", {"via": "slack", "channel": "C0123ABCD"})
    with old.write() as conn:
        chain.append(conn, chain.Event("cli:ops", "note", detail={"text": "before the upgrade"}), utcnow())
    before = contents(old)
    assert len(before["audit_events"]) == 3

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == HEAD and schema_diff(engine) == []
    assert contents(old) == before
    assert verified_chain(old).ok

    with migrated_store(database_url) as store:  # the new tables work, and append to the same chain
        gate = Gate(store, policy())
        proposals.propose(gate, bundle_plan(), "U0REQ1", Origin("cli", user="req", host="laptop"))
        assert verified_chain(store).events == 4

    migrate.downgrade(engine, "0001")
    assert migrate.current_revision(engine) == "0001"
    with engine.connect() as conn:
        assert "proposals" not in inspect(conn).get_table_names()
    assert contents(old)["check_runs"] == before["check_runs"]
    assert verified_chain(old).ok  # the proposal's event stays on the trail

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == HEAD and schema_diff(engine) == []
    with migrated_store(database_url) as store:
        assert verified_chain(store).ok and verified_chain(store).events == 4


def test_the_default_sqlite_store_is_a_private_file_migrated_on_first_use(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    monkeypatch.delenv(DB_ENV, raising=False)
    store = open_store()
    try:
        path = tmp_path / "keda-auth" / "keda-auth.db"
        assert store.engine.url.database == str(path)
        assert path.is_file()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert migrate.current_revision(store.engine) == HEAD
        record_check(store, diagnose(read_bundle(BUNDLE)), "cli:alice", {"via": "cli"})
        assert verified_chain(store).events == 1
    finally:
        store.close()


def test_keda_auth_db_names_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv(DB_ENV, f"sqlite:///{tmp_path}/elsewhere/audit.db")
    store = open_store()
    try:
        assert store.engine.url.database == str(tmp_path / "elsewhere" / "audit.db")
        assert not (tmp_path / "state").exists()
    finally:
        store.close()


def test_an_unmigrated_postgresql_is_refused_with_the_command_that_fixes_it(postgres_url: str) -> None:
    with pytest.raises(StoreError, match=rf"at revision none \(empty\), this keda-auth needs {HEAD}: "
                                         "run `keda-auth db upgrade`"):
        open_store(postgres_url)
    engine = create_store_engine(postgres_url)
    try:
        migrate.upgrade(engine, "0001")
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match=f"at revision 0001, this keda-auth needs {HEAD}: run `keda-auth db upgrade`"):
        open_store(postgres_url)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_a_sentence(message: str) -> None:
    for leaked in ("Traceback", "sqlalche.me", "[SQL:", "psycopg.", "File \""):
        assert leaked not in message, f"{leaked!r} in {message!r}"


@pytest.mark.parametrize(("url", "says"), [
    ("not a url", "not a database URL: 'not a url'"),
    ("mysql://app@db.example/keda", "unsupported database 'mysql': use SQLite or PostgreSQL"),
    ("sqlite://", "an in-memory SQLite database would lose the audit trail"),
    ("postgresql+nosuchdriver://app@127.0.0.1/keda", "no driver for postgresql+nosuchdriver"),
], ids=["not-a-url", "mysql", "in-memory", "unknown-driver"])
def test_a_bad_url_is_a_clear_store_error(url: str, says: str) -> None:
    with pytest.raises(StoreError) as raised:
        open_store(url)
    assert says in str(raised.value)
    assert_a_sentence(str(raised.value))


def test_a_driver_that_is_not_installed_is_a_clear_store_error() -> None:
    with pytest.raises(StoreError, match="postgresql\\+pg8000"):
        open_store("postgresql+pg8000://app@127.0.0.1/keda")


def test_a_sqlite_path_that_cannot_be_created_is_a_clear_store_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(StoreError, match="a-file"):
        open_store(f"sqlite:///{tmp_path}/a-file/keda-auth.db")


def test_an_unreachable_postgresql_is_a_clear_store_error_without_the_password() -> None:
    port = free_port()
    with pytest.raises(StoreError) as raised:
        open_store(f"postgresql://app:hunter2@127.0.0.1:{port}/keda")
    message = str(raised.value)
    assert message.startswith(f"cannot reach the database postgresql+psycopg://app:***@127.0.0.1:{port}/keda: ")
    assert "Connection refused" in message
    assert "hunter2" not in message
    assert_a_sentence(message)


def open_at_once(url: str, count: int) -> tuple[list[Store], list[BaseException]]:
    """`count` threads released together, each opening the store at `url`."""
    barrier = threading.Barrier(count)
    opened: list[Store] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        barrier.wait()
        try:
            opened.append(open_store(url))
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return opened, errors



def test_two_threads_opening_the_same_new_sqlite_file_both_succeed(tmp_path: Path) -> None:
    for attempt in range(5):  # the race is in the first milliseconds: try it on several new files
        opened, errors = open_at_once(f"sqlite:///{tmp_path}/{attempt}/keda-auth.db", 2)
        try:
            assert errors == [] and len(opened) == 2, (attempt, errors)
            for store in opened:
                assert migrate.current_revision(store.engine) == HEAD
                record_check(store, diagnose(read_bundle(BUNDLE)), "cli:alice", {"via": "cli"})
            report = verified_chain(opened[0])
            assert report.ok and report.events == 2
            assert stat.S_IMODE(os.stat(tmp_path / str(attempt) / "keda-auth.db").st_mode) == 0o600
        finally:
            for store in opened:
                store.close()


def test_opening_a_new_sqlite_file_while_another_opener_is_creating_it_waits_for_it(tmp_path: Path) -> None:
    """The race above, held open: the other opener has the migrate lock and is writing the new file (as its
    switch to WAL and its migration do) for half a second. Opening must wait for it, not fail."""
    path = tmp_path / "keda-auth.db"
    lock = open(path.with_name(path.name + ".migrate-lock"), "a")  # noqa: SIM115 - released by the timer
    fcntl.flock(lock, fcntl.LOCK_EX)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")

    def finish() -> None:
        other.execute("COMMIT")
        other.close()
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()

    timer = threading.Timer(0.5, finish)
    timer.start()
    try:
        store = open_store(f"sqlite:///{path}")
    finally:
        timer.join()
    try:
        assert migrate.current_revision(store.engine) == HEAD
    finally:
        store.close()


def test_a_database_at_the_previous_revision_keeps_its_proposals_through_upgrade(engine: Engine,
                                                                                 database_url: str) -> None:
    previous = migrate.revisions()[-2]
    migrate.upgrade(engine, previous)
    old = Store(engine)  # what the previous release wrote: a proposal, its events
    view = proposals.propose(Gate(old, policy()), bundle_plan(), "U0REQ1", Origin("cli", user="req", host="laptop"))
    before = contents(old)
    with old.read() as conn:
        proposed = [tuple(r) for r in conn.execute(select(Proposal))]

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == HEAD and schema_diff(engine) == []
    assert contents(old) == before and verified_chain(old).ok
    with old.read() as conn:
        assert [tuple(r) for r in conn.execute(select(Proposal))] == proposed
    with migrated_store(database_url) as store:
        assert Gate(store, policy()).proposal(view.id).plan_hash == view.plan_hash
