"""What happens after a Slack request is acknowledged: the same service functions as the CLI, with the
message kept live (progress in place, details in the thread) and every refusal told to the person who
clicked, privately."""

from __future__ import annotations

from slack_sdk import WebClient
from sqlalchemy import select

from bot.approval import decisions, proposals, runner
from bot.approval.gate import Gate, Origin
from bot.approval.states import State
from bot.errors import KedaAuthError, Refused
from bot.execute.records import StepRecord
from bot.plan.planner import make_plan
from bot.slack import blocks, messages
from bot.slack.backend import Backend
from bot.slack.commands import Command
from bot.store.check_runs import record_check
from bot.store.schema import CheckRun


def tell(client: WebClient, channel: str, user: str, text: str) -> None:
    client.chat_postEphemeral(channel=channel, user=user, **blocks.notice(text))


def scope_text(cmd: Command) -> str:
    return "/".join(p for p in (cmd.scope.namespace, cmd.scope.name) if p) or "cluster-wide"


def run_check(backend: Backend, client: WebClient, channel: str, user: str, cmd: Command) -> str | None:
    """Post a message, keep it live while the check runs, end with the findings; returns the check run id."""
    cluster = cmd.cluster or backend.options.context or "the cluster"
    posted = client.chat_postMessage(channel=channel, **blocks.check_progress(cluster, scope_text(cmd), "starting",
                                                                              user))
    ts = str(posted["ts"])

    def progress(stage: str) -> None:
        client.chat_update(channel=channel, ts=ts, **blocks.check_progress(cluster, scope_text(cmd), stage, user))

    try:
        report, _ = backend.check(cmd.cluster, cmd.scope, progress)
    except KedaAuthError as exc:
        client.chat_update(channel=channel, ts=ts, **blocks.notice(f"The check of {cluster} could not run: {exc}"))
        return None
    origin = Origin("slack", channel=channel, thread=ts, context=cmd.cluster)
    run_id = record_check(backend.store, report, user, origin.to_json(), scope=scope_text(cmd), clock=backend.clock)
    if backend.metrics is not None:
        backend.metrics.checked(report)
    main, thread = blocks.check_result(report, run_id, report.cluster or cluster, user)
    client.chat_update(channel=channel, ts=ts, **main)
    for extra in thread:
        client.chat_postMessage(channel=channel, thread_ts=ts, **extra)
    return run_id


def propose_fix(backend: Backend, client: WebClient, channel: str, user: str, finding_id: str,
                context: str | None, thread_ts: str | None) -> str | None:
    """A fresh look at the cluster (any replica may serve this click), a plan for one finding, a proposal."""
    gate = backend.gate(client)
    try:
        report, snapshot = backend.check(context, Command("check").scope)
        plan = make_plan(report, snapshot, only=[finding_id])
        if not plan.steps:
            still = any(f.id == finding_id for f in report.findings)
            tell(client, channel, user, f"{finding_id} has no automated fix: follow the manual procedure in the "
                 "check's thread" if still else f"{finding_id} is no longer found on a fresh check: nothing to fix")
            return None
        view = proposals.propose(gate, plan, user, Origin("slack", channel=channel, thread=thread_ts,
                                                          context=context))
    except KedaAuthError as exc:
        tell(client, channel, user, str(exc))
        return None
    messages.post_proposal(gate, client, view.id, channel, thread_ts)
    return view.id


def context_of_run(backend: Backend, run_id: str) -> str | None:
    with backend.store.read() as conn:
        origin = conn.execute(select(CheckRun.origin).where(CheckRun.id == run_id)).scalar_one_or_none()
    return (origin or {}).get("context")


def approve(backend: Backend, client: WebClient, channel: str, user: str, proposal_id: str,
            comment: str = "") -> None:
    gate = backend.gate(client)
    try:
        view = decisions.approve(gate, proposal_id, user, comment)
    except Refused as exc:
        tell(client, channel, user, str(exc))
        messages.refresh(gate, client, proposal_id)  # it may have expired on this click
        return
    except KedaAuthError as exc:
        tell(client, channel, user, str(exc))
        return
    messages.refresh(gate, client, proposal_id)
    if view.state is State.APPROVED:
        apply(backend, gate, client, channel, user, proposal_id)


def apply(backend: Backend, gate: Gate, client: WebClient, channel: str, user: str, proposal_id: str) -> None:
    view = gate.proposal(proposal_id)
    context = view.origin.get("context")
    total = len(view.payload["steps"]) if view.kind == "fix" else 0
    done: list[StepRecord] = []

    def on_step(record: StepRecord) -> None:
        done.append(record)
        messages.refresh(gate, client, proposal_id, progress=f"applying step {len(done)} of {total or '?'}: "
                                                             f"{record.title}")
        messages.reply(gate, client, proposal_id, blocks.step_result(record, len(done), total or len(done)))

    try:
        result = runner.apply_proposal(gate, proposal_id, user, backend.connector(context, on_step),
                                       recheck=backend.recheck(context) if view.kind == "fix" else None,
                                       verify_budget=backend.verify_budget)
    except KedaAuthError as exc:
        tell(client, channel, user, str(exc))
        messages.refresh(gate, client, proposal_id)
        return
    if result.verification is not None:
        messages.reply(gate, client, proposal_id, blocks.verification(result.verification))
    if backend.metrics is not None:
        backend.metrics.applied(gate.proposal(proposal_id).state.value)
    messages.refresh(gate, client, proposal_id)


def reject(backend: Backend, client: WebClient, user: str, proposal_id: str, reason: str) -> str | None:
    """None when rejected; else why not (shown in the modal)."""
    gate = backend.gate(client)
    try:
        decisions.reject(gate, proposal_id, user, reason)
    except KedaAuthError as exc:
        return str(exc)
    messages.refresh(gate, client, proposal_id)
    return None


def undo(backend: Backend, client: WebClient, channel: str, user: str, proposal_id: str) -> None:
    gate = backend.gate(client)
    try:
        view = proposals.propose_undo(gate, proposal_id, user, Origin(
            "slack", channel=channel, context=gate.proposal(proposal_id).origin.get("context")))
    except KedaAuthError as exc:
        tell(client, channel, user, str(exc))
        return
    original = messages.where(gate, proposal_id)
    messages.post_proposal(gate, client, view.id, channel, original.thread_ts or original.ts if original else None)


def show_proposal(backend: Backend, client: WebClient, channel: str, user: str, proposal_id: str) -> None:
    gate = backend.gate(client)
    try:
        gate.proposal(proposal_id)
    except KedaAuthError as exc:
        tell(client, channel, user, str(exc))
        return
    location = messages.where(gate, proposal_id)
    if location is None:
        messages.post_proposal(gate, client, proposal_id, channel, None)
    else:
        messages.refresh(gate, client, proposal_id)
        tell(client, channel, user, f"proposal {proposal_id} is in <#{location.channel}> (refreshed with its "
                                    "current state)")


def whoami(backend: Backend, client: WebClient, channel: str, user: str) -> None:
    from bot.slack.views import whoami_text

    try:
        text = whoami_text(backend)
    except (KedaAuthError, OSError) as exc:
        text = f"Could not read this bot's Kubernetes permissions: {exc}"
    tell(client, channel, user, text)
