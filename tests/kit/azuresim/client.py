"""A thin ARM REST client on azure-mgmt-core's ARMPipelineClient for what no installed SDK covers
(resource groups, Service Bus, Event Hubs, Storage, Key Vault). It uses the same pipeline the generated
clients use (ARM bearer challenge policy, retry policy honouring Retry-After) and raises the same
azure-core exceptions with ARM's error format."""

from __future__ import annotations

from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.core.pipeline.policies import (
    ContentDecodePolicy,
    HeadersPolicy,
    NetworkTraceLoggingPolicy,
    RequestIdPolicy,
    RetryPolicy,
    UserAgentPolicy,
)
from azure.core.rest import HttpRequest
from azure.mgmt.core import ARMPipelineClient
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy

# api-versions current for each provider (any dated version is accepted by the simulator for these).
API_VERSIONS = {
    "microsoft.resources": "2024-03-01", "microsoft.servicebus": "2024-01-01", "microsoft.eventhub": "2024-01-01",
    "microsoft.storage": "2023-05-01", "microsoft.keyvault": "2023-07-01",
    "microsoft.containerservice": "2026-08-01", "microsoft.managedidentity": "2024-11-30",
    "microsoft.authorization": "2022-04-01",
}
_ERRORS: dict[int, type[HttpResponseError]] = {401: ClientAuthenticationError, 404: ResourceNotFoundError,
                                               409: ResourceExistsError}


def api_version_for(path: str) -> str:
    parts = [p.lower() for p in path.split("/") if p]
    providers = [i for i, p in enumerate(parts) if p == "providers"]
    namespace = parts[providers[-1] + 1] if providers and providers[-1] + 1 < len(parts) else "microsoft.resources"
    return API_VERSIONS.get(namespace, "2024-03-01")


class ArmRest:
    def __init__(self, credential: TokenCredential | None, base_url: str, connection_verify: str,
                 **kwargs: Any) -> None:
        """`credential=None` sends no Authorization header; `retry_*` keywords configure the RetryPolicy."""
        policies: list[Any] = [RequestIdPolicy(), HeadersPolicy(), UserAgentPolicy(sdk_moniker="keda-auth-tests"),
                               RetryPolicy(**{k: v for k, v in kwargs.items() if k.startswith("retry_")})]
        if credential is not None:
            policies.append(ARMChallengeAuthenticationPolicy(credential, "https://management.azure.com/.default"))
        policies += [ContentDecodePolicy(), NetworkTraceLoggingPolicy()]
        self._client: ARMPipelineClient[HttpRequest, Any] = ARMPipelineClient(
            base_url=base_url, policies=policies, connection_verify=connection_verify)

    def send(self, method: str, path: str, body: Any = None, *, api_version: str | None = None) -> Any:
        """The JSON body of a successful answer (None if empty); raises the azure-core error otherwise.
        `api_version=""` sends none."""
        version = api_version_for(path) if api_version is None else api_version
        request = HttpRequest(method, self._client.format_url(path), params={"api-version": version} if version else {},
                              json=body)
        response = self._client.send_request(request)
        if response.status_code >= 400:
            error = _ERRORS.get(response.status_code, HttpResponseError)
            raise error(response=response, error_format=ARMErrorFormat)
        return response.json() if response.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.send("GET", path, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> Any:
        return self.send("PUT", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.send("DELETE", path, **kwargs)

    def close(self) -> None:
        self._client.close()
