"""The `keda-auth` command line. Thin: every command calls the same service functions as Slack will."""

from __future__ import annotations

import os
import sys

import click

import bot
from bot.cli_admin import (
    db_group,
    kill_switch_command,
    policy_group,
    status_command,
    verify_command,
    whoami_command,
)
from bot.cli_audit import audit_group
from bot.cli_common import KedaAuthGroup, collect_state, known_checks, live_options, live_source, scope_of, text_style
from bot.cli_fix import plan_command
from bot.cli_gate import apply_command, approve_command, propose_command, reject_command, undo_command
from bot.cli_serve import serve_command
from bot.cli_setup import setup_group
from bot.diagnosis.chain import Scope
from bot.diagnosis.engine import Report, diagnose
from bot.diagnosis.registry import all_checks
from bot.errors import InputError, KedaAuthError
from bot.live.bundle_writer import write_bundle
from bot.report.human import render_human
from bot.report.json_report import render_json
from bot.report.sarif import render_sarif
from bot.snapshot.bundle import read_bundle

FORMATS = ("human", "json", "sarif")


def _use_colour(no_color: bool, output: str | None) -> bool:
    if no_color or output or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


@click.group(cls=KedaAuthGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(bot.__version__, prog_name="keda-auth")
def cli() -> None:
    """Diagnose and fix KEDA's Azure Workload Identity authentication."""


@cli.command()
@click.option("--bundle", "bundle", type=click.Path(), metavar="DIR",
              help="Diagnose an offline bundle (see the bundle format) instead of a live cluster.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="human", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="Write the report to FILE.")
@click.option("--only", multiple=True, metavar="ID", help="Run only this check (repeatable).")
@click.option("--namespace", "-n", help="Only triggers in this namespace.")
@click.option("--scaledobject", metavar="NS/NAME", help="Only this ScaledObject or ScaledJob.")
@click.option("--no-color", is_flag=True, help="Never colour the output.")
@click.option("--verbose", "-v", is_flag=True, help="Also list skipped checks and input warnings.")
@click.option("--db", "db_url", envvar="KEDA_AUTH_DB", metavar="URL",
              help="Where the check is recorded (default: $KEDA_AUTH_DB, else the SQLite file).")
@click.option("--no-audit", is_flag=True, help="Do not record this check in the audit trail (CI pipelines).")
@live_source
def check(bundle: str | None, fmt: str, output: str | None, only: tuple[str, ...], namespace: str | None,
          scaledobject: str | None, no_color: bool, verbose: bool, db_url: str | None, no_audit: bool,
          kubeconfig: str | None, context: str | None,
          no_azure: bool, subscriptions: tuple[str, ...], aks: str | None, arm_endpoint: str | None,
          ca_bundle: str | None) -> None:
    """Walk the KEDA -> Workload Identity -> Entra -> RBAC chain and report what is broken.

    Reads the live cluster (kubeconfig or in-cluster) and Azure (DefaultAzureCredential), or an offline
    bundle with --bundle. Exit status: 0 nothing wrong, 1 warnings only, 2 any critical finding,
    3 usage or input error.
    """
    scope = scope_of(namespace, scaledobject)
    known_checks(only)
    if bundle is not None:
        snapshot = read_bundle(bundle)
    else:
        options = live_options(kubeconfig, context, scope, no_azure, subscriptions, aks, arm_endpoint, ca_bundle)
        snapshot = collect_state(options).snapshot()
    report = diagnose(snapshot, only=only or None, scope=scope)
    if not no_audit:
        _record(report, db_url, scope)
    if fmt == "json":
        text = render_json(report)
    elif fmt == "sarif":
        text = render_sarif(report)
    else:
        colour = _use_colour(no_color, output)
        text = render_human(report, text_style(colour), verbose=verbose)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        click.echo(text, color=_use_colour(no_color, output))
    sys.exit(report.exit_code)


def _record(report: Report, db_url: str | None, scope: Scope) -> None:
    """On the audit trail; a database that cannot be opened must not hide the diagnosis, so it only warns."""
    from bot.approval.gate import cli_actor
    from bot.store.check_runs import record_check
    from bot.store.db import StoreError, open_store

    actor, origin = cli_actor()
    try:
        store = open_store(db_url)
    except StoreError as exc:
        click.echo(f"keda-auth: warning: this check was not recorded: {exc}", err=True)
        return
    try:
        record_check(store, report, actor, origin.to_json(),
                     scope="/".join(p for p in (scope.namespace, scope.name) if p) or "cluster-wide")
    finally:
        store.close()


@cli.command()
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="New or empty directory to write the bundle to.")
@click.option("--namespace", "-n", help="Collect KEDA objects of this namespace only.")
@click.option("--no-redact", is_flag=True,
              help="Keep connection strings, SAS keys and tokens found in objects and logs (not recommended).")
@live_source
def collect(out: str, namespace: str | None, no_redact: bool, kubeconfig: str | None, context: str | None,
            no_azure: bool, subscriptions: tuple[str, ...], aks: str | None, arm_endpoint: str | None,
            ca_bundle: str | None) -> None:
    """Write the cluster's and Azure's state as a bundle, to diagnose elsewhere with `check --bundle`."""
    if no_redact:
        click.echo("keda-auth: warning: --no-redact keeps secrets found in objects and logs in the bundle; "
                   "do not share it", err=True)
    options = live_options(kubeconfig, context, Scope(namespace, None), no_azure, subscriptions, aks,
                            arm_endpoint, ca_bundle, redact=not no_redact)
    assembled = collect_state(options)
    root = write_bundle(assembled, out)
    logs = len(assembled.logs)
    click.echo(f"wrote {root}: {assembled.count('kubernetes/')} Kubernetes objects, "
               f"{assembled.count('azure/')} Azure resources, {logs} log tail{'s' if logs != 1 else ''}"
               f"{'' if no_redact else ', redacted'}")
    for gap in assembled.gaps:
        click.echo(f"  could not read {gap.what}: {gap.reason}\n    grant: {gap.grant}", err=True)
    click.echo(f"diagnose it with: keda-auth check --bundle {root}")


@cli.command("checks")
def list_checks() -> None:
    """List every check: its stable id, severity and what it looks for."""
    for spec in all_checks():
        click.echo(f"{spec.id:40} {spec.severity.label:9} {spec.title}")


@cli.command()
@click.argument("check_id")
def explain(check_id: str) -> None:
    """Show what one check detects, why it matters and how it is fixed."""
    specs = {spec.id: spec for spec in all_checks()}
    spec = specs.get(check_id)
    if spec is None:
        raise InputError(f"unknown check id {check_id!r}; `keda-auth checks` lists them")
    click.echo(f"{spec.id} ({spec.severity.label}, {spec.stage.name.lower()})\n{spec.title}")
    if spec.summary:
        click.echo(f"\n{spec.summary}")
    if spec.fixes:
        click.echo("\nfixes: " + ", ".join(spec.fixes))
    for doc in spec.docs:
        click.echo(f"docs: {doc}")


for command in (plan_command, propose_command, approve_command, reject_command, apply_command, undo_command,
                verify_command, status_command, kill_switch_command, audit_group, db_group, policy_group,
                serve_command, whoami_command, setup_group):
    cli.add_command(command)


def main() -> None:
    try:
        status = cli.main(standalone_mode=False)
        if isinstance(status, int):  # ctx.exit(n) is returned, not raised, outside standalone mode
            sys.exit(status)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(3)
    except click.ClickException as exc:
        exc.show()
        sys.exit(3)
    except KedaAuthError as exc:
        click.echo(f"keda-auth: {exc}", err=True)
        sys.exit(exc.exit_code)
