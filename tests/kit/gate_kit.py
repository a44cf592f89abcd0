"""Helpers for the approval-gate and store tests: a migrated store on either backend, a policy written as the
YAML a team would write, the audit trail as rows, and a live chain broken for one Kubernetes fix whose
writes the Kubernetes simulator's request log can count.

    with migrated_store(database_url) as store:       # SQLite is migrated on open; PostgreSQL here first
        gate = Gate(store, policy(approvers=["U0AAA1", "U0BBB2"]))

    live = LiveChain(sc)                               # sc: a tests/kit/scenario.py Scenario
    plan = live.broken_plan()                          # SA client-id annotation missing: annotate + restart
    live.start_counting(); ...; live.writes()          # the real (non dry-run) writes to the plan's targets
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, select

from bot.approval.policy import Policy, parse_policy
from bot.diagnosis.engine import diagnose
from bot.execute.executor import Executor
from bot.plan.plan import Plan
from bot.plan.planner import make_plan
from bot.snapshot.bundle import read_bundle
from bot.store import chain, migrate
from bot.store.db import Store, create_store_engine, open_store
from bot.store.schema import AuditEvent, StepExecution
from remediations.model import KubeEdit, Restart
from tests.kit.scenario import WI_CLIENT_ID, Scenario
from tests.kit.scenario_breakers import BREAKERS
from tests.test_fix_e2e import executor, plan_for, state_of

FINDING = "wi-sa-clientid-missing"  # fixed by annotating KEDA's ServiceAccount, then restarting the operator
BUNDLE = "examples/bundles/broken-pod-label"
TIERS = ("restart", "patch", "azure-rbac")


@contextmanager
def migrated_store(url: str) -> Iterator[Store]:
    """The store at `url`, at the head revision (PostgreSQL is migrated as `keda-auth db upgrade` would)."""
    if url.startswith("postgresql"):
        engine = create_store_engine(url)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()


def policy(approvers: Sequence[str] = ("U0AAA1", "U0BBB2"), *, required: int = 1,
           requester_may_approve: bool = False, expiry: str = "30m", kill_switch: bool = False,
           clusters: Sequence[str] = ("*",), namespaces: Sequence[str] = ("*",), tiers: Sequence[str] = TIERS,
           source: str = "policy.yaml") -> Policy:
    """A policy as YAML, parsed as the product parses a team's file."""
    rule = {"approvers": list(approvers), "required": required, "requester_may_approve": requester_may_approve,
            "expiry": expiry}
    document = {"kill_switch": kill_switch, "allow": {"clusters": list(clusters), "namespaces": list(namespaces)},
                "tiers": {tier: rule for tier in tiers}}
    return parse_policy(json.dumps(document), source)  # JSON is YAML


def bundle_plan() -> Plan:
    """An offline plan (no cluster needed): label and restart keda/keda-operator on aks-prod-weu."""
    snapshot = read_bundle(BUNDLE)
    plan = make_plan(diagnose(snapshot), snapshot)
    assert plan.steps and plan.cluster == "aks-prod-weu", plan
    return plan


def audit_events(store: Store, proposal_id: str | None = None) -> list[RowMapping]:
    with store.read() as conn:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if proposal_id is not None:
            query = query.where(AuditEvent.proposal_id == proposal_id)
        return list(conn.execute(query).mappings().all())


def actions(store: Store, proposal_id: str | None = None) -> list[str]:
    return [e["action"] for e in audit_events(store, proposal_id)]


def step_rows(store: Store, proposal_id: str) -> list[RowMapping]:
    with store.read() as conn:
        return list(conn.execute(select(StepExecution).where(StepExecution.proposal_id == proposal_id)
                                 .order_by(StepExecution.run, StepExecution.position)).mappings().all())


def verified_chain(store: Store) -> chain.ChainReport:
    with store.read() as conn:
        return chain.verify(conn)


@dataclass
class LiveChain:
    """A live chain (tests/kit/scenario.py) shared by several tests: each asks for a freshly broken plan."""

    sc: Scenario

    def connect(self, plan: Plan) -> AbstractContextManager[Executor]:
        return executor(self.sc, plan)

    def broken_plan(self) -> Plan:
        """Put the chain back to one known break (whatever an earlier test left) and plan its fix."""
        self.sc.patch_service_account({WI_CLIENT_ID: None, "team": None})
        BREAKERS[FINDING](self.sc)  # removes the annotation, restarts the operator, waits for the new pod
        plan = plan_for(self.sc, [FINDING])
        kinds = [type(s.action) for s in plan.steps]
        assert kinds == [KubeEdit, Restart], [s.title for s in plan.steps]
        return plan

    def state(self, plan: Plan) -> dict[str, Any]:
        """The plan's targets as they are, resourceVersions included: equal means nothing was written."""
        return state_of(self.sc, plan, versions=True)

    def client_id_annotated(self) -> bool:
        sa = self.sc.kube.core.read_namespaced_service_account(self.sc.service_account, self.sc.namespace)
        return WI_CLIENT_ID in (sa.metadata.annotations or {})

    def start_counting(self) -> None:
        self.sc.kube.require_sim("counts the writes the API server received").server.requests.clear()

    def writes(self) -> list[str]:
        """Real writes (dry runs excluded) to KEDA's ServiceAccount and operator Deployment since start_counting."""
        server = self.sc.kube.require_sim("counts the writes the API server received").server
        ns, sa, deploy = self.sc.namespace, self.sc.service_account, self.sc.operator
        targets = {f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}": "ServiceAccount",
                   f"/apis/apps/v1/namespaces/{ns}/deployments/{deploy}": "Deployment"}
        return [f"{r.method} {targets[r.path]}" for r in list(server.requests)
                if r.method in ("PATCH", "PUT", "POST", "DELETE") and r.path in targets
                and "All" not in r.query.get("dryRun", []) and 200 <= r.status < 300]
