"""Timestamp styles of ARM and Entra, for the simulator's clock (tests/kit/sim/clock.py)."""

from __future__ import annotations

from datetime import UTC, datetime


def arm_time(ts: float) -> str:
    """ARM's timestamp style: seven fractional digits and a Z, e.g. 2022-08-02T06:15:07.8466405Z."""
    moment = datetime.fromtimestamp(ts, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"


def entra_time(ts: float) -> str:
    """Entra's error timestamp style: 2026-01-18 00:16:16Z."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def entra_precise(ts: float) -> str:
    """The style AADSTS700024 uses for its time range: 2023-08-01T11:08:01.5274809Z."""
    return arm_time(ts)


def arm_expiry(ts: float) -> str:
    """ExpiredAuthenticationToken prints .NET's invariant culture style: 5/1/2023 10:00:00 AM."""
    moment = datetime.fromtimestamp(ts, tz=UTC)
    hour = moment.hour % 12 or 12
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment:%M:%S} {'AM' if moment.hour < 12 else 'PM'}"
