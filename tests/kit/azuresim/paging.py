"""Server-driven paging the way ARM does it: a page of `value` plus an absolute `nextLink` that carries
the original query (api-version, $filter, $top) and an opaque skip token."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

from tests.kit.azuresim.errors import ArmError
from tests.kit.sim.server import Request


def query(request: Request, name: str) -> str | None:
    """A query parameter looked up case-insensitively ($skipToken vs $skiptoken, api-version...)."""
    for key, values in request.query.items():
        if key.lower() == name.lower() and values:
            return values[-1]
    return None


def _decode(token: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(token.encode() + b"==").decode())
    except ValueError:
        raise ArmError(400, "InvalidSkipToken", f"The skip token '{token}' is invalid.") from None


def page(items: list[Any], request: Request, base_url: str, page_size: int, *, token_name: str = "$skipToken",
         top: int | None = None) -> dict[str, Any]:
    token = query(request, "$skipToken")
    start = _decode(token) if token else 0
    size = max(1, min(page_size, top) if top else page_size)
    body: dict[str, Any] = {"value": items[start:start + size]}
    if start + size < len(items):
        params = [(k, v[-1]) for k, v in request.query.items() if k.lower() != "$skiptoken"]
        params.append((token_name, base64.urlsafe_b64encode(str(start + size).encode()).decode().rstrip("=")))
        encoded = urlencode(params, safe="$(),'")
        body["nextLink"] = f"{base_url}{request.path}?{encoded}"
    return body
