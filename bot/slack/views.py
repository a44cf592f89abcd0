"""Read-only answers: the audit list, pending proposals, App Home, and the bot's own permissions."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select

from bot.approval.decisions import expire_due
from bot.approval.gate import ProposalView, pending
from bot.approval.states import State
from bot.audit.query import EventFilter, list_events, parse_since
from bot.slack import blocks
from bot.slack.backend import Backend
from bot.store.schema import CheckRun


def _pending(backend: Backend) -> list[ProposalView]:
    with backend.store.read() as conn:
        return pending(conn, limit=20)


def audit_view(backend: Backend, since: str) -> dict[str, Any]:
    start = parse_since(since, backend.clock())
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

    answers = whoami.ask(backend.options, backend.keda_namespace, backend.credential)
    lines = ["*Kubernetes* (SelfSubjectAccessReview)", whoami.render(answers.kubernetes, markdown=True)]
    if answers.azure is not None:
        lines += ["*Azure* (ARM permissions API)", whoami.render(answers.azure, markdown=True)]
    lines.append("Grants on narrower Azure scopes (a resource group, a Service Bus namespace) are not listed here; "
                 "each fix's dry-run checks its own scope and names any missing action.")
    return "\n".join(lines)
