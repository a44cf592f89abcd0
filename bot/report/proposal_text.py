"""A proposal as text: what it would change, where it stands, and who may move it on."""

from __future__ import annotations

from bot.approval.decisions import risk_of
from bot.approval.gate import ProposalView
from bot.approval.policy import Policy
from bot.approval.states import State
from bot.report.plan_text import _PLAIN, Style


def who_may_approve(view: ProposalView, policy: Policy) -> str:
    tier = policy.tier(risk_of(view))
    if tier is None:
        return f"no one (no tiers.{view.risk} in {policy.source})"
    names = sorted(tier.approvers) + [f"members of {g}" for g in sorted(tier.groups)]
    self_ok = "" if tier.requester_may_approve else f"; not {view.requester}, who asked"
    return (", ".join(names) or "no one") + self_ok


def render_proposal(view: ProposalView, policy: Policy, style: Style = _PLAIN) -> str:
    colour = {State.VERIFIED: "green", State.APPLIED: "green", State.APPROVED: "cyan", State.PROPOSED: "yellow"}
    lines = [style(f"Proposal {view.id}", bold=True) + f" ({view.kind}, risk {view.risk}) for "
             f"{view.cluster or 'the cluster'}: " + style(view.state.value, fg=colour.get(view.state, "red"),
                                                          bold=True) + (f" — {view.message}" if view.message else "")]
    if view.break_glass:
        lines.append(style(f"BREAK-GLASS: {view.break_glass_reason}", fg="red", bold=True))
    lines.append(f"  requested by {view.requester}; approvals {view.approvals} of {view.required}"
                 + (f" ({', '.join(view.approvers)})" if view.approvers else ""))
    if view.state in (State.PROPOSED, State.APPROVED):
        lines.append(f"  expires {view.expires_at:%Y-%m-%d %H:%M:%S} UTC; may approve: {who_may_approve(view, policy)}")
    for index, (title, command) in enumerate(view.commands(), 1):
        lines.append(f"  {index}. {title}\n     $ {command}")
    return "\n".join(lines)
