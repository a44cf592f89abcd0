"""A one-line progress bar on a terminal's stderr; silent when stderr is not a terminal (CI, pipes, Slack)."""

from __future__ import annotations

import shutil
import sys
import threading
from typing import TextIO


class ProgressBar:
    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._lock = threading.Lock()
        self._drawn = False

    def __call__(self, phase: str, done: int, total: int, label: str) -> None:
        if not self.enabled:
            return
        width = 24
        filled = width * done // total if total else 0
        text = f"{phase:10} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} {label}"
        columns = shutil.get_terminal_size((80, 20)).columns
        with self._lock:
            self.stream.write("\r" + text[: columns - 1].ljust(columns - 1))
            self.stream.flush()
            self._drawn = True

    def close(self) -> None:
        if self.enabled and self._drawn:
            with self._lock:
                self.stream.write("\r" + " " * (shutil.get_terminal_size((80, 20)).columns - 1) + "\r")
                self.stream.flush()
