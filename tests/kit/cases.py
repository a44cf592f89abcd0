"""A failure-mode case: how to break a healthy cluster, and a near-identical change that must stay clean."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.kit.cluster import ClusterState

Mutation = Callable[[ClusterState], None]


@dataclass(frozen=True)
class Case:
    id: str
    broken: Mutation
    near: Mutation
    label: str = ""

    def __str__(self) -> str:
        return f"{self.id}{'-' + self.label if self.label else ''}"


def nothing(state: ClusterState) -> None:
    """The healthy state itself is the near-identical control."""


def collect_cases() -> list[Case]:
    """Every failure-mode Case declared by the tests/test_checks_*.py modules (their CASES lists)."""
    import importlib
    import pkgutil

    import tests

    cases: list[Case] = []
    for module in pkgutil.iter_modules(tests.__path__):
        if module.name.startswith("test_checks_"):
            cases += getattr(importlib.import_module(f"tests.{module.name}"), "CASES", [])
    return cases
