"""Shared fixtures: `kube` is a fresh namespace on the API-server simulator, or on a real cluster when
KUBECONFIG is set (see tests/kit/targets.py). `database_url` is a fresh SQLite file and a fresh PostgreSQL
database (see tests/kit/postgres.py); `postgres_url` is PostgreSQL only."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kit.postgres import PgServer, PgUnavailable, start_server
from tests.kit.targets import Kube, kube_target


@pytest.fixture
def kube() -> Iterator[Kube]:
    with kube_target() as target:
        yield target
        if target.sim is not None:
            assert target.sim.spec_violations == [], "the simulator answered outside the official spec"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """One PostgreSQL server per session (per xdist worker). Skips without PostgreSQL; fails instead in CI."""
    try:
        server = start_server()
    except PgUnavailable as exc:
        reason = str(exc)  # reported outside the except block, so the report is not a chained traceback
    else:
        reason = ""
    if reason:
        if os.environ.get("CI", "").strip().lower() in {"true", "1"}:
            pytest.fail(f"PostgreSQL unavailable (required when CI is set): {reason}", pytrace=False)
        pytest.skip(f"PostgreSQL unavailable: {reason}")
    try:
        yield server
    finally:
        server.stop()


def _fresh_postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    server: PgServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL to an empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/keda-auth.db"
    else:
        yield from _fresh_postgres_database(request)  # the server starts only when a PostgreSQL case runs


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A SQLAlchemy URL to an empty PostgreSQL database, dropped after the test."""
    yield from _fresh_postgres_database(request)


@pytest.fixture(autouse=True)
def _private_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes to the developer's own audit database or reads their policy: every CLI invocation gets
    one database per test session and no policy unless a test sets one."""
    state = tmp_path_factory.getbasetemp() / "keda-auth-state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.getbasetemp() / "keda-auth-config"))
    monkeypatch.delenv("KEDA_AUTH_DB", raising=False)
    monkeypatch.delenv("KEDA_AUTH_POLICY", raising=False)
