"""Store time: naive UTC, to the microsecond, the same on SQLite and PostgreSQL (and so in the hash chain)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def naive_utc(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def utcnow() -> datetime:
    return naive_utc(datetime.now(UTC))


def aware(at: datetime) -> datetime:
    """For display: a stored time as the UTC instant it is."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at
