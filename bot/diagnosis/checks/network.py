"""Checks for this link of the chain (filled in module by module)."""

from __future__ import annotations
