"""A fix proposal in Slack: the exact plan, where it stands, who may move it on; its steps and verification
in the thread; the modals that ask for a rejection reason or an approval comment.

Buttons carry the proposal id and nothing else: whoever clicks is authorised against the stored proposal,
never against what a message claims.
"""

from __future__ import annotations

import json
from typing import Any

from bot.approval.decisions import risk_of
from bot.approval.gate import ProposalView
from bot.approval.policy import Policy
from bot.approval.states import UNDOABLE, State
from bot.execute.records import Status, StepRecord
from bot.execute.verify import FAILED, PROPAGATING, VERIFIED, Verification
from bot.report.proposal_text import who_may_approve
from bot.slack.blocks_core import (
    FIELD_LIMIT,
    MAX_BLOCKS,
    TEXT_LIMIT,
    Blocks,
    actions,
    button,
    code,
    context,
    esc,
    fit,
    header,
    icode,
    line_sections,
    mention,
    mentions,
    message,
    people,
    plain,
    section,
    slack_date,
    validate_view,
)

_STATE_EMOJI = {State.PROPOSED: ":hourglass:", State.APPROVED: ":white_check_mark:", State.APPLYING: ":gear:",
                State.APPLIED: ":heavy_check_mark:", State.VERIFIED: ":large_green_circle:", State.FAILED: ":x:",
                State.REJECTED: ":no_entry_sign:", State.EXPIRED: ":alarm_clock:",
                State.UNDONE: ":leftwards_arrow_with_hook:"}
_STEP_EMOJI = {Status.APPLIED: ":heavy_check_mark:", Status.SKIPPED: ":fast_forward:", Status.FAILED: ":x:",
               Status.UNDONE: ":leftwards_arrow_with_hook:", Status.UNDO_FAILED: ":x:", Status.STARTED: ":gear:",
               Status.PENDING: ":hourglass:"}
_CHECK_EMOJI = {VERIFIED: ":large_green_circle:", PROPAGATING: ":hourglass_flowing_sand:", FAILED: ":x:"}
_SHORT_JSON = 2000


def status_line(view: ProposalView, progress: str | None = None) -> str:
    emoji = _STATE_EMOJI.get(view.state, "")
    state = view.state
    if state is State.PROPOSED:
        text = f"*waiting for approval ({view.approvals} of {view.required})*"
        if view.approvers:
            text += f" — approved so far by {mentions(view.approvers)}"
    elif state is State.APPROVED:
        text = f"*approved by {mentions(view.approvers)}*" if view.approvers else "*approved (break-glass)*"
    elif state is State.APPLYING:
        text = f"*{esc(progress)}*" if progress else "*applying…*"
    elif state is State.APPLIED:
        text = "*applied*" + (f" — {esc(view.message)}" if view.message else "")
    elif state is State.VERIFIED:
        text = "*verified: the findings are gone*"
    elif state is State.FAILED:
        text = f"*failed*: {esc(view.message or 'no reason recorded')}"
    elif state is State.REJECTED:
        who = "; ".join(f"{mention(actor)}: {esc(reason or 'no reason given')}" for actor, reason in view.rejected_by)
        text = f"*rejected by* {who}" if who else "*rejected*"
    elif state is State.EXPIRED:
        text = f"*expired* at {slack_date(view.expires_at)} without being applied"
    else:
        text = "*undone*" + (f" — {esc(view.message)}" if view.message else "")
    return f"{emoji} {text}".strip()


def _facts(view: ProposalView, policy: Policy) -> str:
    lines = [f"*Cluster:* {icode(view.cluster or 'unnamed')}"
             + (f" · *namespaces:* {', '.join(icode(n) for n in view.namespaces)}" if view.namespaces else ""),
             f"*Findings:* {', '.join(icode(f) for f in view.findings) or '-'}",
             f"*Requested by* {mention(view.requester)} {slack_date(view.created_at)} · "
             f"approvals {view.approvals} of {view.required}"]
    if view.undoes:
        lines.append(f"*Undoes* proposal {icode(view.undoes)}")
    if view.state in (State.PROPOSED, State.APPROVED):
        tier = policy.tier(risk_of(view))
        ids = [*(tier.approvers if tier else ()), *(tier.groups if tier else ()), view.requester]
        lines.append(f"*May approve:* {people(who_may_approve(view, policy), ids)}")
        lines.append(f"*Expires* {slack_date(view.expires_at)}")
    return "\n".join(lines)


def _step_blocks(steps: list[tuple[str, str]], room: int) -> Blocks:
    """One section per step while they fit the message; beyond that several steps share a section."""
    rendered = [f"*{n}. {esc(title)}*\n{code(command, max(200, TEXT_LIMIT - len(esc(title)) - 12))}"
                for n, (title, command) in enumerate(steps, 1)]
    if len(rendered) <= room:
        return [section(r) for r in rendered]
    per = -(-len(rendered) // max(1, room))
    return [section("\n".join(rendered[i:i + per])) for i in range(0, len(rendered), per)][:room]


def _buttons(view: ProposalView) -> list[dict[str, Any]]:
    if view.state is State.PROPOSED:
        return [button("Approve", "approve", view.id, "primary"),
                button("Approve with comment", "approve_with_comment", view.id),
                button("Reject", "reject", view.id, "danger")]
    if view.state in UNDOABLE and view.kind == "fix":
        return [button("Undo", "undo", view.id)]
    return []


def proposal(view: ProposalView, policy: Policy, *, progress: str | None = None) -> dict[str, Any]:
    what = f" (undo of {view.undoes})" if view.kind == "undo" and view.undoes else ""
    blocks: Blocks = [header(f"Fix proposal {view.id}{what} · risk {view.risk}")]
    if view.break_glass:
        blocks.append(section(f":rotating_light: *BREAK-GLASS*: approved by its own requester, "
                              f"{mention(view.requester)}, with no second person. Reason: "
                              f"{esc(view.break_glass_reason or '(none recorded)')}"))
    blocks.append(section(status_line(view, progress)))
    blocks.append(section(_facts(view, policy)))
    tail: Blocks = []
    extras = [f"_needs a person:_ {esc(m.get('title', ''))} ({icode(m.get('finding', ''))})"
              for m in view.payload.get("manual") or () if isinstance(m, dict)]
    extras += [f"_note:_ {esc(n)}" for n in view.payload.get("notes") or ()]
    if extras:
        tail.append(context(extras))
    buttons = _buttons(view)
    if buttons:
        tail.append(actions("proposal_actions", buttons))
    steps = view.commands()
    if steps:
        blocks += _step_blocks(steps, MAX_BLOCKS - len(blocks) - len(tail))
    else:
        blocks.append(section("_No steps: nothing to change._"))
    blocks += tail
    fallback = f"Fix proposal {esc(view.id)} for {esc(view.cluster or 'the cluster')}: {esc(view.state.value)}"
    if view.break_glass:
        fallback = "BREAK-GLASS " + fallback
    return message(fallback, blocks)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"),
                                                            ensure_ascii=False, default=str)
    return fit(esc(text), _SHORT_JSON - 2)


def step_result(record: StepRecord, index: int, total: int) -> dict[str, Any]:
    """`index` counts from 1: it is the k of "step k/n"."""
    emoji = _STEP_EMOJI.get(record.status, "")
    line = f"{emoji} *step {index}/{total} {esc(record.status.value)}*: {esc(record.title)}"
    if record.message:
        line += f" — {esc(record.message)}"
    notes = [f"target {icode(record.target)}"]
    for name, state in (("before", record.before), ("after", record.after)):
        if state is not None:
            notes.append(f"{name}: `{_short(state).replace('`', 'ˋ')}`")
    return message(f"step {index}/{total} {esc(record.status.value)}: {esc(record.title)}",
                   [section(line), context(notes)])


def verification(result: Verification) -> dict[str, Any]:
    emoji = _CHECK_EMOJI.get(result.outcome, "")
    head = f"{emoji} *Verification: {esc(result.outcome)}* ({result.seconds:.0f}s)"
    if result.outcome == PROPAGATING:
        head += ("\nEntra and Azure RBAC can take up to ~10 minutes: `keda-auth verify &lt;proposal-id&gt;` "
                 "checks again.")
    blocks: Blocks = [section(head)]
    for title, checks in (("Changes in place", result.steps), ("Findings on a fresh check", result.findings)):
        if not checks:
            continue
        lines = [f"{_CHECK_EMOJI.get(c.status, '')} {esc(c.what)} — {esc(c.status)}"
                 + (f": {esc(c.message)}" if c.message else "") for c in checks]
        found, shown = line_sections([f"*{title}*", *lines], (MAX_BLOCKS - len(blocks)) // 2)
        blocks += found
        if shown < len(lines) + 1:
            blocks.append(context([f"…and {len(lines) + 1 - shown} more"]))
    return message(f"Verification: {esc(result.outcome)}", blocks)


def _modal(callback_id: str, proposal_id: str, title: str, submit: str, intro: str,
           field: dict[str, Any]) -> dict[str, Any]:
    view = {"type": "modal", "callback_id": callback_id, "private_metadata": proposal_id,
            "title": plain(title, 24), "submit": plain(submit, 24), "close": plain("Cancel", 24),
            "blocks": [section(intro), field]}
    validate_view(view)
    return view


def reject_modal(proposal_id: str) -> dict[str, Any]:
    return _modal("reject_reason", proposal_id, "Reject fix", "Reject",
                  f"Reject proposal {icode(proposal_id)}? The reason goes to the requester and the audit trail.",
                  {"type": "input", "block_id": "reason", "optional": False, "label": plain("Why reject it?", 2000),
                   "element": {"type": "plain_text_input", "action_id": "reason", "multiline": True,
                               "max_length": FIELD_LIMIT}})


def approve_modal(proposal_id: str) -> dict[str, Any]:
    return _modal("approve_comment", proposal_id, "Approve fix", "Approve",
                  f"Approve proposal {icode(proposal_id)}? The comment is recorded in the audit trail.",
                  {"type": "input", "block_id": "comment", "optional": True, "label": plain("Comment", 2000),
                   "element": {"type": "plain_text_input", "action_id": "comment", "multiline": True,
                               "max_length": FIELD_LIMIT}})
