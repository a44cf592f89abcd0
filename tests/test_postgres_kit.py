"""The database fixtures give working, empty, isolated databases (tests/kit/postgres.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, inspect, select, text

from tests.kit.postgres import ENV_URL, PgServer, start_server

_META = MetaData()
_PROBE = Table("probe", _META, Column("id", Integer, primary_key=True), Column("name", String(50)))


def _tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_database_url_is_an_empty_working_database(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        if engine.dialect.name == "postgresql":
            assert engine.dialect.driver == "psycopg"
        assert inspect(engine).get_table_names() == []
        with engine.begin() as conn:
            _META.create_all(conn)
            conn.execute(insert(_PROBE), [{"name": "alpha"}, {"name": "beta"}])
        with engine.connect() as conn:
            assert conn.execute(select(_PROBE.c.name).order_by(_PROBE.c.id)).scalars().all() == ["alpha", "beta"]
    finally:
        engine.dispose()


def test_postgres_databases_are_isolated_and_dropped(postgres_url: str, postgres_server: PgServer) -> None:
    other = postgres_server.create_database()
    try:
        assert other != postgres_url
        engine = create_engine(postgres_url)
        try:
            with engine.begin() as conn:
                _META.create_all(conn)
        finally:
            engine.dispose()
        assert _tables(postgres_url) == ["probe"]
        assert _tables(other) == []
    finally:
        postgres_server.drop_database(other)
    admin = create_engine(postgres_server.admin_url)
    try:
        with admin.connect() as conn:
            name = other.rsplit("/", 1)[1]
            assert conn.execute(text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}).scalar() == 0
    finally:
        admin.dispose()


def test_external_server_from_environment(postgres_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_URL, postgres_server.admin_url.replace("postgresql+psycopg://", "postgresql://"))
    external = start_server()
    assert not external.throwaway
    url = external.create_database()
    try:
        assert url.startswith("postgresql+psycopg://")
        assert _tables(url) == []
    finally:
        external.drop_database(url)
    external.stop()  # leaves the server running
    assert _tables(postgres_server.admin_url) == []
