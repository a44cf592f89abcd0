"""What the Slack handlers call: the same service functions as the CLI (collect, diagnose, plan, the gate,
the executor), bound to one deployment's clusters, database, policy and Azure credential."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.approval.gate import Gate
from bot.approval.policy import Policy
from bot.diagnosis.chain import Scope
from bot.diagnosis.engine import Report, diagnose
from bot.errors import InputError
from bot.execute.executor import Executor
from bot.execute.records import StepRecord
from bot.live.options import LiveOptions
from bot.plan.plan import Plan
from bot.snapshot.model import Snapshot
from bot.store.clock import Clock, utcnow
from bot.store.db import Store


@dataclass
class Backend:
    store: Store
    policy: Policy
    options: LiveOptions  # the default cluster (kubeconfig context or in-cluster) and Azure
    clusters: tuple[str, ...] = ()  # kubeconfig contexts a `/keda-auth check CLUSTER` may name; () → the default only
    credential: Any = None  # Azure credential; None → DefaultAzureCredential
    clock: Clock = utcnow
    verify_budget: float = 120.0
    rollout_timeout: float = 300.0
    group_ttl: float = 300.0
    metrics: Any = None  # bot.slack.metrics.Metrics when served
    collect_now: Callable[[], datetime] | None = None  # the clusters' "now" (a simulator's clock in tests)
    keda_namespace: str = "keda"  # where the operator runs (kube-system for the AKS add-on), for whoami
    workers: int = 16  # flows running at once after their ack (checks, applies); more wait their turn
    _groups: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _pool: ThreadPoolExecutor | None = None

    def spawn(self, work: Callable[..., object], *args: Any) -> Future[object]:
        """Run a flow after its request was acknowledged. Acks never wait for this pool: a slow check or a
        long rollout cannot delay the next click's acknowledgement."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="keda-auth-flow")
            future = self._pool.submit(work, *args)
        future.add_done_callback(_log_failure)
        return future

    def close(self) -> None:
        """Let running flows finish (an apply half-way is better finished than reconciled), then stop."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def options_for(self, cluster: str | None, namespace: str | None = None) -> LiveOptions:
        if cluster and not self.clusters:
            raise InputError(f"this bot checks only the cluster it runs against; to name clusters, start it with "
                             f"`keda-auth serve --cluster CONTEXT` (asked for {cluster!r})")
        if cluster and cluster not in self.clusters:
            raise InputError(f"unknown cluster {cluster!r}; this bot serves: {', '.join(self.clusters)}")
        context = cluster if cluster and self.clusters else self.options.context
        return replace(self.options, context=context, namespace=namespace)

    def gate(self, client: WebClient | None = None) -> Gate:
        return Gate(self.store, self.policy, self.clock,
                    groups_of=(lambda group: self.group_members(client, group)) if client else None)

    def group_members(self, client: WebClient, group: str) -> frozenset[str]:
        """Slack user group members, cached briefly: every approval click asks."""
        with self._lock:
            cached = self._groups.get(group)
            if cached and time.monotonic() - cached[0] < self.group_ttl:
                return cached[1]
        try:
            users = frozenset(client.usergroups_users_list(usergroup=group).get("users") or ())
        except SlackApiError:
            users = frozenset()  # an unknown or unreadable group approves no one
        with self._lock:
            self._groups[group] = (time.monotonic(), users)
        return users

    def check(self, cluster: str | None, scope: Scope,
              progress: Callable[[str], None] | None = None) -> tuple[Report, Snapshot]:
        from bot.live.session import collect_live

        options = self.options_for(cluster, scope.namespace)
        if progress:
            progress("reading Kubernetes and Azure")
        assembled, _ = collect_live(options, credential=self.credential, now=self.collect_now)
        snapshot = assembled.snapshot()
        if progress:
            progress("running checks")
        return diagnose(snapshot, scope=scope), snapshot

    def recheck(self, cluster: str | None) -> Callable[[], Report]:
        from bot.execute.service import rechecker

        return rechecker(self.options_for(cluster), credential=self.credential, now=self.collect_now)

    def connector(self, cluster: str | None,
                  on_step: Callable[[StepRecord], None] | None = None) -> Callable[[Plan], Any]:
        from bot.execute.service import executor_for

        options = self.options_for(cluster)

        @contextmanager
        def connect(plan: Plan) -> Iterator[Executor]:
            with executor_for(plan, options, credential=self.credential,
                              rollout_timeout=self.rollout_timeout) as executor:
                executor.on_step = on_step
                yield executor

        return connect


def _log_failure(future: Future[object]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logging.getLogger("keda-auth").error("a Slack flow failed", exc_info=future.exception())
