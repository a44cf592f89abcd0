"""Diagnose a ClusterState exactly as a user would: write the bundle, read it back, run every check."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bot.diagnosis.engine import Report, diagnose
from bot.snapshot.bundle import read_bundle
from tests.kit.cluster import ClusterState


def diagnose_state(state: ClusterState, directory: Path, only: Iterable[str] | None = None) -> Report:
    """`only` limits the run to some checks, so their own requests for input can be told apart."""
    return diagnose(read_bundle(state.write(directory)), only=only)


def finding_ids(report: Report) -> set[str]:
    return {f.id for f in report.findings}


def assert_clean(report: Report, ids: Iterable[str]) -> None:
    """None of `ids` fired, and no check lacked the input it needed to decide."""
    assert not finding_ids(report) & set(ids)
    assert not [f for f in report.findings if f.id == "input-missing"]
