"""Read-only answers in Slack: App Home, the audit list, pending proposals, help, and one-line notices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.approval.decisions import risk_of
from bot.approval.gate import ProposalView
from bot.approval.policy import Policy
from bot.approval.states import State
from bot.audit.query import EventRow
from bot.audit.render import summary
from bot.report.proposal_text import who_may_approve
from bot.slack.blocks_core import (
    MAX_BLOCKS,
    MAX_VIEW_BLOCKS,
    Blocks,
    actions,
    button,
    context,
    divider,
    esc,
    header,
    icode,
    line_sections,
    mention,
    message,
    people,
    section,
    slack_date,
    validate_view,
    when,
)

COMMANDS = (
    ("/keda-auth check [cluster] [namespace[/scaledobject]]", "diagnose the KEDA ↔ Workload Identity chain"),
    ("/keda-auth fix <finding-id|proposal-id>", "propose the automated fix for a finding, or show a proposal"),
    ("/keda-auth audit [since]", "the audit trail, e.g. `30m`, `24h`, `7d` (default 24h)"),
    ("/keda-auth status", "pending proposals and the kill switch"),
    ("/keda-auth whoami", "what this bot's own Kubernetes permissions let it fix"),
    ("/keda-auth help", "this help"),
)
BREAK_GLASS = ":rotating_light: *BREAK-GLASS*"
_HOME_PROPOSALS = 30  # two blocks each; leaves room for checks and activity within 100


def kill_switch_line(kill_switch: tuple[bool, str]) -> str:
    on, reason = kill_switch
    if on:
        return f":octagonal_sign: *Kill switch on*: no fix is applied or undone. {esc(reason)}"
    return f":large_green_circle: Kill switch off: approved fixes may be applied. _{esc(reason)}_"


def proposal_line(view: ProposalView) -> str:
    findings = ", ".join(icode(f) for f in view.findings[:5]) + (" …" if len(view.findings) > 5 else "")
    flag = f"{BREAK_GLASS} " if view.break_glass else ""
    return (f"{flag}*{icode(view.id)}* {esc(view.state.value)} · {esc(view.kind)}, risk {esc(view.risk)} · "
            f"{icode(view.cluster or 'unnamed')} · {findings or 'no findings'} · requested by "
            f"{mention(view.requester)} · approvals {view.approvals} of {view.required} · "
            f"expires {slack_date(view.expires_at)}")


def _may_approve_text(view: ProposalView, policy: Policy) -> str:
    tier = policy.tier(risk_of(view))
    ids = [*(tier.approvers if tier else ()), *(tier.groups if tier else ()), view.requester]
    return people(who_may_approve(view, policy), ids)


def check_line(row: Mapping[str, Any]) -> str:
    raw = row.get("summary")
    if isinstance(raw, Mapping):
        text = (f"{raw.get('critical', 0)} critical, {raw.get('warning', 0)} warning, {raw.get('info', 0)} info"
                + (f"; root cause {icode(raw['root_cause'])}" if raw.get("root_cause") else "")
                + (f"; {esc(raw['scope'])}" if raw.get("scope") else ""))
    else:
        text = esc(raw or "")
    return (f"{when(row.get('at'))} · {icode(row.get('cluster') or 'unnamed')} · {mention(str(row.get('actor', '?')))}"
            f" · exit {esc(row.get('exit_code', '?'))} · {text}")


def event_line(event: EventRow, *, detail: bool = False) -> str:
    flag = f"{BREAK_GLASS} " if event.break_glass else ""
    about = icode(event.proposal_id) if event.proposal_id else (
        f"check {icode(event.check_run_id)}" if event.check_run_id else "")
    line = f"{flag}{slack_date(event.at)} · {mention(event.actor)} · *{esc(event.action)}*" + (
        f" · {about}" if about else "")
    if detail:
        if event.cluster:
            line += f" · {icode(event.cluster)}"
        said = summary(event)
        if said:
            line += f" — {esc(said)}"
    return line


def home(user_id: str, pending: list[ProposalView], policy: Policy, checks: list[dict[str, Any]],
         events: list[EventRow], kill_switch: tuple[bool, str]) -> dict[str, Any]:
    blocks: Blocks = [header("keda-auth"), section(kill_switch_line(kill_switch)), divider(),
                      header("Waiting for you")]
    mine = [v for v in pending if v.state is State.PROPOSED and user_id not in v.approvers
            and policy.may_approve(user_id, v.requester, risk_of(v), None)]
    for view in mine[:_HOME_PROPOSALS]:
        blocks.append(section(proposal_line(view)))
        blocks.append(actions(f"proposal_actions:{view.id}", [
            button("Approve", "approve", view.id, "primary"),
            button("Approve with comment", "approve_with_comment", view.id),
            button("Reject", "reject", view.id, "danger")]))
    if not mine:
        blocks.append(section("_Nothing is waiting for your approval._"))
    elif len(mine) > _HOME_PROPOSALS:
        blocks.append(context([f"…and {len(mine) - _HOME_PROPOSALS} more: `/keda-auth status` lists them all"]))
    room = MAX_VIEW_BLOCKS - len(blocks) - 6
    blocks += [divider(), header("Recent checks")]
    found, _ = line_sections([check_line(c) for c in checks], room // 2) if checks else (
        [section("_No checks yet: `/keda-auth check`._")], 0)
    blocks += found
    blocks += [divider(), header("Recent activity")]
    found, _ = line_sections([event_line(e) for e in events], MAX_VIEW_BLOCKS - len(blocks)) if events else (
        [section("_No audit events yet._")], 0)
    blocks += found
    published: dict[str, Any] = {"type": "home", "blocks": blocks}
    validate_view(published)
    return published


def audit(rows: list[EventRow], total: int, since: str) -> dict[str, Any]:
    head = section(f"*Audit trail since {esc(since)}*")
    if not rows:
        return message(f"Audit trail since {esc(since)}: no events", [head, context(["no audit events match"])])
    found, shown = line_sections([event_line(e, detail=True) for e in rows], MAX_BLOCKS - 2)
    more = " · `keda-auth audit list` shows more" if shown < total else ""
    flagged = sum(1 for e in rows[:shown] if e.break_glass)
    warn = f" · {BREAK_GLASS}: {flagged} event{'s' if flagged != 1 else ''}" if flagged else ""
    return message(f"Audit trail since {esc(since)}: showing {shown} of {total}",
                   [head, *found, context([f"showing {shown} of {total}{more}{warn}"])])


def status(pending: list[ProposalView], kill_switch: tuple[bool, str], policy: Policy) -> dict[str, Any]:
    blocks: Blocks = [section(kill_switch_line(kill_switch))]
    if not pending:
        blocks.append(section("No pending proposals."))
        return message("keda-auth status: no pending proposals", blocks)
    lines = []
    for view in pending:
        line = proposal_line(view)
        if view.state is State.PROPOSED:
            line += f"\n    may approve: {_may_approve_text(view, policy)}"
        lines.append(line)
    found, shown = line_sections([f"*Pending proposals ({len(pending)})*", *lines], MAX_BLOCKS - 2)
    blocks += found
    if shown < len(lines) + 1:
        blocks.append(context([f"showing {shown - 1} of {len(pending)}"]))
    return message(f"keda-auth status: {len(pending)} pending proposal{'s' if len(pending) != 1 else ''}", blocks)


def usage(error: str | None = None) -> dict[str, Any]:
    blocks: Blocks = []
    if error:
        blocks.append(section(f":warning: {esc(error)}"))
    lines = [f"`{esc(command)}` — {text}" for command, text in COMMANDS]
    blocks.append(section("*keda-auth* diagnoses and fixes KEDA's Azure Workload Identity authentication.\n"
                          + "\n".join(lines)))
    blocks.append(context(["Nothing changes without an approved proposal; every step is in the audit trail."]))
    return message(esc(error) if error else "keda-auth help", blocks)


def notice(text: str) -> dict[str, Any]:
    return message(esc(text), [section(esc(text))])
