"""What can go wrong when a plan runs.

ExecuteError            the plan cannot run, or stopped; `str()` is fit for a person
 +-- DriftError         live state differs from what the plan was computed from: re-plan
 +-- WriteRefused       the API refused a write or dry-run (permissions, validation, conflicts)
"""

from __future__ import annotations

from bot.errors import KedaAuthError


class ExecuteError(KedaAuthError):
    pass


class DriftError(ExecuteError):
    pass


class WriteRefused(ExecuteError):  # noqa: N818  (an outcome, as the reader's ListDenied)
    def __init__(self, message: str, status: int | None = None, permission: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.permission = permission  # the missing RBAC rule or Azure action, when the refusal names one
