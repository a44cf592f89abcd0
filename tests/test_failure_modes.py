"""For every failure mode: a bundle that triggers it, and a near-identical one that must not.

The cases live beside each module's focused tests (tests/test_checks_*.py, `CASES`); this runs them all
through the real path: build the state, write the bundle, read it back, diagnose.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.diagnosis.engine import diagnose
from bot.snapshot.bundle import read_bundle
from tests.kit.cases import Case, collect_cases
from tests.kit.cluster import healthy
from tests.kit.run import finding_ids

CASES = collect_cases()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_broken_cluster_reports_the_mode(case: Case, tmp_path: Path) -> None:
    state = healthy()
    case.broken(state)
    report = diagnose(read_bundle(state.write(tmp_path)), only=[case.id])
    assert case.id in finding_ids(report)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_near_identical_healthy_cluster_does_not(case: Case, tmp_path: Path) -> None:
    state = healthy()
    case.near(state)
    report = diagnose(read_bundle(state.write(tmp_path)), only=[case.id])
    assert case.id not in finding_ids(report)


def test_the_healthy_cluster_is_clean_under_every_check(tmp_path: Path) -> None:
    report = diagnose(read_bundle(healthy().write(tmp_path)))
    assert report.findings == ()
    assert report.checks_skipped == 0
