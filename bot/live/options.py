"""Which cluster and which Azure a live collection reads; plain data, cheap to import."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LiveOptions:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None  # collect namespaced KEDA objects of this namespace only
    azure: bool = True
    subscriptions: tuple[str, ...] = ()
    aks_resource_id: str | None = None
    arm_endpoint: str | None = None  # sovereign clouds, or a local ARM in tests
    connection_verify: str | bool | None = None  # a CA bundle path for ARM and Entra; None: system default
    workers: int = 8
    redact: bool = True
