"""What a live collection gathered, before it becomes a Snapshot (live `check`) or a bundle (`collect`).

Both readers fill these plain structures; nothing here talks to a cluster or to Azure. Keeping the raw
wire JSON (not client model objects) is what makes `collect` then `check --bundle` give the same answer
as the live `check`: both build their Snapshot from exactly these dictionaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.snapshot.gaps import ALL, Gap

__all__ = ["ALL", "AzureResult", "AzureWants", "Gap", "KubeResult", "LogTail"]


@dataclass(frozen=True, slots=True)
class LogTail:
    namespace: str
    pod: str
    container: str | None
    lines: tuple[str, ...]


@dataclass
class KubeResult:
    """Everything the Kubernetes reader gathered.

    `objects` maps a kind to its raw objects, each with `kind` and `apiVersion` filled in (list items on
    the wire carry neither). `collected` holds the kinds whose every list succeeded, empty ones included:
    a kind that failed anywhere is left out of both, so no check mistakes "could not read" for "none".
    """

    context: str
    server: str
    server_version: str | None = None
    issuer: str | None = None  # the service-account issuer the API server publishes, if readable
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    collected: set[str] = field(default_factory=set)
    logs: list[LogTail] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    requests: int = 0  # HTTP requests made, retries included
    pages: dict[str, int] = field(default_factory=dict)  # list pages read, per kind


@dataclass(frozen=True)
class AzureWants:
    """What the Kubernetes side says Azure must be asked about. Derived from the chain, not guessed."""

    client_ids: frozenset[str] = frozenset()  # every clientId KEDA presents (SA annotation, identityIds)
    identity_refs: frozenset[str] = frozenset()  # identityId values that may be a name, principalId or id
    subscription_hints: frozenset[str] = frozenset()  # subscriptions named by resource ids in the cluster
    sb_namespaces: frozenset[str] = frozenset()  # short Service Bus namespace names
    sb_topics: frozenset[tuple[str, str]] = frozenset()  # (namespace, topic) whose subscriptions matter
    eh_namespaces: frozenset[str] = frozenset()
    storage_accounts: frozenset[str] = frozenset()
    key_vaults: frozenset[str] = frozenset()
    log_analytics: bool = False  # any azure-log-analytics trigger (workspaces are matched by customerId)
    prometheus: bool = False  # any Azure Managed Prometheus trigger (Monitor accounts by query endpoint)
    kube_issuer: str | None = None  # to recognise the AKS cluster by its OIDC issuer
    kube_server: str | None = None  # ... or by its API server FQDN


@dataclass
class AzureResult:
    """Everything the Azure reader gathered, as ARM wire JSON (`id`, `name`, `type`, `properties`).

    `resources` maps a bundle file stem (e.g. "identities") to resources; `collected` holds the ARM types
    (canonical spelling) that were listed; `gaps` say what could not be read, `key`ed per identity or
    principal when only that share is missing.
    """

    tenant_id: str | None = None
    subscriptions: tuple[str, ...] = ()
    cluster: str | None = None  # the AKS cluster's name, when found
    resources: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    collected: set[str] = field(default_factory=set)
    gaps: list[Gap] = field(default_factory=list)
    requests: int = 0
