"""Shared fixtures: `kube` is a fresh namespace on the API-server simulator, or on a real cluster when
KUBECONFIG is set (see tests/kit/targets.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kit.targets import Kube, kube_target


@pytest.fixture
def kube() -> Iterator[Kube]:
    with kube_target() as target:
        yield target
        if target.sim is not None:
            assert target.sim.spec_violations == [], "the simulator answered outside the official spec"
