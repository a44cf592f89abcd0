"""The exception tree of keda-auth.

KedaAuthError
 +-- InputError        the user's input (arguments, bundle, config) cannot be used; exit status 3
     +-- BundleError   a bundle directory is missing, empty or holds nothing usable
"""

from __future__ import annotations


class KedaAuthError(Exception):
    exit_code = 1


class InputError(KedaAuthError):
    exit_code = 3


class BundleError(InputError):
    pass
