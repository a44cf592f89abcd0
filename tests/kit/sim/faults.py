"""Fault injection shared by the simulators: latency, throttling (429 + Retry-After), 5xx and hung requests.

A rule matches on method and a path regex and fires a bounded number of times, so a test can say
"the first two LISTs of pods get a 429" and watch the client recover on the third.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field


@dataclass
class Fault:
    method: str | None = None
    path: str | None = None  # regex searched in the request path (query string excluded)
    status: int | None = None  # answer with this status instead of serving the request
    retry_after: float | None = None  # seconds, sent as the Retry-After header
    delay: float = 0.0  # seconds to wait before answering (or before serving normally)
    hang: bool = False  # never answer: the client's own timeout must fire
    drop: bool = False  # close the connection without any response
    times: int | None = 1  # None: every matching request
    message: str = ""
    fired: int = field(default=0, init=False)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or re.search(self.path, path) is not None


class FaultInjector:
    def __init__(self) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault | None = None, /, **kwargs: object) -> Fault:
        rule = fault if fault is not None else Fault(**kwargs)  # type: ignore[arg-type]
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The first live rule that matches; using it counts against its `times`."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path) and (rule.times is None or rule.fired < rule.times):
                    rule.fired += 1
                    return rule
        return None
