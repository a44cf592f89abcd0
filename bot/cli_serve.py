"""`keda-auth serve`: the Slack app, in HTTP mode (signing secret, behind an ingress) or Socket Mode (app-level
token), with /healthz, /readyz and /metrics either way. Start-up settles applies a dead replica left behind."""

from __future__ import annotations

import os
import signal
import sys

import click

from bot.cli_common import live_options, live_source
from bot.cli_gate import store_options
from bot.diagnosis.chain import Scope
from bot.errors import InputError


def _secret(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise InputError(f"${name} is not set (see the README: installing the Slack app)")
    return value


@click.command("serve")
@click.option("--socket-mode", is_flag=True, help="Connect to Slack over Socket Mode ($SLACK_APP_TOKEN) instead "
                                                  "of receiving HTTP requests.")
@click.option("--host", default="0.0.0.0", show_default=True, help="Where to listen (HTTP requests and probes).")
@click.option("--port", type=int, default=3000, show_default=True)
@click.option("--threads", type=int, default=32, show_default=True, help="HTTP worker threads.")
@click.option("--keda-namespace", default="keda", show_default=True,
              help="Where the KEDA operator runs (kube-system for the AKS add-on): what /keda-auth whoami asks about.")
@click.option("--cluster", "clusters", multiple=True, metavar="CONTEXT",
              help="A kubeconfig context `/keda-auth check CLUSTER` may name (repeatable; default: only the "
                   "current context or in-cluster).")
@store_options
@live_source
def serve_command(socket_mode: bool, host: str, port: int, threads: int, keda_namespace: str, clusters: tuple[str, ...],
                  db_url: str | None, policy_file: str | None, kubeconfig: str | None, context: str | None,
                  no_azure: bool, subscriptions: tuple[str, ...], aks: str | None, arm_endpoint: str | None,
                  ca_bundle: str | None) -> None:
    """Serve the Slack app. Needs $SLACK_BOT_TOKEN and $SLACK_SIGNING_SECRET (HTTP mode) or $SLACK_APP_TOKEN
    (Socket Mode); several replicas share a PostgreSQL --db."""
    from bot.approval.policy import load_policy
    from bot.approval.reconcile import reconcile
    from bot.slack.app import build_app
    from bot.slack.backend import Backend
    from bot.slack.metrics import Metrics
    from bot.slack.server import SlackHttp, make_server
    from bot.store.db import open_store

    token = _secret("SLACK_BOT_TOKEN")
    signing_secret = os.environ.get("SLACK_SIGNING_SECRET", "") if socket_mode else _secret("SLACK_SIGNING_SECRET")
    app_token = _secret("SLACK_APP_TOKEN") if socket_mode else ""
    policy = load_policy(policy_file)
    store = open_store(db_url)
    options = live_options(kubeconfig, context, Scope(None, None), no_azure, subscriptions, aks, arm_endpoint,
                           ca_bundle)
    metrics = Metrics(store)
    backend = Backend(store, policy, options, clusters=clusters, metrics=metrics, keda_namespace=keda_namespace)
    for done in reconcile(backend.gate(), backend.connector(None), actor="keda-auth serve"):
        click.echo(f"reconciled {done.proposal_id}: {done.message}", err=True)
    from slack_sdk import WebClient

    # $SLACK_API_URL: GovSlack (https://slack-gov.com/api/), or a local fake in tests.
    client = WebClient(token=token, base_url=os.environ.get("SLACK_API_URL") or "https://slack.com/api/")
    app = build_app(backend, token=token, signing_secret=signing_secret or "unused-in-socket-mode", client=client)
    server = make_server(SlackHttp(None if socket_mode else app, store, signing_secret or "-", metrics), host, port,
                         threads)
    click.echo(f"keda-auth serving {'Socket Mode' if socket_mode else 'HTTP'} on {host}:{server.effective_port} "
               f"(policy {policy.source}, database {store.display_url})", err=True)
    # SIGTERM (a rolling update) stops accepting, lets waitress finish its requests and the flows in progress
    # finish (an apply half-way is better finished than reconciled), then closes the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if socket_mode:
            import threading

            from slack_bolt.adapter.socket_mode import SocketModeHandler

            threading.Thread(target=server.run, name="probes", daemon=True).start()
            SocketModeHandler(app, app_token).start()  # type: ignore[no-untyped-call]
        else:
            server.run()
    finally:
        server.close()
        backend.close()
        store.close()
