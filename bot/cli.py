"""The `keda-auth` command line. Thin: every command calls the same service functions as Slack will."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

import bot
from bot.diagnosis.chain import Scope
from bot.diagnosis.engine import diagnose
from bot.diagnosis.registry import all_checks
from bot.errors import InputError, KedaAuthError
from bot.live.assemble import Assembled
from bot.live.bundle_writer import write_bundle
from bot.live.options import LiveOptions
from bot.progress_bar import ProgressBar
from bot.report.human import render_human
from bot.report.json_report import render_json
from bot.report.sarif import render_sarif
from bot.snapshot.bundle import read_bundle

FORMATS = ("human", "json", "sarif")


def _use_colour(no_color: bool, output: str | None) -> bool:
    if no_color or output or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def _scope(namespace: str | None, scaledobject: str | None) -> Scope:
    if scaledobject:
        ns, sep, name = scaledobject.partition("/")
        if not sep or not ns or not name:
            raise InputError(f"--scaledobject takes NAMESPACE/NAME, got {scaledobject!r}")
        if namespace and namespace != ns:
            raise InputError(f"--namespace {namespace} and --scaledobject {scaledobject} disagree")
        return Scope(ns, name)
    return Scope(namespace, None)


def _known_checks(only: tuple[str, ...]) -> None:
    known = {spec.id for spec in all_checks()}
    unknown = sorted(set(only) - known)
    if unknown:
        raise InputError(f"unknown check id(s): {', '.join(unknown)}; `keda-auth checks` lists them")


def _live_options(kubeconfig: str | None, context: str | None, scope: Scope, no_azure: bool,
                  subscriptions: tuple[str, ...], aks: str | None, arm_endpoint: str | None,
                  ca_bundle: str | None, redact: bool = True) -> LiveOptions:
    return LiveOptions(kubeconfig=kubeconfig, context=context, namespace=scope.namespace, azure=not no_azure,
                       subscriptions=subscriptions, aks_resource_id=aks, arm_endpoint=arm_endpoint,
                       connection_verify=ca_bundle, redact=redact)


def _collect(options: LiveOptions) -> Assembled:
    # Imported on use: the Kubernetes and Azure SDKs take a while to import and `--bundle` needs neither.
    from bot.live.session import collect_live

    bar = ProgressBar()
    try:
        assembled, _ = collect_live(options, progress=bar)
    finally:
        bar.close()
    return assembled


def live_source(func: Any) -> Any:
    """The options that say which cluster and which Azure to read, shared by `check` and `collect`."""
    options = [
        click.option("--kubeconfig", type=click.Path(dir_okay=False), envvar="KUBECONFIG",
                     help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, else in-cluster)."),
        click.option("--context", help="Kubeconfig context (default: the current one)."),
        click.option("--no-azure", is_flag=True, help="Read only Kubernetes; Azure checks report what they lack."),
        click.option("--subscription", "subscriptions", multiple=True, metavar="ID",
                     help="Azure subscription to read (repeatable; default: from the cluster, else all visible)."),
        click.option("--aks", metavar="RESOURCE_ID",
                     help="The AKS cluster's resource id (default: found by its OIDC issuer or API server)."),
        click.option("--arm-endpoint", envvar="KEDA_AUTH_ARM_ENDPOINT", metavar="URL",
                     help="Azure Resource Manager endpoint (sovereign clouds)."),
        click.option("--ca-bundle", envvar="KEDA_AUTH_CA_BUNDLE", type=click.Path(dir_okay=False, exists=True),
                     help="CA bundle for Azure Resource Manager and Entra ID (TLS-inspecting proxies)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
@live_source
def check(bundle: str | None, fmt: str, output: str | None, only: tuple[str, ...], namespace: str | None,
          scaledobject: str | None, no_color: bool, verbose: bool, kubeconfig: str | None, context: str | None,
          no_azure: bool, subscriptions: tuple[str, ...], aks: str | None, arm_endpoint: str | None,
          ca_bundle: str | None) -> None:
    """Walk the KEDA -> Workload Identity -> Entra -> RBAC chain and report what is broken.

    Reads the live cluster (kubeconfig or in-cluster) and Azure (DefaultAzureCredential), or an offline
    bundle with --bundle. Exit status: 0 nothing wrong, 1 warnings only, 2 any critical finding,
    3 usage or input error.
    """
    scope = _scope(namespace, scaledobject)
    _known_checks(only)
    if bundle is not None:
        snapshot = read_bundle(bundle)
    else:
        options = _live_options(kubeconfig, context, scope, no_azure, subscriptions, aks, arm_endpoint, ca_bundle)
        snapshot = _collect(options).snapshot()
    report = diagnose(snapshot, only=only or None, scope=scope)
    if fmt == "json":
        text = render_json(report)
    elif fmt == "sarif":
        text = render_sarif(report)
    else:
        colour = _use_colour(no_color, output)
        style: Any = click.style if colour else (lambda t, **_: t)
        text = render_human(report, style, verbose=verbose)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        click.echo(text, color=_use_colour(no_color, output))
    sys.exit(report.exit_code)


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
    options = _live_options(kubeconfig, context, Scope(namespace, None), no_azure, subscriptions, aks,
                            arm_endpoint, ca_bundle, redact=not no_redact)
    assembled = _collect(options)
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


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(3)
    except click.ClickException as exc:
        exc.show()
        sys.exit(3)
    except KedaAuthError as exc:
        click.echo(f"keda-auth: {exc}", err=True)
        sys.exit(exc.exit_code)
