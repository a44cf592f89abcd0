"""The audit trail as text for on-call: event lists as aligned columns, and one proposal's whole story.

Break-glass is loud everywhere it appears: whoever reviews the trail must not be able to miss a change that
skipped approval. Before/after states are shown as stored, which is already redacted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.approval.gate import Origin, ProposalView
from bot.audit.query import EventRow, Story
from bot.store.clock import aware
from remediations.model import step_from

Style = Callable[..., str]
_PLAIN: Style = lambda text, **_: text  # noqa: E731
BREAK_GLASS = "BREAK-GLASS"
_SUMMARY_WIDTH = 100
_STATE_COLOURS = {"verified": "green", "applied": "green", "undone": "cyan", "rejected": "red", "failed": "red",
                  "expired": "yellow", "proposed": "yellow", "approved": "blue", "applying": "magenta"}
# The first of these the detail holds says best what an event was about.
_SUMMARY_KEYS = ("reason", "comment", "outcome", "message", "undo_proposal", "undo_of", "expired_at")


def when(at: datetime | None) -> str:
    return aware(at).strftime("%Y-%m-%d %H:%M:%S") if at is not None else "-"


def one_line(value: Any, width: int = _SUMMARY_WIDTH) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def summary(event: EventRow) -> str:
    """What the event was about, in a phrase: the step and its outcome, the reason, the comment…"""
    detail, action = event.detail, event.action
    if action == "check.run":
        return one_line(f"{detail.get('critical', 0)} critical, {detail.get('warning', 0)} warning from "
                        f"{detail.get('source', '?')}")
    if action == "proposal.created":
        steps = detail.get("steps") or []
        text = f"{detail.get('kind', 'fix')}, risk {detail.get('risk', '?')}, {len(steps)} step(s)"
        return one_line(text + (f", undoes {detail['undo_of']}" if detail.get("undo_of") else ""))
    parts = []
    if "step" in detail:
        parts.append(f"{detail['step']}: {detail.get('status', '')}")
    if "approvals" in detail:
        parts.append(f"{detail['approvals']} approvals")
    key = next((k for k in _SUMMARY_KEYS if detail.get(k)), None)
    if key is not None:
        parts.append(f"{key.replace('_', ' ')}: {detail[key]}" if key in ("undo_proposal", "undo_of")
                     else str(detail[key]))
    if not parts and detail.get("plan_hash"):
        parts.append(f"{detail.get('kind', 'fix')}, plan {detail['plan_hash'][:12]}")
    return one_line(" — ".join(parts))


_HEADINGS = ("TIME (UTC)", "SEQ", "ACTOR", "ACTION", "PROPOSAL", "CLUSTER", "STATE", "SUMMARY")


def render_events(events: Sequence[EventRow], total: int, style: Style = _PLAIN, *,
                  proposal_column: bool = True) -> str:
    if not events:
        return "no audit events match"
    table = [[when(e.at), str(e.seq), e.actor, e.action, e.proposal_id or "-", e.cluster or "-", e.state or "-",
              summary(e)] for e in events]
    headings = list(_HEADINGS)
    if not proposal_column:
        headings.pop(4)
        for cells in table:
            cells.pop(4)
    widths = [max(len(h), *(len(cells[i]) for cells in table)) for i, h in enumerate(headings[:-1])]
    lines = [style("  ".join([*(h.ljust(w) for h, w in zip(headings, widths, strict=False)), headings[-1]]),
                   bold=True)]
    for event, cells in zip(events, table, strict=True):
        padded = [c.ljust(w) for c, w in zip(cells[:-1], widths, strict=True)]
        padded[-1] = style(padded[-1], fg=_STATE_COLOURS.get(event.state or ""))
        flag = style(BREAK_GLASS, fg="red", bold=True) + " " if event.break_glass else ""
        lines.append("  ".join(padded) + "  " + flag + cells[-1])
    if proposal_column:
        more = "; --limit to see more" if len(events) < total else ""
        lines.append(style(f"showing {len(events)} of {total}{more}", dim=True))
    return "\n".join(lines)


def _origin(raw: dict[str, Any]) -> str:
    try:
        return str(Origin(**raw))
    except TypeError:
        return one_line(raw)


def _header(view: ProposalView, style: Style) -> list[str]:
    colour = _STATE_COLOURS.get(view.state.value)
    lines = [style(f"Proposal {view.id}", bold=True) + f" ({view.kind}"
             + (f" of proposal {view.undoes})" if view.undoes else ")") + ": "
             + style(view.state.value, fg=colour, bold=True) + (f" — {view.message}" if view.message else ""),
             f"  risk: {view.risk}; cluster: {view.cluster or '-'}; namespaces: {', '.join(view.namespaces) or '-'}",
             f"  findings: {', '.join(view.findings) or '-'}",
             f"  requested by {view.requester} from {_origin(view.origin)}",
             f"  created {when(view.created_at)} UTC; expires {when(view.expires_at)} UTC; "
             f"state since {when(view.state_changed_at)} UTC",
             f"  approvals: {view.approvals} of {view.required}"
             + (f" ({', '.join(view.approvers)})" if view.approvers else ""),
             f"  plan hash: {view.plan_hash}"]
    if view.break_glass:
        bar = style("!" * 72, fg="red", bold=True)
        lines += [bar, style(f"!! {BREAK_GLASS}: approved by its own requester, {view.requester}, with no second "
                             "person", fg="red", bold=True),
                  style(f"!! reason: {view.break_glass_reason or '(none recorded)'}", fg="red", bold=True), bar]
    return lines


def _plan_steps(view: ProposalView) -> list[str]:
    payload = view.payload
    if view.kind == "undo":
        by_key = {s.get("key"): s for s in (payload.get("plan") or {}).get("steps") or []}
        changed = [r for r in payload.get("steps") or [] if r.get("status") in ("applied", "started")][::-1]
        lines = [f"Undo ({len(changed)} step(s), last change first):"]
        for index, record in enumerate(changed, 1):
            lines.append(f"  {index}. undo: {record.get('title')}")
            lines.append(f"     $ {by_key.get(record.get('key'), {}).get('undo_command', '(command not recorded)')}")
        return lines
    steps = payload.get("steps") or []
    lines = [f"Plan ({len(steps)} step(s), in this order):"]
    for index, step in enumerate(steps, 1):
        lines.append(f"  {index}. [{step.get('plane', '?')}, risk {step.get('risk', '?')}] {step.get('title')}")
        lines.append(f"     target: {_target(step)}")
        lines.append(f"     $ {step.get('command')}")
        lines.append(f"     undo: {step.get('undo_command')}")
    return lines


def _target(step: dict[str, Any]) -> str:
    try:
        return step_from(step).target
    except (KeyError, TypeError, ValueError):
        return "-"  # the hash check at apply refuses such a payload; the review still shows the rest


def _check_run(run: dict[str, Any] | None) -> list[str]:
    if run is None:
        return []
    found = ", ".join(f"{f['finding_id']} ({f['severity']})" for f in run["findings"]) or "nothing"
    return [f"From check run {run['id']} at {when(run['at'])} UTC by {run['actor']} on {run['source']}: {found}"]


def _decisions(rows: list[dict[str, Any]], style: Style) -> list[str]:
    lines = ["Decisions:"] if rows else ["Decisions: none"]
    for row in rows:
        verb = style(row["decision"], fg="green" if row["decision"] == "approve" else "red", bold=True)
        lines.append(f"  {when(row['at'])}  {row['actor']} {verb}"
                     + (f": {one_line(row['comment'])}" if row["comment"] else "")
                     + f"  (plan {row['plan_hash'][:12]})")
    return lines


def _duration(started: datetime | None, finished: datetime | None) -> str:
    if started is None:
        return "not run"
    if finished is None:
        return f"started {when(started)}, never finished"
    return f"{when(started)} → {when(finished)} ({(finished - started).total_seconds():.1f} s)"


def _steps(rows: list[dict[str, Any]], style: Style) -> list[str]:
    lines = [] if not rows else ["Step executions:"]
    for row in rows:
        colour = {"applied": "green", "undone": "green", "skipped": "cyan"}.get(row["status"], "red")
        lines.append(f"  {row['run']} {row['position'] + 1}. " + style(row["status"], fg=colour, bold=True)
                     + f"  {row['title']}" + (f" — {row['message']}" if row["message"] else ""))
        lines.append(f"     target: {row['target']}; {_duration(row['started_at'], row['finished_at'])}")
        for side in ("before", "after"):
            if row[side] is not None:
                lines.append(f"     {side}: {one_line(row[side], 160)}")
    return lines


def _verifications(rows: list[dict[str, Any]], style: Style) -> list[str]:
    lines = [] if not rows else ["Verifications:"]
    for row in rows:
        colour = {"verified": "green", "failed": "red"}.get(row["outcome"], "yellow")
        detail = row["detail"] or {}
        lines.append(f"  {when(row['at'])}  " + style(row["outcome"], fg=colour, bold=True)
                     + f" ({detail.get('seconds', '?')} s)")
        for check in (*(detail.get("steps") or ()), *(detail.get("findings") or ())):
            lines.append(f"     {check.get('status')}: {check.get('what')} — {check.get('message')}")
    return lines


def render_story(story: Story, style: Style = _PLAIN) -> str:
    sections = [_header(story.proposal, style), _check_run(story.check_run), _plan_steps(story.proposal),
                _decisions(story.decisions, style), _steps(story.steps, style),
                _verifications(story.verifications, style),
                ["Timeline:", *("  " + line for line in
                                render_events(story.events, len(story.events), style,
                                              proposal_column=False).splitlines())]]
    return "\n\n".join("\n".join(section) for section in sections if section)
