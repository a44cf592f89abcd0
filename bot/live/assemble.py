"""Lay out what the readers gathered as bundle files (in memory): one list per file, a manifest, log tails.

The layout is decided here once, for both the live Snapshot and the bundle `collect` writes, so that the
two cannot disagree about where an object came from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import bot
from bot.live.collection import AzureResult, Gap, KubeResult
from bot.redact import redact, redact_any
from bot.snapshot import Snapshot
from bot.snapshot.bundle import BUNDLE_FORMAT, snapshot_from_lists
from bot.snapshot.timeutil import iso


@dataclass(frozen=True)
class Assembled:
    """A bundle's contents in memory: `lists` by bundle-relative path, `logs` as (path, lines)."""

    origin: str
    manifest: dict[str, Any]
    lists: dict[str, list[dict[str, Any]]]
    logs: list[tuple[str, list[str]]]

    def snapshot(self) -> Snapshot:
        return snapshot_from_lists(self.origin, self.manifest, self.lists, self.logs)

    @property
    def gaps(self) -> list[Gap]:
        return [Gap.from_json(g) for g in self.manifest.get("gaps", ())]

    def count(self, prefix: str) -> int:
        return sum(len(items) for path, items in self.lists.items() if path.startswith(prefix))


def _kube_path(kind: str) -> str:
    return f"kubernetes/{kind.lower()}.json"


def _log_path(namespace: str, pod: str, container: str | None) -> str:
    return f"logs/{namespace}/{pod}.{container}.log" if container else f"logs/{namespace}/{pod}.log"


def assemble(kube: KubeResult, azure: AzureResult | None, *, collected_at: datetime, redacted: bool = True,
             scope: dict[str, str] | None = None) -> Assembled:
    clean: Callable[[Any], Any] = redact_any if redacted else (lambda value: value)
    lists: dict[str, list[dict[str, Any]]] = {}
    for kind in sorted(kube.collected):
        lists[_kube_path(kind)] = [clean(obj) for obj in kube.objects.get(kind, ())]
    logs = [(_log_path(t.namespace, t.pod, t.container), [redact(line) if redacted else line for line in t.lines])
            for t in kube.logs]
    gaps = list(kube.gaps)
    collected: list[str] = sorted(kube.collected)
    if azure is not None:
        for stem, resources in sorted(azure.resources.items()):
            lists[f"azure/{stem}.json"] = [clean(r) for r in resources]
        collected += sorted(azure.collected)
        gaps += azure.gaps
    cluster_name = (azure.cluster if azure else None) or kube.context
    manifest: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "collected_at": iso(collected_at),
        "collected_by": f"keda-auth {bot.__version__}",
        "cluster": {"name": cluster_name, "context": kube.context, "server": kube.server,
                    "server_version": kube.server_version, "issuer": kube.issuer},
        "redacted": redacted,
        "collected": collected,
        "gaps": [clean(g.as_json()) for g in gaps],
    }
    if azure is not None:
        manifest["azure"] = {"subscription_id": azure.subscriptions[0] if azure.subscriptions else None,
                             "subscriptions": list(azure.subscriptions), "tenant_id": azure.tenant_id}
    if scope:
        manifest["scope"] = scope
    return Assembled(origin=f"cluster {kube.context}", manifest=manifest, lists=lists, logs=logs)
