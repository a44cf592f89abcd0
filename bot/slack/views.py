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
# What each fix writes in Kubernetes, so `whoami` can say which fixes the installed RBAC allows.
FIX_WRITES = (("apps", "deployments", "operator label, env, timeout and restart"),
              ("", "serviceaccounts", "ServiceAccount client-id, tenant-id and token-expiration annotations"),
              ("keda.sh", "triggerauthentications", "TriggerAuthentication identityId and Key Vault identity"),
              ("keda.sh", "scaledobjects", "ScaledObject authenticationRef and Service Bus namespace"))


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
    """The bot's own Kubernetes permissions (SelfSubjectRulesReview) and what they allow it to fix."""
    from kubernetes import client as k8s

    from bot.live.kube_config import connect

    options = backend.options
    namespaces = sorted({n for n in ("keda", *backend.policy.namespaces) if "*" not in n and "?" not in n})
    lines = []
    connection = connect(options.kubeconfig, options.context)
    try:
        api = k8s.AuthorizationV1Api(connection.api_client)
        for namespace in namespaces:
            review = api.create_self_subject_rules_review({"apiVersion": "authorization.k8s.io/v1",
                                                           "kind": "SelfSubjectRulesReview",
                                                           "spec": {"namespace": namespace}})
            rules = review.status.resource_rules or []
            for group, plural, fixes in FIX_WRITES:
                allowed = any(("patch" in r.verbs or "*" in r.verbs)
                              and (group in (r.api_groups or []) or "*" in (r.api_groups or []))
                              and (plural in (r.resources or []) or "*" in (r.resources or []))
                              for r in rules)
                names = sorted({n for r in rules for n in (r.resource_names or [])
                                if plural in (r.resources or [])})
                lines.append(f"{'✅' if allowed else '❌'} `{namespace}`: patch {plural}"
                             + (f" (only {', '.join(names)})" if allowed and names else "") + f" — {fixes}")
    finally:
        connection.api_client.close()
    lines.extend(_azure_lines(backend))
    return "\n".join(lines)


AZURE_WRITES = (("Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
                 "federated credentials"),
                ("Microsoft.Authorization/roleAssignments/write", "role assignments"),
                ("Microsoft.ManagedIdentity/userAssignedIdentities/read", "reading identities"))


def _azure_lines(backend: Backend) -> list[str]:
    """Read with the ARM permissions API at each configured subscription. Grants on narrower scopes do not
    show there; every fix's dry-run asks again at its own scope."""
    options = backend.options
    if not options.azure or not options.subscriptions:
        return ["Azure: no subscription configured (`serve --subscription ID`); each fix's dry-run asks the ARM "
                "permissions API at its own scope."]
    from bot.execute.arm_api import ArmApi
    from bot.live.session import default_credential

    arm = ArmApi(backend.credential or default_credential(options), base_url=options.arm_endpoint,
                 connection_verify=options.connection_verify)
    lines = []
    try:
        for subscription in options.subscriptions:
            scope = f"/subscriptions/{subscription}"
            missing = set(arm.missing_actions(scope, [a for a, _ in AZURE_WRITES]))
            for action, what in AZURE_WRITES:
                lines.append(f"{'❌' if action in missing else '✅'} `{scope}`: {what} (`{action}`)")
    except Exception as exc:  # the answer is about permissions: one that cannot be read is reported as such
        lines.append(f"Azure: could not read permissions: {exc}")
    finally:
        arm.close()
    lines.append("Grants on narrower scopes (a resource group, a Service Bus namespace) are not listed here; each "
                 "fix's dry-run checks its own scope and names any missing action.")
    return lines
