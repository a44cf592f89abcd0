"""Entra-issued access tokens: minting (the token endpoint) and verification (ARM's front door).

Tokens are RS256 JWTs shaped like Entra's v1.0 app-only tokens (iss https://sts.windows.net/<tid>/, appid,
appidacr, idtyp=app, oid, sub, tid, uti, ver, xms_mirid for managed identities).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from jwt.algorithms import RSAAlgorithm

from tests.kit.azuresim.clock import arm_expiry
from tests.kit.azuresim.errors import ArmError
from tests.kit.azuresim.store import Principal
from tests.kit.sim.oidc import signing_key

TOKEN_LIFETIME = 3599
# The audiences ARM accepts, in the order its error message lists them.
ARM_AUDIENCES = ("https://management.core.windows.net/", "https://management.core.windows.net",
                 "https://management.azure.com/", "https://management.azure.com")
CLOCK_SKEW = 300  # ARM tolerates five minutes of skew on nbf/exp


@cache
def key_id() -> str:
    # Entra's kid is the base64url SHA-1 thumbprint of its signing certificate; mimic the shape.
    der = signing_key("entra").public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha1(der).digest()).decode().rstrip("=")


def issuer(tenant_id: str) -> str:
    return f"https://sts.windows.net/{tenant_id}/"


def jwks() -> dict[str, Any]:
    public = RSAAlgorithm.to_jwk(signing_key("entra").public_key(), as_dict=True)
    public.update({"kid": key_id(), "x5t": key_id(), "use": "sig", "kty": "RSA"})
    return {"keys": [public]}


def mint(principal: Principal, audience: str, now: float, *, assertion: bool) -> str:
    issued = int(now)
    claims: dict[str, Any] = {
        "aud": audience, "iss": issuer(principal.tenant_id), "iat": issued, "nbf": issued,
        "exp": issued + TOKEN_LIFETIME + 1, "aio": base64.urlsafe_b64encode(uuid.uuid4().bytes).decode(),
        "appid": principal.app_id, "appidacr": "2" if assertion else "1", "idp": issuer(principal.tenant_id),
        "idtyp": "app", "oid": principal.object_id, "rh": "0.sim.", "sub": principal.object_id,
        "tid": principal.tenant_id, "uti": uuid.uuid4().hex[:22], "ver": "1.0",
    }
    if principal.mi_resource_id:
        claims["xms_mirid"] = principal.mi_resource_id
    return jwt.encode(claims, signing_key("entra"), algorithm="RS256", headers={"kid": key_id(), "x5t": key_id()})


@dataclass(frozen=True)
class Caller:
    object_id: str
    app_id: str
    tenant_id: str


def _invalid(description: str, authority: str, tenant: str, code: str, message: str) -> ArmError:
    challenge = (f'Bearer authorization_uri="{authority}/{tenant}", error="invalid_token", '
                 f'error_description="{description}"')
    return ArmError(401, code, message, {"WWW-Authenticate": challenge})


def authenticate(header: str | None, now: float, *, authority: str, default_tenant: str) -> Caller:
    """Validate `Authorization: Bearer <jwt>` like ARM does; raises ArmError(401) with WWW-Authenticate."""
    if not header:
        raise _invalid("The authentication failed because of missing 'Authorization' header.", authority,
                       default_tenant, "AuthenticationFailed",
                       "Authentication failed. The 'Authorization' header is missing.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _invalid("The authentication failed because of invalid 'Authorization' header.", authority,
                       default_tenant, "AuthenticationFailed",
                       "Authentication failed. The 'Authorization' header is provided in an invalid format.")
    try:
        claims = jwt.decode(token.strip(), signing_key("entra").public_key(), algorithms=["RS256"],
                            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                                     "verify_iat": False})
    except jwt.PyJWTError:
        raise _invalid("The access token is invalid.", authority, default_tenant, "InvalidAuthenticationToken",
                       "The access token is invalid.") from None
    tenant = str(claims.get("tid", default_tenant))
    audience = claims.get("aud")
    if audience not in ARM_AUDIENCES:
        allowed = ",".join(f"'{a}'" for a in ARM_AUDIENCES)
        raise _invalid("The access token has been obtained for wrong audience or resource.", authority, tenant,
                       "InvalidAuthenticationToken",
                       f"The access token has been obtained for wrong audience or resource '{audience}'. It should "
                       f"exactly match with one of the allowed audiences {allowed}.")
    if float(claims.get("exp", 0)) + CLOCK_SKEW < now:
        raise _invalid("The access token expiry UTC time is earlier than current UTC time.", authority, tenant,
                       "ExpiredAuthenticationToken",
                       f"The access token expiry UTC time '{arm_expiry(float(claims['exp']))}' is earlier than "
                       f"current UTC time '{arm_expiry(now)}'.")
    return Caller(str(claims["oid"]), str(claims.get("appid", "")), tenant)


def wrong_tenant(caller: Caller, tenant_id: str, authority: str) -> ArmError:
    return _invalid("The access token is from the wrong issuer.", authority, tenant_id,
                    "InvalidAuthenticationTokenTenant",
                    f"The access token is from the wrong issuer '{issuer(caller.tenant_id)}'. It must match the "
                    f"tenant '{issuer(tenant_id)}' associated with this subscription. Please use the authority "
                    f"(URL) '{authority}/{tenant_id}' to get the token. Note, if the subscription is transferred to "
                    "another tenant there is no impact to the services, but information about new tenant could "
                    "take time to propagate (up to an hour). If you just transferred your subscription and see "
                    "this error message, please try back later.")
