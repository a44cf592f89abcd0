"""One live collection: Kubernetes first, then the Azure questions it raises, laid out as a bundle.

The same function serves `keda-auth check` (diagnosed in memory), `keda-auth collect` (written to disk)
and, later, Slack. Nothing here prints; progress goes to the caller's callback.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.live.assemble import Assembled, assemble, kube_lists, origin_of
from bot.live.azure_reader import collect_azure
from bot.live.collection import AzureResult
from bot.live.kube_collect import collect_kubernetes
from bot.live.kube_config import connect
from bot.live.kube_reader import KubeReader
from bot.live.options import LiveOptions
from bot.live.wants import azure_wants
from bot.snapshot.bundle import SnapshotBuilder

# progress(phase, done, total, label): phase is "kubernetes" or "azure".
Progress = Callable[[str, int, int, str], None]


@dataclass(frozen=True)
class LiveStats:
    kube_requests: int
    kube_pages: int
    arm_requests: int


def default_credential(options: LiveOptions) -> Any:
    # Imported here: azure-identity is slow to import and `check --bundle` never needs it.
    from azure.identity import DefaultAzureCredential

    kwargs: dict[str, Any] = {}
    if options.connection_verify is not None:
        kwargs["connection_verify"] = options.connection_verify
    return DefaultAzureCredential(**kwargs)


def _phase(progress: Progress | None, phase: str) -> Callable[[int, int, str], None] | None:
    if progress is None:
        return None
    return lambda done, total, label: progress(phase, done, total, label)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Parsed API answers are acyclic, so the cycle collector finds nothing in them; on a big cluster it would
    still rescan the growing heap tens of times while they are built (a quarter of a live check's time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def collect_live(options: LiveOptions, *, credential: Any = None, progress: Progress | None = None,
                 now: Callable[[], datetime] | None = None) -> tuple[Assembled, LiveStats]:
    with _collector_paused():
        return _collect_live(options, credential, progress, now)


def _collect_live(options: LiveOptions, credential: Any, progress: Progress | None,
                  now: Callable[[], datetime] | None) -> tuple[Assembled, LiveStats]:
    connection = connect(options.kubeconfig, options.context, pool_size=options.workers)
    try:
        reader = KubeReader(connection.api_client)
        kube = collect_kubernetes(reader, context=connection.context, server=connection.server,
                                  namespace=options.namespace, progress=_phase(progress, "kubernetes"),
                                  workers=options.workers)
    finally:
        connection.close()
    # The Kubernetes half is laid out, redacted and indexed once: it tells what to ask Azure, and the
    # final Snapshot reuses it.
    kube_files = kube_lists(kube, redacted=options.redact)
    builder = SnapshotBuilder(origin_of(kube))
    builder.add_lists(kube_files)
    azure: AzureResult | None = None
    if options.azure:
        kube_only = builder.snapshot({"collected": sorted(kube.collected)})
        wants = azure_wants(kube_only, kube_issuer=kube.issuer, kube_server=connection.server)
        azure = collect_azure(credential if credential is not None else default_credential(options), wants,
                              subscriptions=options.subscriptions, aks_resource_id=options.aks_resource_id,
                              base_url=options.arm_endpoint, connection_verify=options.connection_verify,
                              workers=options.workers, progress=_phase(progress, "azure"))
    collected_at = (now or (lambda: datetime.now(UTC)))()
    scope = {"namespace": options.namespace} if options.namespace else None
    assembled = assemble(kube, azure, collected_at=collected_at, redacted=options.redact, scope=scope,
                         kube_files=kube_files, builder=builder)
    stats = LiveStats(kube.requests, sum(kube.pages.values()), azure.requests if azure else 0)
    return assembled, stats
