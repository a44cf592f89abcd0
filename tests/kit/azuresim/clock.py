"""Server-side time for the Azure simulator: wall clock plus an offset tests can advance.

Propagation delays (RBAC, federated credentials), token lifetimes and `createdOn` stamps all read this
clock, so a test can jump ten minutes ahead instead of sleeping. Clients keep their own real clock.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds


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
