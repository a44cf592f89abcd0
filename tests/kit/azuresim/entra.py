"""Entra ID's token endpoint (client credentials with a client secret or a federated client assertion)
and the discovery documents MSAL reads first.

  GET  /{tenant}/v2.0/.well-known/openid-configuration
  GET  /{tenant}/discovery/v2.0/keys
  POST /{tenant}/oauth2/v2.0/token

Errors use Entra's OAuth error JSON and its AADSTS codes (see federation.py for the FIC checks).
"""

from __future__ import annotations

import hmac
import re
from typing import Any
from urllib.parse import parse_qs

from tests.kit.azuresim import federation, tokens
from tests.kit.azuresim.errors import EntraError, entra_body
from tests.kit.azuresim.store import Principal
from tests.kit.azuresim.world import World
from tests.kit.sim.server import Request, Response

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
KNOWN_RESOURCES = {
    "https://management.azure.com", "https://management.core.windows.net", "https://servicebus.azure.net",
    "https://eventhubs.azure.net", "https://storage.azure.com", "https://vault.azure.net",
    "https://monitor.azure.com", "https://prometheus.monitor.azure.com", "https://api.loganalytics.io",
    "https://graph.microsoft.com", "https://database.windows.net", "https://help.kusto.windows.net",
    "499b84ac-1321-427f-aa17-267ca6975798",  # Azure DevOps
}
# Resource hosts Entra resolves through wildcard service principal names (per-account endpoints).
_RESOURCE_HOSTS = re.compile(r"^https://[a-z0-9-]+\.(?:blob|queue|table|file|dfs)\.core\.windows\.net$|"
                             r"^https://[a-z0-9-]+\.(?:servicebus\.windows\.net|vault\.azure\.net|"
                             r"[a-z0-9]+\.kusto\.windows\.net)$", re.IGNORECASE)


class EntraApp:
    def __init__(self, world: World) -> None:
        self.world = world
        self.resources = set(KNOWN_RESOURCES)

    def __call__(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        tenant = parts[0] if parts else ""
        rest = "/".join(parts[1:]).lower()
        correlation = request.headers.get("client-request-id")
        now = self.world.clock.now()
        try:
            if request.method == "POST" and rest == "oauth2/v2.0/token":
                return self._token(tenant, request, now)
            if request.method == "GET" and rest == "v2.0/.well-known/openid-configuration":
                self._require_tenant(tenant, "invalid_tenant")
                return Response(200, self._discovery(tenant))
            if request.method == "GET" and rest in ("discovery/v2.0/keys", "discovery/keys"):
                return Response(200, tokens.jwks())
        except EntraError as error:
            return error.response(now=now, authority=self.world.authority, correlation_id=correlation)
        return Response(404, entra_body("invalid_request", 90027, "We are unable to issue tokens from this api "
                                        "version on the MSA tenant.", now=now, authority=self.world.authority,
                                        correlation_id=correlation))

    def _require_tenant(self, tenant: str, error: str = "invalid_request") -> None:
        if not self.world.store.has_tenant(tenant):
            raise EntraError(400, error, 90002,
                             f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
                             "are signing into the correct cloud. Check with your subscription administrator, this "
                             "may happen if there are no active subscriptions for the tenant.")

    def _discovery(self, tenant: str) -> dict[str, Any]:
        base = f"{self.world.authority}/{tenant}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys", "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"], "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"], "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False, "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode", "http_logout_supported": True,
            "frontchannel_logout_supported": True, "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "tenant_region_scope": "EU", "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net", "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }

    def _token(self, tenant: str, request: Request, now: float) -> Response:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()}
        self._require_tenant(tenant)
        grant = form.get("grant_type", "")
        if grant != "client_credentials":
            raise EntraError(400, "unsupported_grant_type", 70003,
                             f"The app requested an unsupported grant type '{grant}'.")
        for name in ("client_id", "scope"):
            if not form.get(name):
                raise EntraError(400, "invalid_request", 900144,
                                 f"The request body must contain the following parameter: '{name}'.")
        principal = self.world.store.app(tenant, form["client_id"])
        if principal is None:
            raise EntraError(400, "unauthorized_client", 700016,
                             f"Application with identifier '{form['client_id']}' was not found in the directory "
                             f"'{tenant}'. This can happen if the application has not been installed by the "
                             "administrator of the tenant or consented to by any user in the tenant. You may have "
                             "sent your authentication request to the wrong tenant.")
        audience = self._resource(tenant, form["scope"])
        assertion = self._authenticate_client(principal, form, now)
        token = tokens.mint(principal, audience, now, assertion=assertion)
        return Response(200, {"token_type": "Bearer", "expires_in": tokens.TOKEN_LIFETIME,
                              "ext_expires_in": tokens.TOKEN_LIFETIME, "access_token": token})

    def _resource(self, tenant: str, scope: str) -> str:
        first = scope.split(maxsplit=1)[0]
        if not first.endswith("/.default"):
            raise EntraError(400, "invalid_scope", 1002012,
                             f"The provided value for scope {scope} is not valid. Client credential flows must have a "
                             "scope value with /.default suffixed to the resource identifier (application ID URI).")
        resource = first[: -len("/.default")]
        if resource.rstrip("/").lower() not in self.resources and not _RESOURCE_HOSTS.match(resource.rstrip("/")):
            raise EntraError(400, "invalid_resource", 500011,
                             f"The resource principal named {resource} was not found in the tenant named {tenant}. "
                             "This can happen if the application has not been installed by the administrator of the "
                             "tenant or consented to by any user in the tenant. You might have sent your "
                             "authentication request to the wrong tenant.")
        return resource

    def _authenticate_client(self, principal: Principal, form: dict[str, str], now: float) -> bool:
        """True for a client assertion, False for a client secret; raises for anything else."""
        if form.get("client_assertion"):
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise EntraError(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
            federation.verify_assertion(self.world, principal, form["client_assertion"], now)
            return True
        secret = form.get("client_secret")
        if secret:
            if principal.secret is None or not hmac.compare_digest(secret, principal.secret):
                raise EntraError(401, "invalid_client", 7000215,
                                 "Invalid client secret provided. Ensure the secret being sent in the request is the "
                                 "client secret value, not the client secret ID, for a secret added to app "
                                 f"'{principal.app_id}'.")
            return False
        raise EntraError(401, "invalid_client", 7000218,
                         "The request body must contain the following parameter: 'client_assertion' or "
                         "'client_secret'.")
