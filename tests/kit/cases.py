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
