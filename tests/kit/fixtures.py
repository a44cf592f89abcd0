"""Read the unmodified upstream fixtures from ../shared/fixtures (never copied into this repository)."""

from __future__ import annotations

import copy
import os
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("KEDA_AUTH_SHARED", REPO.parent / "shared"))
FIXTURES = SHARED / "fixtures"


@cache
def _load(relative: str) -> tuple[Any, ...]:
    path = FIXTURES / relative
    if not path.is_file():
        raise FileNotFoundError(f"upstream fixture missing: {path} (set KEDA_AUTH_SHARED to the shared/ folder)")
    with path.open(encoding="utf-8") as handle:
        return tuple(d for d in yaml.safe_load_all(handle) if d is not None)


def documents(relative: str) -> list[dict[str, Any]]:
    """Fresh, mutable copies of every document in a fixture file."""
    return [copy.deepcopy(d) for d in _load(relative)]


def document(relative: str, kind: str, name: str | None = None) -> dict[str, Any]:
    for doc in documents(relative):
        if doc.get("kind") == kind and (name is None or doc["metadata"]["name"] == name):
            return doc
    raise KeyError(f"{kind}/{name} not in {relative}")
