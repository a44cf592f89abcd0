"""The machinery of one Azure collection: a bounded task pool whose tasks may start more tasks, a per-run
cache so no request is ever made twice, and a thread-safe sink for what was read and what was not."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.core.exceptions import AzureError

from bot.live.azure_failures import describe
from bot.live.azure_http import ArmSession
from bot.live.collection import ALL, Gap

T = TypeVar("T")
Progress = Callable[[int, int, str], None]


class TaskPool:
    """Runs tasks on at most `workers` threads; `wait()` returns once every task, and every task they
    submitted in turn, has finished. A task that raises is a bug (ARM failures become gaps), so the first
    such exception is re-raised by `wait()`."""

    def __init__(self, workers: int, progress: Progress | None) -> None:
        self._executor = ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="keda-auth-azure")
        self._progress = progress
        self._idle = threading.Condition()
        self._outstanding = 0
        self._done = 0
        self._total = 0
        self._error: BaseException | None = None

    def submit(self, label: str, task: Callable[..., None], *args: Any) -> None:
        with self._idle:
            self._outstanding += 1
            self._total += 1
        self._executor.submit(self._run, label, task, args)

    def _run(self, label: str, task: Callable[..., None], args: tuple[Any, ...]) -> None:
        try:
            task(*args)
        except BaseException as exc:
            with self._idle:
                self._error = self._error or exc
        finally:
            with self._idle:
                self._outstanding -= 1
                self._done += 1
                try:
                    if self._progress is not None:
                        # Under the lock: calls never overlap and `done` only grows.
                        self._progress(self._done, self._total, label)
                except BaseException as exc:  # a broken progress bar must not leave wait() hanging
                    self._error = self._error or exc
                finally:
                    self._idle.notify_all()

    def wait(self) -> None:
        with self._idle:
            self._idle.wait_for(lambda: self._outstanding == 0)
            error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        self._executor.shutdown(wait=True)


@dataclass(frozen=True)
class Need:
    """What one ARM call reads, said the way its Gap says it if the call fails."""

    what: str
    grant: str
    kind: str  # the ARM type left incomplete
    key: str = ALL  # the identity id / principal id / parent resource id whose share is missing


class AzureRun:
    def __init__(self, session: ArmSession, *, workers: int, progress: Progress | None) -> None:
        self.session = session
        self.pool = TaskPool(workers, progress)
        self._lock = threading.Lock()
        self._resources: dict[str, dict[str, dict[str, Any]]] = {}
        self._once: dict[Hashable, Future[Any]] = {}
        self.gaps: list[Gap] = []
        self.collected: set[str] = set()

    def call(self, key: Hashable, need: Need, read: Callable[[], T]) -> T | None:
        """`read()`'s answer, or None when it failed (then recorded as a Gap). A key is read once per run:
        a second caller, even a concurrent one, gets the first caller's answer."""
        with self._lock:
            future = self._once.get(key)
            owner = future is None
            if future is None:
                future = self._once[key] = Future()
        if not owner:
            answer: T | None = future.result()
            return answer
        try:
            answer = read()
        except AzureError as error:
            self.gap(need, describe(error, self.session.settings.attempts))
            answer = None
        except BaseException as error:
            future.set_exception(error)
            raise
        future.set_result(answer)
        return answer

    def gap(self, need: Need, reason: str) -> None:
        with self._lock:
            self.gaps.append(Gap("azure", need.what, need.grant, reason, need.kind, need.key))

    def add(self, stem: str, resources: Iterable[dict[str, Any]]) -> None:
        """Keep resources under a bundle stem; the same id read twice (an inherited role assignment seen
        from two subscriptions) is kept once."""
        with self._lock:
            kept = self._resources.setdefault(stem, {})
            for resource in resources:
                kept.setdefault(str(resource.get("id", "")).rstrip("/").lower(), resource)

    def mark_collected(self, *types: str) -> None:
        with self._lock:
            self.collected.update(types)

    def resources(self) -> dict[str, list[dict[str, Any]]]:
        """By stem, sorted by id: the same Azure state always makes the same bundle."""
        with self._lock:
            return {stem: [kept[k] for k in sorted(kept)] for stem, kept in sorted(self._resources.items())}

    def close(self) -> None:
        self.pool.close()
