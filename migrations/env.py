"""Alembic environment: the engine comes from keda-auth (bot/store/migrate.py), never from an ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from bot.store.schema import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # `alembic` run by hand: -x url=...
    from bot.store.db import create_store_engine

    engine = create_store_engine(context.get_x_argument(as_dictionary=True)["url"])

with engine.connect() as connection:
    connection.execution_options(writer=True)
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several replicas may run `db upgrade` at once: one migrates, the others wait and find it done.
            connection.execute(text("SELECT pg_advisory_xact_lock(7461829301)"))
        context.run_migrations()
