"""`keda-auth plan`: findings to a reviewable, frozen plan (applying it goes through the gate: cli_gate.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bot.cli_common import collect_state, known_checks, live_options, live_source, scope_of, text_style
from bot.diagnosis.engine import diagnose
from bot.snapshot.bundle import read_bundle


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
            click.echo(f"\nwrote {output}; review it, then ask for approval: keda-auth propose {output}", err=True)
