"""Write an assembled collection to disk as a `keda-auth-bundle/v1` directory.

Refuses a directory that already holds files: a bundle is evidence, and mixing two collections in one
directory would make it lie.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.errors import InputError
from bot.live.assemble import Assembled


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so an interrupted collect never leaves a half file that reads as a whole one.
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _plain(value: Any) -> Any:
    """Collected objects are frozen (read-only mappings); JSON wants a dict."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def write_bundle(assembled: Assembled, out: str | Path) -> Path:
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise InputError(f"--out must be a directory; {root} is a file")
    if root.is_dir() and any(root.iterdir()):
        raise InputError(f"{root} is not empty; give a new or empty directory so two collections never mix")
    root.mkdir(parents=True, exist_ok=True)
    for rel_path, items in assembled.lists.items():
        body = {"apiVersion": "v1", "kind": "List", "items": items} if rel_path.startswith("kubernetes/") else {
            "value": items}
        _write(root / rel_path, json.dumps(body, indent=1, default=_plain) + "\n")
    for rel_path, lines in assembled.logs:
        _write(root / rel_path, "".join(line + "\n" for line in lines))
    # The manifest last: its presence says the bundle is complete.
    _write(root / "manifest.json", json.dumps(assembled.manifest, indent=2) + "\n")
    return root
