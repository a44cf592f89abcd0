"""`keda-auth plan`, `apply` and `undo`: findings to a reviewable plan, and the plan to the cluster and Azure."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

import click

from bot.cli_common import collect_state, known_checks, live_options, live_source, scope_of, text_style
from bot.diagnosis.chain import Scope
from bot.diagnosis.engine import diagnose
from bot.errors import InputError
from bot.plan.plan import Plan, plan_from_json
from bot.snapshot.bundle import read_bundle


def _read_plan(path: str) -> Plan:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read plan {path}: {exc}") from exc
    return plan_from_json(raw)


@click.command("plan")
@click.option("--bundle", type=click.Path(), metavar="DIR", help="Plan from an offline bundle.")
@click.option("--finding", "findings", multiple=True, metavar="ID", help="Only fix this finding id (repeatable).")
@click.option("--namespace", "-n", help="Only triggers in this namespace.")
@click.option("--scaledobject", metavar="NS/NAME", help="Only this ScaledObject or ScaledJob.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write the frozen plan (JSON) to FILE, for `keda-auth apply`.")
@click.option("--format", "fmt", type=click.Choice(("human", "json")), default="human", show_default=True)
@live_source
def plan_command(bundle: str | None, findings: tuple[str, ...], namespace: str | None, scaledobject: str | None,
                 output: str | None, fmt: str, kubeconfig: str | None, context: str | None, no_azure: bool,
                 subscriptions: tuple[str, ...], aks: str | None, arm_endpoint: str | None,
                 ca_bundle: str | None) -> None:
    """Turn the findings into a plan: ordered steps with the exact commands, their undo and risk, and manual
    procedures for what keda-auth never changes itself. Changes nothing."""
    from bot.plan.planner import make_plan
    from bot.report.plan_text import render_plan

    scope = scope_of(namespace, scaledobject)
    known_checks(findings)
    if bundle is not None:
        snapshot = read_bundle(bundle)
    else:
        snapshot = collect_state(live_options(kubeconfig, context, scope, no_azure, subscriptions, aks,
                                              arm_endpoint, ca_bundle)).snapshot()
    report = diagnose(snapshot, scope=scope)
    plan = make_plan(report, snapshot, only=findings or None)
    text = json.dumps(plan.to_json(), indent=1) if fmt == "json" else render_plan(plan, text_style(sys.stdout.isatty()))
    click.echo(text)
    if output:
        Path(output).write_text(json.dumps(plan.to_json(), indent=1) + "\n", encoding="utf-8")
        if plan.steps:
            click.echo(f"\nwrote {output}; review it, then: keda-auth apply {output}", err=True)


@click.command("apply")
@click.argument("plan_file", metavar="PLAN", type=click.Path(dir_okay=False, exists=True))
@click.option("--dry-run", is_flag=True, help="Re-validate and dry-run only; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for automation that already approved).")
@click.option("--record", type=click.Path(dir_okay=False), metavar="FILE",
              help="Where to keep the execution record that `keda-auth undo` reads "
                   "(default: keda-auth-<plan id>.execution.json).")
@click.option("--verify-timeout", type=float, default=120.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the fix to show on a fresh check.")
@click.option("--namespace", "-n", help="Re-check only triggers in this namespace.")
@live_source
def apply_command(plan_file: str, dry_run: bool, yes: bool, record: str | None, verify_timeout: float,
                  namespace: str | None, kubeconfig: str | None, context: str | None, no_azure: bool,
                  subscriptions: tuple[str, ...], aks: str | None, arm_endpoint: str | None,
                  ca_bundle: str | None) -> None:
    """Apply a plan made by `keda-auth plan -o FILE`: refuse if the cluster or Azure changed since (drift),
    dry-run every step, ask, apply step by step, then verify. Exit status: 0 verified, 1 not yet
    (propagating), 2 refused or failed, 3 usage or input error."""
    from bot.execute.records import FileJournal
    from bot.execute.service import executor_for, rechecker
    from bot.execute.verify import verify
    from bot.report.plan_text import render_dry_run, render_execution, render_plan, render_verification

    plan = _read_plan(plan_file)
    style = text_style(sys.stdout.isatty())
    click.echo(render_plan(plan, style))
    if not plan.steps:
        click.echo("\nNothing to apply: every finding in this plan needs a person (see the manual procedures).")
        sys.exit(0)
    scope = Scope(namespace, None)
    options = live_options(kubeconfig, context, scope, no_azure, subscriptions, aks, arm_endpoint, ca_bundle)
    with executor_for(plan, options) as executor:
        drift = executor.drift(plan)
        if drift:
            click.echo(style("\nRefused: the state changed since the plan was made:", fg="red", bold=True))
            for item in drift:
                click.echo(f"  {item.target}: {item.what}")
            click.echo("Plan again: keda-auth plan -o FILE")
            sys.exit(2)
        results = executor.dry_run(plan)
        click.echo("\n" + render_dry_run(results, style))
        refused = [r for r in results if r.outcome == "refused"]
        if refused or dry_run:
            sys.exit(2 if refused else 0)
        if not yes:
            click.confirm(f"\nApply these {len(plan.steps)} step(s) as {getpass.getuser()}?", abort=True)
        record_path = Path(record or f"keda-auth-{plan.id}.execution.json")
        journal = FileJournal(record_path)
        executor.on_step = lambda r: click.echo(f"  {r.status.value}: {r.title}"
                                                + (f" — {r.message}" if r.message else ""))
        execution = executor.apply(plan, journal)
        journal.write(execution)
        click.echo("\n" + render_execution(execution, style))
        click.echo(f"record: {record_path} (undo with: keda-auth undo {record_path})")
        if execution.outcome != "applied":
            sys.exit(2)
        verification = verify(executor, execution, rechecker(options, scope=scope), budget=verify_timeout)
    click.echo("\n" + render_verification(verification, style))
    sys.exit({"verified": 0, "failed": 2}.get(verification.outcome, 1))


@click.command("undo")
@click.argument("record_file", metavar="RECORD", type=click.Path(dir_okay=False, exists=True))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@live_source
def undo_command(record_file: str, yes: bool, kubeconfig: str | None, context: str | None, no_azure: bool,
                 subscriptions: tuple[str, ...], aks: str | None, arm_endpoint: str | None,
                 ca_bundle: str | None) -> None:
    """Put back what an `apply` changed, from its execution record: last step first, each only if its target
    still holds what keda-auth wrote."""
    from bot.execute.records import FileJournal, read_execution
    from bot.execute.service import executor_for
    from bot.report.plan_text import render_execution

    execution = read_execution(Path(record_file))
    changed = execution.changed
    if not changed:
        click.echo("Nothing to undo: that execution changed nothing.")
        sys.exit(0)
    click.echo("Will undo, last first:")
    for record in reversed(changed):
        step = next(s for s in execution.plan.steps if s.key == record.key)
        click.echo(f"  {step.title}\n    $ {step.undo_command}")
    if not yes:
        click.confirm("Undo these changes?", abort=True)
    options = live_options(kubeconfig, context, Scope(None, None), no_azure, subscriptions, aks, arm_endpoint,
                           ca_bundle)
    path = Path(record_file).with_suffix(".undo.json")
    with executor_for(execution.plan, options) as executor:
        undone = executor.undo(execution, FileJournal(path))
    FileJournal(path).write(undone)
    click.echo(render_execution(undone, text_style(sys.stdout.isatty())))
    sys.exit(0 if undone.outcome == "undone" else 2)
