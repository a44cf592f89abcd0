"""Read-only answers: the audit list, pending proposals, App Home, and the bot's own permissions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select

from bot.approval.decisions import expire_due
from bot.approval.gate import ProposalView, load
from bot.approval.states import State
from bot.audit.query import EventFilter, list_events
from bot.slack import blocks
from bot.slack.backend import Backend
from bot.store.schema import CheckRun, Proposal

PENDING = (State.PROPOSED.value, State.APPROVED.value, State.APPLYING.value, State.APPLIED.value)


def _pending(backend: Backend) -> list[ProposalView]:
    with backend.store.read() as conn:
        ids = conn.execute(select(Proposal.id).where(Proposal.state.in_(PENDING))
                           .order_by(Proposal.created_at.desc()).limit(20)).scalars().all()
        return [load(conn, i) for i in ids]


def audit_view(backend: Backend, since: str) -> dict[str, Any]:
    number, unit = int(since[:-1]), since[-1]
    start = backend.clock() - timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: number})
    with backend.store.read() as conn:
        rows, total = list_events(conn, EventFilter(since=start, limit=30))
    return blocks.audit(rows, total, since)


def status_view(backend: Backend, client: WebClient) -> dict[str, Any]:
    gate = backend.gate(client)
    expire_due(gate)
    return blocks.status(_pending(backend), gate.kill_switch(), backend.policy)


def home_view(backend: Backend, client: WebClient, user: str) -> dict[str, Any]:
    gate = backend.gate(client)
    with backend.store.read() as conn:
        checks = [dict(r) for r in conn.execute(
            select(CheckRun.at, CheckRun.cluster, CheckRun.actor, CheckRun.exit_code, CheckRun.summary)
            .order_by(CheckRun.at.desc()).limit(5)).mappings()]
        events, _ = list_events(conn, EventFilter(limit=10))
    waiting = [v for v in _pending(backend) if v.state is State.PROPOSED]
    return blocks.home(user, waiting, backend.policy, checks, events, gate.kill_switch())


def whoami_text(backend: Backend) -> str:
    """This bot's own permissions, and the checks and fixes they allow."""
    from bot import whoami
    from bot.live.kube_config import connect

    options = backend.options
    connection = connect(options.kubeconfig, options.context)
    try:
        found = whoami.kubernetes(connection.api_client, backend.keda_namespace)
    finally:
        connection.api_client.close()
    lines = ["*Kubernetes* (SelfSubjectAccessReview)", whoami.render(found, markdown=True)]
    if options.azure and options.subscriptions:
        from bot.execute.arm_api import ArmApi
        from bot.live.session import default_credential

        arm = ArmApi(backend.credential or default_credential(options), base_url=options.arm_endpoint,
                     connection_verify=options.connection_verify)
        try:
            scopes = tuple(f"/subscriptions/{s}" for s in options.subscriptions)
            lines += ["*Azure* (ARM permissions API)", whoami.render(whoami.azure(arm, scopes), markdown=True)]
        finally:
            arm.close()
    lines.append("Grants on narrower Azure scopes (a resource group, a Service Bus namespace) are not listed here; "
                 "each fix's dry-run checks its own scope and names any missing action.")
    return "\n".join(lines)
