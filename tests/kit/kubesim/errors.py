"""API errors as the API server sends them: a `metav1.Status` body with reason, code and details."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.kit.sim.openapi import Cause


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body

    # -- the errors the simulator raises, with the API server's wording
    @classmethod
    def not_found(cls, qualified: str, name: str, group: str, plural: str) -> ApiError:
        return cls(404, "NotFound", f'{qualified} "{name}" not found',
                   {"name": name, "group": group, "kind": plural} if group else {"name": name, "kind": plural})

    @classmethod
    def already_exists(cls, qualified: str, name: str, group: str, plural: str) -> ApiError:
        return cls(409, "AlreadyExists", f'{qualified} "{name}" already exists', _details(name, group, plural))

    @classmethod
    def conflict(cls, qualified: str, name: str, group: str, plural: str) -> ApiError:
        return cls(409, "Conflict", f'Operation cannot be fulfilled on {qualified} "{name}": the object has been '
                                    "modified; please apply your changes to the latest version and try again",
                   _details(name, group, plural))

    @classmethod
    def invalid(cls, kind: str, group: str, name: str, causes: Sequence[Cause]) -> ApiError:
        qualified_kind = f"{kind}.{group}" if group else kind
        summary = "; ".join(c.text() for c in causes) if len(causes) == 1 else \
            "[" + ", ".join(c.text() for c in causes) + "]"
        details = {"name": name, "kind": kind, "causes": [
            {"reason": c.reason, "message": c.message, "field": c.field} for c in causes]}
        if group:
            details["group"] = group
        return cls(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {summary}', details)

    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        return cls(400, "BadRequest", message)

    @classmethod
    def forbidden(cls, qualified: str, name: str, group: str, plural: str, why: str) -> ApiError:
        return cls(403, "Forbidden", f'{qualified} "{name}" is forbidden: {why}', _details(name, group, plural))

    @classmethod
    def method_not_allowed(cls) -> ApiError:
        return cls(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    @classmethod
    def unsupported_media_type(cls, content_type: str, accepted: Sequence[str]) -> ApiError:
        return cls(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted media "
                                                f"types include: {', '.join(accepted)}")

    @classmethod
    def gone(cls, message: str) -> ApiError:
        return cls(410, "Expired", message)

    @classmethod
    def internal(cls, message: str) -> ApiError:
        return cls(500, "InternalError", f"Internal error occurred: {message}", {"causes": [{"message": message}]})


def _details(name: str, group: str, plural: str) -> dict[str, Any]:
    return {"name": name, "group": group, "kind": plural} if group else {"name": name, "kind": plural}


def status_for_fault(code: int, message: str) -> dict[str, Any]:
    reasons = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout",
               401: "Unauthorized", 403: "Forbidden"}
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": reasons.get(code, "InternalError"), "code": code}
    if code == 429:
        body["details"] = {"retryAfterSeconds": 1}
    return body
