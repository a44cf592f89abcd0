"""The exception tree of keda-auth.

KedaAuthError
 +-- InputError        the user's input (arguments, bundle, config) cannot be used; exit status 3
 |   +-- BundleError   a bundle directory is missing, empty or holds nothing usable
 +-- Refused           the approval gate said no (policy, state, expiry, kill switch); exit status 2
"""

from __future__ import annotations


class KedaAuthError(Exception):
    exit_code = 1


class InputError(KedaAuthError):
    exit_code = 3


class BundleError(InputError):
    pass


class Refused(KedaAuthError):  # noqa: N818 (a refusal is an answer, not an error)
    """The approval gate refused an action; the message says why and what would allow it."""

    exit_code = 2
