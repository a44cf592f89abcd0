"""The example bundles a newcomer tries are current and diagnose exactly as advertised."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.diagnosis.engine import diagnose
from bot.diagnosis.findings import Severity
from bot.snapshot.bundle import read_bundle
from tests.kit.fixtures import REPO

BUNDLES = REPO / "examples" / "bundles"
INDEX = json.loads((BUNDLES / "index.json").read_text())


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_committed_examples_match_the_generator(tmp_path: Path) -> None:
    fresh = tmp_path / "bundles"
    result = subprocess.run([sys.executable, str(REPO / "examples" / "build_examples.py"), "--out", str(fresh)],
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert tree(fresh) == tree(BUNDLES), "run `python examples/build_examples.py` and commit"


@pytest.mark.parametrize("name", sorted(INDEX))
def test_example_diagnoses_as_advertised(name: str) -> None:
    expected = INDEX[name]
    snapshot = read_bundle(BUNDLES / name)
    assert not [p for p in snapshot.problems if p.level == "error"]
    report = diagnose(snapshot)
    ids = [f.id for f in report.findings]
    assert set(expected["shows"]) <= set(ids), ids
    assert report.exit_code == expected["exit"], [(f.id, f.severity.label) for f in report.findings]
    if expected["shows"]:
        root = report.root_cause
        assert root is not None and root.id == expected["shows"][0]
    else:
        assert not [f for f in report.findings if f.severity >= Severity.WARNING]
