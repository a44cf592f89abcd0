"""An OIDC issuer that signs Kubernetes-style service-account tokens (RS256), as a cluster's issuer does.

The Kubernetes simulator mints TokenRequest tokens with it; the Entra simulator verifies client
assertions against its JWKS, the way Entra fetches an AKS cluster's OIDC discovery document.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm


@cache
def signing_key(purpose: str) -> rsa.RSAPrivateKey:
    """One RSA key per purpose ("cluster", "entra") and process: generation costs ~50 ms, and caching it keeps
    simulator start-up well under a second while Entra's tokens and clusters' tokens stay distinct."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class OidcIssuer:
    issuer: str  # e.g. https://westeurope.oic.prod-aks.azure.com/<tenant>/<uuid>/
    key_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    @property
    def _key(self) -> rsa.RSAPrivateKey:
        return signing_key("cluster")

    def mint(self, subject: str, audiences: list[str], expiration_seconds: int = 3600,
             extra: dict[str, Any] | None = None, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "sub": subject, "aud": audiences, "iat": issued,
                                  "nbf": issued, "exp": issued + expiration_seconds, "jti": str(uuid.uuid4())}
        claims.update(extra or {})
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.key_id})

    def jwks(self) -> dict[str, Any]:
        public = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        public.update({"kid": self.key_id, "use": "sig", "alg": "RS256"})
        return {"keys": [public]}

    def discovery(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "jwks_uri": f"{self.issuer.rstrip('/')}/openid/v1/jwks",
                "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"]}


def verify(token: str, jwks: dict[str, Any], *, audience: str | None = None, leeway: int = 0) -> dict[str, Any]:
    """Decode and verify `token` with a key from `jwks`; raises jwt.PyJWTError subclasses on failure."""
    header = jwt.get_unverified_header(token)
    for key in jwks.get("keys", []):
        if key.get("kid") in (None, header.get("kid")):
            public = RSAAlgorithm.from_jwk(key)
            claims: dict[str, Any] = jwt.decode(
                token, public, algorithms=["RS256"], audience=audience,  # type: ignore[arg-type]
                options={"verify_aud": audience is not None}, leeway=leeway)
            return claims
    raise jwt.InvalidSignatureError(f"no key {header.get('kid')!r} in the issuer's JWKS")
