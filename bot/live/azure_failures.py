"""What an Azure failure becomes: a short, redacted reason, and the grant that would have let us read.

A failed ARM call never stops a collection. It is described for the person who has to fix it: the HTTP
status and ARM error code first (403 AuthorizationFailed, 429 after N attempts), then ARM's message,
which names the principal, the action and the scope.
"""

from __future__ import annotations

from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError, ServiceResponseError

from bot.live.collection import ALL, Gap
from bot.redact import redact

# What azure-core's RetryPolicy retries: these statuses were tried `attempts` times before giving up.
_RETRIED = frozenset({408, 429, 500, 502, 503, 504})
_MAX_REASON = 400

SUBSCRIPTIONS_TYPE = "Microsoft.Resources/subscriptions"
SIGN_IN = ("Sign in first: `az login` (then `az account set -s SUBSCRIPTION`), or run with workload identity "
           "(AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE injected by the webhook), or set "
           "AZURE_CLIENT_ID, AZURE_CLIENT_SECRET and AZURE_TENANT_ID for a service principal")


def reader_on(scope: str, action: str) -> str:
    """The grant for a read: Azure's built-in Reader covers every `*/read` action."""
    return f"Azure role Reader on {scope} ({action})"


def describe(error: AzureError, attempts: int) -> str:
    """`403 AuthorizationFailed: The client ... does not have authorization ...`, `429 TooManyRequests after 4
    attempts: ...`, `no answer after 4 attempts: ... Read timed out.`"""
    if isinstance(error, HttpResponseError) and error.status_code is not None:
        status = error.status_code
        code = error.error.code if error.error is not None and error.error.code else (error.reason or "")
        message = error.error.message if error.error is not None and error.error.message else ""
        head = f"{status} {code}".strip()
        if status in _RETRIED or status >= 506:
            head += f" after {attempts} attempts"
        text = f"{head}: {message}" if message else head
    elif isinstance(error, ServiceResponseError):
        text = f"no answer after {attempts} attempts: {_first_line(error)}"
    elif isinstance(error, ServiceRequestError):
        text = f"could not connect after {attempts} attempts: {_first_line(error)}"
    else:
        text = f"{type(error).__name__}: {_first_line(error)}"
    return _short(redact(text))


def sign_in_gap(error: Exception) -> Gap:
    """The one gap of a credential that cannot get an ARM token: nothing else was attempted."""
    # DefaultAzureCredential explains itself over several lines (one per credential it tried): keep them all.
    message = error.message if isinstance(error, AzureError) else str(error)
    reason = _short(redact(f"{type(error).__name__}: {' '.join(str(message).split())}"))
    return Gap("azure", "Azure resources (no ARM token could be obtained)", SIGN_IN, reason, SUBSCRIPTIONS_TYPE, ALL)


def _first_line(error: BaseException) -> str:
    message = error.message if isinstance(error, AzureError) else str(error)
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _short(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[:_MAX_REASON - 1] + "…"
