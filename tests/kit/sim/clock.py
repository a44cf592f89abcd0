"""Server-side time for the simulators: the wall clock plus an offset a test can advance.

Object ages, propagation delays, token lifetimes and log timestamps read it, so a test can jump ten
minutes ahead instead of sleeping. Clients keep their own real clock.
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

    def stamp(self, at: float | None = None) -> str:
        """Kubernetes' metav1.Time style: whole seconds and a Z."""
        return datetime.fromtimestamp(self.now() if at is None else at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
