"""The code-quality gate runs inside the test command, so one command checks everything."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.kit.fixtures import REPO


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False, timeout=600)


def test_ruff_is_clean() -> None:
    ruff = shutil.which("ruff") or "ruff"
    result = _run(ruff, "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = _run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr
