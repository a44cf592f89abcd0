"""Alembic, driven from code: `keda-auth db upgrade` and the SQLite first-use migration run the scripts in
`migrations/` (shipped inside the wheel as bot/_migrations)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

import bot


def migrations_dir() -> Path:
    installed = Path(bot.__file__).parent / "_migrations"
    if installed.is_dir():
        return installed
    return Path(bot.__file__).resolve().parent.parent / "migrations"


def _config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def revisions() -> list[str]:
    """Oldest first."""
    return [s.revision for s in reversed(list(ScriptDirectory.from_config(_config()).walk_revisions()))]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(_config(engine), revision)
