"""One ARM connection for a whole Azure collection.

Every client (the three typed SDKs and the generic lister) shares one transport, the same retry settings
and one request counter, so `AzureResult.requests` counts what really went over the wire, retries
included, and a 429's `Retry-After` is honoured the same way everywhere (azure-core's RetryPolicy).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import (
    ContentDecodePolicy,
    HeadersPolicy,
    NetworkTraceLoggingPolicy,
    RequestIdPolicy,
    RetryPolicy,
    SansIOHTTPPolicy,
    UserAgentPolicy,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.core import ARMPipelineClient
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy
from azure.mgmt.msi import ManagedServiceIdentityClient

import bot

PUBLIC_ARM = "https://management.azure.com"
# The SDK clients ask for this scope whatever their base_url; the generic lister must ask for the same.
ARM_SCOPE = "https://management.azure.com/.default"
_MAX_PAGES = 10_000  # a server that keeps answering with a nextLink must not keep us forever
_TOKEN_MARGIN = 300.0  # seconds before expiry when a shared token is fetched again
_ERRORS: dict[int, type[HttpResponseError]] = {401: ClientAuthenticationError, 404: ResourceNotFoundError}


@dataclass(frozen=True)
class ArmSettings:
    base_url: str = PUBLIC_ARM
    connection_verify: str | bool | None = None  # a CA bundle path, or False; None: the system's trust
    attempts: int = 4  # per request, the first one included
    backoff: float = 0.8  # seconds; exponential, and a Retry-After header wins over it
    connect_timeout: float = 10.0
    read_timeout: float = 60.0

    def retry_kwargs(self) -> dict[str, Any]:
        retries = max(self.attempts, 1) - 1
        # RetryPolicy keeps separate budgets per failure kind; all of them bounded by `attempts`.
        return {"retry_total": retries, "retry_connect": retries, "retry_read": retries, "retry_status": retries,
                "retry_backoff_factor": self.backoff}


class RequestCounter(SansIOHTTPPolicy[Any, Any]):
    """Counts requests as they leave. Placed after the RetryPolicy, it sees every attempt."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def on_request(self, request: PipelineRequest[Any]) -> None:
        with self._lock:
            self.count += 1


class SharedToken:
    """One ARM token for every client of the run. Each client's auth policy asks its credential once, and
    AzureCliCredential (DefaultAzureCredential's fallback on a laptop) runs `az` for every ask; fetching
    under the lock also means concurrent first asks make one token request, not one per worker."""

    def __init__(self, credential: TokenCredential) -> None:
        self._credential = credential
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], AccessToken] = {}

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                  enable_cae: bool = False, **kwargs: Any) -> AccessToken:
        if claims or tenant_id:  # a claims challenge or another tenant: never answered from the cache
            return self._credential.get_token(*scopes, claims=claims, tenant_id=tenant_id, enable_cae=enable_cae,
                                              **kwargs)
        with self._lock:
            token = self._tokens.get(scopes)
            if token is None or token.expires_on - _TOKEN_MARGIN < time.time():
                token = self._tokens[scopes] = self._credential.get_token(*scopes, enable_cae=enable_cae, **kwargs)
            return token


class ArmSession:
    """The clients of one collection, created on first use per subscription and closed together."""

    def __init__(self, credential: SharedToken, settings: ArmSettings) -> None:
        self.settings = settings
        self.counter = RequestCounter()
        self._credential = credential
        transport: dict[str, Any] = {"connection_timeout": settings.connect_timeout,
                                     "read_timeout": settings.read_timeout}
        if settings.connection_verify is not None:
            transport["connection_verify"] = settings.connection_verify
        self._transport = RequestsTransport(**transport)
        self._transport.open()  # now, not lazily: several worker threads would race to open it
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        policies: list[Any] = [
            RequestIdPolicy(), HeadersPolicy(), UserAgentPolicy(sdk_moniker=f"keda-auth/{bot.__version__}"),
            RetryPolicy(**settings.retry_kwargs()), self.counter,
            ARMChallengeAuthenticationPolicy(credential, ARM_SCOPE), ContentDecodePolicy(), NetworkTraceLoggingPolicy(),
        ]
        self._lister: ARMPipelineClient[HttpRequest, Any] = ARMPipelineClient(
            base_url=settings.base_url, policies=policies, transport=self._transport)

    @property
    def requests(self) -> int:
        return self.counter.count

    def _client_kwargs(self) -> dict[str, Any]:
        return {"base_url": self.settings.base_url, "transport": self._transport,
                "per_retry_policies": [self.counter], **self.settings.retry_kwargs()}

    def _client(self, kind: type[Any], subscription: str) -> Any:
        with self._lock:
            key = (kind.__name__, subscription.lower())
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = kind(self._credential, subscription, **self._client_kwargs())
            return client

    def identities(self, subscription: str) -> ManagedServiceIdentityClient:
        client: ManagedServiceIdentityClient = self._client(ManagedServiceIdentityClient, subscription)
        return client

    def authorization(self, subscription: str) -> AuthorizationManagementClient:
        client: AuthorizationManagementClient = self._client(AuthorizationManagementClient, subscription)
        return client

    def containers(self, subscription: str) -> ContainerServiceClient:
        client: ContainerServiceClient = self._client(ContainerServiceClient, subscription)
        return client

    # -- the generic lister: raw ARM JSON for the resource types no SDK is installed for
    def list_all(self, path: str, api_version: str) -> list[dict[str, Any]]:
        """Every item of an ARM collection, following `nextLink` (which carries the api-version)."""
        request = HttpRequest("GET", self._lister.format_url(path), params={"api-version": api_version})
        items: list[dict[str, Any]] = []
        for _ in range(_MAX_PAGES):
            body = self._send(request)
            items += [item for item in body.get("value") or () if isinstance(item, dict)]
            next_link = body.get("nextLink")
            if not isinstance(next_link, str) or not next_link:
                break
            request = HttpRequest("GET", next_link)
        return items

    def send(self, method: str, path: str, api_version: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        """One raw ARM request; (status, JSON body). Errors are the caller's to read, not raised."""
        request = HttpRequest(method, self._lister.format_url(path), params={"api-version": api_version},
                              json=body)
        response = self._lister.send_request(request)
        try:
            data = response.json() if response.content else {}
        except ValueError:
            data = {}
        return response.status_code, data if isinstance(data, dict) else {}

    def _send(self, request: HttpRequest) -> dict[str, Any]:
        response = self._lister.send_request(request)
        if response.status_code >= 400:
            error = _ERRORS.get(response.status_code, HttpResponseError)
            raise error(response=response, error_format=ARMErrorFormat)
        body = response.json() if response.content else {}
        return body if isinstance(body, dict) else {}

    def close(self) -> None:
        # The SDK clients share the transport; closing it closes them all.
        self._transport.close()
