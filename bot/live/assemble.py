"""Lay out what the readers gathered as bundle files (in memory): one list per file, a manifest, log tails.

The layout is decided here once, for both the live Snapshot and the bundle `collect` writes, so that the
two cannot disagree about where an object came from.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import bot
from bot.live.collection import AzureResult, Gap, KubeResult
from bot.redact import might_hold_secret, redact, redact_any
from bot.snapshot import Snapshot
from bot.snapshot.bundle import BUNDLE_FORMAT, SnapshotBuilder, snapshot_from_lists
from bot.snapshot.frozen import freeze
from bot.snapshot.timeutil import iso


@dataclass(frozen=True)
class Assembled:
    """A bundle's contents in memory: `lists` by bundle-relative path, `logs` as (path, lines).

    `built` is the Snapshot a live collection already made of these lists (reading the same reader code),
    so the live check does not build it twice.
    """

    origin: str
    manifest: dict[str, Any]
    lists: dict[str, list[dict[str, Any]]]
    logs: list[tuple[str, list[str]]]
    built: Snapshot | None = None

    def snapshot(self) -> Snapshot:
        if self.built is not None:
            return self.built
        return snapshot_from_lists(self.origin, self.manifest, self.lists, self.logs)

    @property
    def gaps(self) -> list[Gap]:
        return [Gap.from_json(g) for g in self.manifest.get("gaps", ())]

    def count(self, prefix: str) -> int:
        return sum(len(items) for path, items in self.lists.items() if path.startswith(prefix))


def _prepared(value: Any) -> Any:
    """Redacted and frozen in as few passes as possible: one C-speed serialisation tells whether an object
    can hold a secret at all (most cannot), and the frozen result passes through the bundle reader as is."""
    if might_hold_secret(json.dumps(value)):
        value = redact_any(value)
    return freeze(value)


def _cleaner(redacted: bool) -> Callable[[Any], Any]:
    return _prepared if redacted else freeze


def origin_of(kube: KubeResult) -> str:
    return f"cluster {kube.context}"


def kube_lists(kube: KubeResult, *, redacted: bool = True) -> dict[str, list[dict[str, Any]]]:
    clean = _cleaner(redacted)
    return {f"kubernetes/{kind.lower()}.json": [clean(obj) for obj in kube.objects.get(kind, ())]
            for kind in sorted(kube.collected)}


def azure_lists(azure: AzureResult, *, redacted: bool = True) -> dict[str, list[dict[str, Any]]]:
    clean = _cleaner(redacted)
    return {f"azure/{stem}.json": [clean(r) for r in resources] for stem, resources in sorted(azure.resources.items())}


def _log_path(namespace: str, pod: str, container: str | None) -> str:
    return f"logs/{namespace}/{pod}.{container}.log" if container else f"logs/{namespace}/{pod}.log"


def assemble(kube: KubeResult, azure: AzureResult | None, *, collected_at: datetime, redacted: bool = True,
             scope: dict[str, str] | None = None, kube_files: dict[str, list[dict[str, Any]]] | None = None,
             builder: SnapshotBuilder | None = None) -> Assembled:
    """Lay the collection out as bundle files. `kube_files` are the Kubernetes lists already laid out (and
    `builder` already holding them), when the caller built a Kubernetes-only Snapshot on the way."""
    lists = dict(kube_files) if kube_files is not None else kube_lists(kube, redacted=redacted)
    logs = [(_log_path(t.namespace, t.pod, t.container), [redact(line) if redacted else line for line in t.lines])
            for t in kube.logs]
    gaps = list(kube.gaps)
    collected: list[str] = sorted(kube.collected)
    azure_files = azure_lists(azure, redacted=redacted) if azure is not None else {}
    lists.update(azure_files)
    if azure is not None:
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
        "gaps": [redact_any(g.as_json()) if redacted else g.as_json() for g in gaps],
    }
    if azure is not None:
        manifest["azure"] = {"subscription_id": azure.subscriptions[0] if azure.subscriptions else None,
                             "subscriptions": list(azure.subscriptions), "tenant_id": azure.tenant_id}
    if scope:
        manifest["scope"] = scope
    built = None
    if builder is not None:
        builder.add_lists(azure_files)
        built = builder.snapshot(manifest, logs)
    return Assembled(origin=origin_of(kube), manifest=manifest, lists=lists, logs=logs, built=built)
