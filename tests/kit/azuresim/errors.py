"""Error bodies exactly as ARM and Entra ID send them, and the exceptions handlers raise to produce them.

ARM: `{"error": {"code": ..., "message": ...}}` (common-types ErrorResponse).
Entra: the OAuth error JSON whose `error_description` starts with `AADSTSnnnn:` and ends with the trace,
correlation and timestamp trailer that azure-identity copies into ClientAuthenticationError.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.kit.azuresim.clock import entra_time
from tests.kit.sim.server import Response


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


# Codes ARM's front door uses for infrastructure failures (what an injected fault should look like).
_ARM_FAULT_CODES = {
    400: "BadRequest", 404: "NotFound", 409: "Conflict", 429: "TooManyRequests", 500: "InternalServerError",
    502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout",
}


def arm_fault_body(status: int, message: str) -> Response:
    code = _ARM_FAULT_CODES.get(status, "InternalServerError" if status >= 500 else "BadRequest")
    return Response(status, {"error": {"code": code, "message": message}})


def not_found(resource_type: str, name: str, group: str) -> ArmError:
    return ArmError(404, "ResourceNotFound",
                    f"The Resource '{resource_type}/{name}' under resource group '{group}' was not found. "
                    "For more details please go to https://aka.ms/ARMResourceNotFoundFix")


def group_not_found(group: str) -> ArmError:
    return ArmError(404, "ResourceGroupNotFound", f"Resource group '{group}' could not be found.")


def subscription_not_found(subscription: str) -> ArmError:
    return ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")


def parent_not_found(operation: str, types: tuple[str, ...], parent_id: str) -> ArmError:
    return ArmError(404, "ParentResourceNotFound",
                    f"Failed to perform '{operation}' on resource(s) of type '{'/'.join(types)}', because the "
                    f"parent resource '{parent_id}' could not be found.")


def authorization_failed(app_id: str, object_id: str, action: str, scope: str) -> ArmError:
    return ArmError(403, "AuthorizationFailed",
                    f"The client '{app_id}' with object id '{object_id}' does not have authorization to perform "
                    f"action '{action}' over scope '{scope}' or the scope is invalid. If access was recently "
                    "granted, please refresh your credentials.")


class EntraError(Exception):
    """An AADSTS error: `error` is the OAuth error string, `code` the AADSTS number."""

    def __init__(self, status: int, error: str, code: int, message: str) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.status = status
        self.error = error
        self.code = code
        self.message = message

    def response(self, *, now: float, authority: str, correlation_id: str | None) -> Response:
        return Response(self.status, entra_body(self.error, self.code, self.message, now=now, authority=authority,
                                                correlation_id=correlation_id))


def entra_body(error: str, code: int, message: str, *, now: float, authority: str,
               correlation_id: str | None) -> dict[str, Any]:
    trace = str(uuid.uuid4())
    correlation = correlation_id or str(uuid.uuid4())
    stamp = entra_time(now)
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {message} Trace ID: {trace} Correlation ID: {correlation} "
                             f"Timestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"{authority}/error?code={code}",
    }


def entra_fault_body_for(authority: Callable[[], str]) -> Callable[[int, str], Response]:
    """fault_body for the Entra server; `authority` is a zero-argument callable (the URL exists after start)."""

    def build(status: int, message: str) -> Response:
        # Entra answers throttling and outages with its own OAuth error shape (AADSTS90033 is its transient error).
        error = "temporarily_unavailable" if status in (429, 503) else "server_error"
        return Response(status, entra_body(error, 90033, message, now=time.time(), authority=authority(),
                                           correlation_id=None))

    return build
