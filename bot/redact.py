"""Scrub secrets from any text before it leaves the process (terminal, JSON, SARIF, Slack, logs, SQL).

A secret becomes `<redacted:sha256-prefix>`, so two equal secrets still compare equal in the output.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

_PATTERNS: tuple[tuple[re.Pattern[str], int], ...] = (
    # Whole connection strings (Service Bus, Event Hubs, Storage) carry a key: hide them entirely.
    (re.compile(r"Endpoint=sb://[^\s\"']+", re.IGNORECASE), 0),
    (re.compile(r"DefaultEndpointsProtocol=[^\s\"']+", re.IGNORECASE), 0),
    (re.compile(r"(?:SharedAccessKey|AccountKey|SharedAccessSignature)=([^;\s\"']+)", re.IGNORECASE), 1),
    # SAS token signature in a URL or query string.
    (re.compile(r"[?&]sig=([^&\s\"']+)", re.IGNORECASE), 1),
    # JWTs (SA tokens, Entra access tokens).
    (re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), 0),
    (re.compile(r"\b[Bb]earer\s+([A-Za-z0-9._~+/=-]{16,})"), 1),
    (re.compile(r"(?:client_secret|client_assertion|access_token|refresh_token)[\"']?\s*[=:]\s*[\"']?"
                r"([^&\s\"',}]+)", re.IGNORECASE), 1),
    # Slack tokens.
    (re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}"), 0),
)


def _mask(secret: str) -> str:
    return f"<redacted:{hashlib.sha256(secret.encode()).hexdigest()[:12]}>"


def _replacer(group: int) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if group == 0:
            return _mask(whole)
        start, end = match.start(group) - match.start(0), match.end(group) - match.start(0)
        return whole[:start] + _mask(match.group(group)) + whole[end:]

    return replace


# Every pattern above needs one of these; one search rules out the common case (names, labels, specs)
# before eight substitutions run, which matters when a live collection redacts thousands of objects.
# Matched against the lower-cased text: an IGNORECASE alternation is ten times slower.
_MAYBE_SECRET = re.compile(r"endpoint=sb|defaultendpointsprotocol|sharedaccess|accountkey|sig=|eyj|bearer|"
                           r"client_secret|client_assertion|access_token|refresh_token|xox")


def might_hold_secret(text: str) -> bool:
    """False when `text` certainly holds nothing `redact` would change (one regex search)."""
    return bool(_MAYBE_SECRET.search(text.lower()))


def redact(text: str) -> str:
    if not text or not might_hold_secret(text):
        return text
    for pattern, group in _PATTERNS:
        text = pattern.sub(_replacer(group), text)
    return text


def redact_any(value: Any) -> Any:
    """Redact every string inside a JSON-like structure."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_any(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_any(v) for v in value]
    return value


def redact_for_store(value: Any) -> Any:
    """What may be persisted (SQL, audit trail): every string redacted, keys included, and the values of any
    Kubernetes Secret dropped whole, since a Secret's data is secret whatever it looks like."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        secret = value.get("kind") == "Secret"
        return {redact(str(k)): ("<redacted:secret-value>" if secret and k in ("data", "stringData")
                                 else redact_for_store(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_for_store(v) for v in value]
    return value
