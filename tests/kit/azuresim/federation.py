"""Workload identity federation: Entra's checks of a client assertion against the identity's federated
identity credentials (FICs), with Entra's error codes.

Order: the identity has FICs (AADSTS70025) → a FIC names the assertion's issuer (700211) → its subject
matches exactly (700213; 7002138 when only the letter case differs) → one of the assertion's audiences is
the FIC's (700212) → the issuer's keys can be fetched (90061) and verify the signature (700027) → the
assertion is within its validity window (700024). `legacy_fic_errors` answers every mismatch with the
older combined AADSTS70021 instead. FICs younger than `fic_propagation_seconds` are not seen yet.
"""

from __future__ import annotations

from typing import Any

import jwt
from jwt.algorithms import RSAAlgorithm

from tests.kit.azuresim.clock import entra_precise
from tests.kit.azuresim.errors import EntraError
from tests.kit.azuresim.store import Principal, Resource
from tests.kit.azuresim.world import World

FIC_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
_DOCS = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
_CHECK = "Check your federated identity credential Subject, Audience and Issuer against the presented assertion."


def _mismatch(code: int, what: str, value: str, note: str = "", please: bool = True) -> EntraError:
    # Entra words the issuer and audience errors "Please check ...", the subject errors "Check ...".
    check = f"Please {_CHECK[0].lower()}{_CHECK[1:]}" if please else _CHECK
    return EntraError(401, "invalid_client", code, f"No matching federated identity record found for presented "
                                                   f"assertion {what} '{value}'. {note}{check} {_DOCS}")


def _legacy(issuer: str, subject: str, audience: str) -> EntraError:
    return EntraError(401, "unauthorized_client", 70021,
                      f"No matching federated identity record found for presented assertion. Assertion Issuer: "
                      f"'{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{audience}'. "
                      "https://docs.microsoft.com/en-us/azure/active-directory/develop/workload-identity-federation")


def visible_credentials(world: World, principal: Principal, now: float) -> list[dict[str, Any]]:
    """The FIC properties Entra can see for this service principal right now (after propagation)."""
    if principal.mi_resource_id is None:
        return []
    delay = world.settings.fic_propagation_seconds
    found: list[Resource] = world.store.children(principal.mi_resource_id, FIC_TYPE)
    return [r.body["properties"] for r in found if float(r.state.get("effective_at", r.created)) + delay <= now]


def _claims(assertion: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise EntraError(400, "invalid_request", 50027, "JWT token is invalid or malformed.") from None
    return claims


def _audiences(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    return [str(a) for a in aud] if isinstance(aud, list) else [str(aud)] if aud is not None else []


def match(world: World, principal: Principal, claims: dict[str, Any], now: float) -> None:
    fics = visible_credentials(world, principal, now)
    if not fics:
        raise EntraError(401, "invalid_client", 70025,
                         f"The client '{principal.display_name}' has no configured federated identity credentials.")
    issuer, subject, audiences = str(claims.get("iss", "")), str(claims.get("sub", "")), _audiences(claims)
    legacy = _legacy(issuer, subject, ",".join(audiences)) if world.settings.legacy_fic_errors else None
    by_issuer = [f for f in fics if f["issuer"] == issuer]
    if not by_issuer:
        raise legacy or _mismatch(700211, "issuer", issuer)
    by_subject = [f for f in by_issuer if f["subject"] == subject]
    if not by_subject:
        if legacy:
            raise legacy
        if any(f["subject"].lower() == subject.lower() for f in by_issuer):
            raise _mismatch(7002138, "subject", subject,
                            "The subject matches with case-insensitive comparison, but not with case-sensitive "
                            "comparison. ", please=False)
        raise _mismatch(700213, "subject", subject, please=False)
    if not any(a in f["audiences"] for f in by_subject for a in audiences):
        raise legacy or _mismatch(700212, "audience", ",".join(audiences))


def verify_signature(world: World, assertion: str, issuer: str) -> dict[str, Any]:
    jwks = world.store.trusted_issuers.get(issuer)
    if jwks is None:
        # Entra fetches <issuer>/.well-known/openid-configuration and the JWKS; unknown issuers fail here.
        raise EntraError(400, "invalid_request", 90061, "Request to External OIDC endpoint failed.")
    kid = jwt.get_unverified_header(assertion).get("kid")
    for key in jwks.get("keys", []):
        if key.get("kid") in (None, kid):
            try:
                verified: dict[str, Any] = jwt.decode(
                    assertion, RSAAlgorithm.from_jwk(key), algorithms=["RS256"],  # type: ignore[arg-type]
                    options={"verify_aud": False, "verify_exp": False, "verify_nbf": False, "verify_iat": False})
            except jwt.PyJWTError:
                break
            return verified
    raise EntraError(401, "invalid_client", 700027,
                     f"Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint "
                     f"of key used by client: '{kid}', Found key 'Start=01/01/0001 00:00:00, "
                     "End=01/01/0001 00:00:00'.]")


def check_lifetime(claims: dict[str, Any], now: float) -> None:
    starts, expires = float(claims.get("nbf", claims.get("iat", 0))), float(claims.get("exp", 0))
    if not starts <= now <= expires:
        raise EntraError(400, "invalid_client", 700024,
                         f"Client assertion is not within its valid time range. Current time: {entra_precise(now)}, "
                         f"assertion valid from {entra_precise(starts)}, expiry time of assertion "
                         f"{entra_precise(expires)}. Review the documentation at "
                         "https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-"
                         "credentials .")


def verify_assertion(world: World, principal: Principal, assertion: str, now: float) -> None:
    claims = _claims(assertion)
    match(world, principal, claims, now)
    verified = verify_signature(world, assertion, str(claims.get("iss", "")))
    check_lifetime(verified, now)
