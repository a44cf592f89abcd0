"""What the `keda-auth` commands share: where the state comes from (a bundle or a live cluster and Azure)."""

from __future__ import annotations

from typing import Any

import click

from bot.diagnosis.chain import Scope
from bot.diagnosis.registry import all_checks
from bot.errors import InputError, KedaAuthError
from bot.live.assemble import Assembled
from bot.live.options import LiveOptions
from bot.progress_bar import ProgressBar


class KedaAuthGroup(click.Group):
    """Our errors become their message and exit status here, so every way of invoking a group (the console
    script, `python -m bot`, click's test runner, a group on its own) behaves the same."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KedaAuthError as exc:
            click.echo(f"keda-auth: {exc}", err=True)
            ctx.exit(exc.exit_code)


def text_style(colour: bool) -> Any:
    """click.style on a colour terminal, else text unchanged."""
    return click.style if colour else (lambda t, **_: t)


def scope_of(namespace: str | None, scaledobject: str | None) -> Scope:
    if scaledobject:
        ns, sep, name = scaledobject.partition("/")
        if not sep or not ns or not name:
            raise InputError(f"--scaledobject takes NAMESPACE/NAME, got {scaledobject!r}")
        if namespace and namespace != ns:
            raise InputError(f"--namespace {namespace} and --scaledobject {scaledobject} disagree")
        return Scope(ns, name)
    return Scope(namespace, None)


def known_checks(only: tuple[str, ...]) -> None:
    known = {spec.id for spec in all_checks()}
    unknown = sorted(set(only) - known)
    if unknown:
        raise InputError(f"unknown check id(s): {', '.join(unknown)}; `keda-auth checks` lists them")


def live_options(kubeconfig: str | None, context: str | None, scope: Scope, no_azure: bool,
                  subscriptions: tuple[str, ...], aks: str | None, arm_endpoint: str | None,
                  ca_bundle: str | None, redact: bool = True) -> LiveOptions:
    return LiveOptions(kubeconfig=kubeconfig, context=context, namespace=scope.namespace, azure=not no_azure,
                       subscriptions=subscriptions, aks_resource_id=aks, arm_endpoint=arm_endpoint,
                       connection_verify=ca_bundle, redact=redact)


def collect_state(options: LiveOptions) -> Assembled:
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
