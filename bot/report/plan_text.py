"""Plans, dry-runs, executions and verifications as text for a person (the terminal, and Slack later)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.execute.outcomes import DryRun
from bot.execute.records import Execution, Status
from bot.execute.verify import Verification
from bot.plan.plan import Plan

Style = Callable[..., str]
_PLAIN: Style = lambda text, **_: text  # noqa: E731
_SETTLE = {300: "federated credentials take seconds to a few minutes to be trusted",
           600: "role assignments take up to ~10 minutes to apply"}


def _minutes(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


def render_plan(plan: Plan, style: Style = _PLAIN) -> str:
    lines = [style(f"Plan {plan.id}", bold=True) + f" for {plan.cluster or 'the cluster'} ({plan.source}), "
             f"made {plan.created_at}; highest risk: {plan.risk.name.lower()}"]
    if not plan.steps and not plan.manual:
        lines.append("Nothing to fix.")
    if plan.steps:
        lines.append("")
        lines.append(style(f"{len(plan.steps)} automated step(s), applied in this order:", bold=True))
    for index, step in enumerate(plan.steps, 1):
        lines.append(f"  {index}. [{step.plane.value}, risk {step.risk.name.lower()}] {step.title}")
        lines.append(f"     fixes: {', '.join(step.findings)}; target: {step.target}")
        lines.append(f"     $ {step.command}")
        lines.append(f"     undo: {step.undo_command}")
        if step.settle_seconds:
            lines.append(f"     takes effect within ~{_minutes(step.settle_seconds)}: "
                         f"{_SETTLE.get(step.settle_seconds, 'Azure propagation')}")
    for proc in plan.manual:
        lines.append("")
        lines.append(style("Manual: ", bold=True) + proc.text)
    for note in plan.notes:
        lines.append(style(f"note: {note}", fg="yellow"))
    return "\n".join(lines)


def render_dry_run(results: Sequence[DryRun], style: Style = _PLAIN) -> str:
    lines = [style("Dry run (nothing changed):", bold=True)]
    for result in results:
        colour = {"refused": "red", "already so": "green"}.get(result.outcome, "cyan")
        lines.append(f"  {style(result.outcome, fg=colour)}: {result.title}"
                     + (f" — {result.message}" if result.message else ""))
    return "\n".join(lines)


def render_execution(execution: Execution, style: Style = _PLAIN) -> str:
    colour = {"applied": "green", "undone": "green"}.get(execution.outcome, "red")
    lines = [style(f"{execution.kind} {execution.outcome}", fg=colour, bold=True) + f" (plan {execution.plan.id})"]
    for record in execution.steps:
        if record.status is Status.PENDING:
            lines.append(f"  not run: {record.title}")
            continue
        lines.append(f"  {record.status.value}: {record.title}" + (f" — {record.message}" if record.message else ""))
    lines += [style(f"  {problem}", fg="red") for problem in execution.problems]
    return "\n".join(lines)


def render_verification(verification: Verification, style: Style = _PLAIN) -> str:
    colour = {"verified": "green", "failed": "red"}.get(verification.outcome, "yellow")
    lines = [style(f"verification: {verification.outcome}", fg=colour, bold=True)
             + f" ({verification.seconds:.0f} s)"]
    for check in (*verification.steps, *verification.findings):
        lines.append(f"  {check.status}: {check.what} — {check.message}")
    return "\n".join(lines)


