"""Prometheus metrics for `/metrics`: checks run, findings by id, proposals by state (read from the database
at scrape time, so every replica reports the same), apply outcomes, and the Slack ack latency."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from bot.diagnosis.engine import Report
from bot.store.db import Store
from bot.store.schema import Proposal


class _ProposalStates(Collector):
    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("keda_auth_proposals", "Proposals by state", labels=["state"])
        with self.store.read() as conn:
            for state, count in conn.execute(select(Proposal.state, func.count()).group_by(Proposal.state)):
                family.add_metric([state], count)
        yield family


class Metrics:
    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()  # per app: two apps in one process (tests, replicas) never collide
        self.checks = Counter("keda_auth_checks", "Checks run from Slack", registry=self.registry)
        self.findings = Counter("keda_auth_findings", "Findings reported, by id", ["finding"], registry=self.registry)
        self.applies = Counter("keda_auth_apply_outcomes", "Apply outcomes (the proposal's state after it)",
                               ["outcome"], registry=self.registry)
        self.ack = Histogram("keda_auth_slack_ack_seconds", "Time from a Slack request to its acknowledgement",
                             buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0),
                             registry=self.registry)
        self.registry.register(_ProposalStates(store))

    def checked(self, report: Report) -> None:
        self.checks.inc()
        for finding in report.findings:
            self.findings.labels(finding.id).inc()

    def applied(self, state: str) -> None:
        self.applies.labels(state).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
