"""Helpers for tests that drive AzureSim through the real clients: KEDA-style token files and credentials."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from azure.identity import WorkloadIdentityCredential

from tests.kit.azuresim.sim import AzureSim
from tests.kit.sim.oidc import OidcIssuer
from tests.kit.sim.server import RecordedRequest, SimServer

TOKEN_EXCHANGE = "api://AzureADTokenExchange"
KEDA_SUBJECT = "system:serviceaccount:keda:keda-operator"


def token_file(directory: Path, issuer: OidcIssuer, subject: str = KEDA_SUBJECT,
               audiences: Sequence[str] = (TOKEN_EXCHANGE,), expiration_seconds: int = 3600,
               now: float | None = None) -> Path:
    """A projected service-account token file like the workload identity webhook mounts."""
    path = directory / f"azure-identity-token-{uuid.uuid4().hex[:8]}"
    path.write_text(issuer.mint(subject, list(audiences), expiration_seconds, now=now), encoding="utf-8")
    return path


def workload_credential(sim: AzureSim, client_id: str, token_path: Path, tenant_id: str | None = None,
                        **kwargs: Any) -> WorkloadIdentityCredential:
    """What KEDA builds from AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_FEDERATED_TOKEN_FILE."""
    return WorkloadIdentityCredential(tenant_id=tenant_id or sim.tenant_id, client_id=client_id,
                                      token_file_path=str(token_path), **sim.credential_kwargs(), **kwargs)


def recorded(server: SimServer, predicate: Callable[[RecordedRequest], bool], timeout: float = 2.0) -> RecordedRequest:
    """The latest logged request matching `predicate`. The server logs a request just after answering it, so a
    client can return before its request shows up: poll briefly."""
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in list(server.requests) if predicate(r)]
        if found or time.monotonic() > deadline:
            assert found, "no matching request was logged"
            return found[-1]
        time.sleep(0.005)
