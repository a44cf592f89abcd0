"""Running the gate: `db upgrade|current`, `status`, `kill-switch on|off`, `verify` (re-verify an applied
proposal after propagation) and `policy check`."""

from __future__ import annotations

import sys

import click

from bot.cli_common import live_options, live_source, text_style
from bot.cli_gate import open_gate, store_options
from bot.diagnosis.chain import Scope


@click.group("db")
def db_group() -> None:
    """The audit and approval database."""


@db_group.command("upgrade")
@click.option("--db", "db_url", envvar="KEDA_AUTH_DB", metavar="URL", help="Database URL (default: $KEDA_AUTH_DB, "
                                                                            "else the SQLite file).")
def db_upgrade(db_url: str | None) -> None:
    """Migrate the database to this version's schema (run once per release on PostgreSQL; SQLite does it
    by itself). Safe to run from several replicas at once."""
    from bot.store import migrate
    from bot.store.db import create_store_engine, resolve_url

    engine = create_store_engine(resolve_url(db_url))
    try:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
        after = migrate.current_revision(engine)
    finally:
        engine.dispose()
    click.echo(f"{engine.url.render_as_string(hide_password=True)}: "
               + (f"at {after} (already current)" if before == after else f"{before or 'empty'} → {after}"))


@db_group.command("current")
@click.option("--db", "db_url", envvar="KEDA_AUTH_DB", metavar="URL", help="Database URL.")
def db_current(db_url: str | None) -> None:
    """Show the database's schema revision and the one this keda-auth needs."""
    from bot.store import migrate
    from bot.store.db import create_store_engine, resolve_url

    engine = create_store_engine(resolve_url(db_url))
    try:
        current = migrate.current_revision(engine)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    click.echo(f"{engine.url.render_as_string(hide_password=True)}: at {current or 'none (empty)'}; "
               f"this keda-auth needs {head}" + ("" if current == head else ": run `keda-auth db upgrade`"))
    sys.exit(0 if current == head else 1)


@click.command("status")
@store_options
def status_command(db_url: str | None, policy_file: str | None) -> None:
    """Pending proposals (waiting for approval or apply) and the kill switch."""
    from bot.approval.decisions import expire_due
    from bot.approval.gate import pending
    from bot.report.proposal_text import render_proposal

    style = text_style(sys.stdout.isatty())
    with open_gate(db_url, policy_file) as gate:
        expire_due(gate)
        on, why = gate.kill_switch()
        click.echo(style(f"kill switch: {'ON' if on else 'off'}", fg="red" if on else "green", bold=on)
                   + (f" ({why})" if on else "") + f"; policy: {gate.policy.source}")
        with gate.store.read() as conn:
            views = pending(conn)
        if not views:
            click.echo("no pending proposals")
        for view in views:
            click.echo("\n" + render_proposal(view, gate.policy, style))


@click.command("kill-switch")
@click.argument("setting", type=click.Choice(["on", "off"]))
@click.option("--reason", required=True, help="Why (kept in the audit trail, shown in every refusal).")
@store_options
def kill_switch_command(setting: str, reason: str, db_url: str | None, policy_file: str | None) -> None:
    """Stop every apply and undo on every replica at once (on), or allow them again (off)."""
    from bot.approval.gate import cli_actor
    from bot.approval.kill_switch import set_kill_switch

    with open_gate(db_url, policy_file) as gate:
        set_kill_switch(gate, setting == "on", cli_actor()[0], reason)
        on, why = gate.kill_switch()
    click.echo(f"kill switch {'ON' if on else 'off'}" + (f": {why}" if on else ""))


@click.command("verify")
@click.argument("proposal_id", metavar="ID")
@click.option("--timeout", type=float, default=0.0, show_default=True, metavar="SECONDS",
              help="Keep re-checking this long while the fix is still propagating.")
@click.option("--namespace", "-n", help="Re-check only triggers in this namespace.")
@store_options
@live_source
def verify_command(proposal_id: str, timeout: float, namespace: str | None, db_url: str | None,
                   policy_file: str | None, kubeconfig: str | None, context: str | None, no_azure: bool,
                   subscriptions: tuple[str, ...], aks: str | None, arm_endpoint: str | None,
                   ca_bundle: str | None) -> None:
    """Verify an applied proposal again, once Entra and RBAC have had time to propagate. Exit status: 0
    verified, 1 not yet, 2 failed."""
    from bot.approval.gate import cli_actor
    from bot.approval.runner import reverify
    from bot.cli_gate import _connector
    from bot.execute.service import rechecker
    from bot.report.plan_text import render_verification

    scope = Scope(namespace, None)
    options = live_options(kubeconfig, context, scope, no_azure, subscriptions, aks, arm_endpoint, ca_bundle)
    with open_gate(db_url, policy_file) as gate:
        verification = reverify(gate, proposal_id, cli_actor()[0], _connector(options),
                                rechecker(options, scope=scope), budget=timeout)
    click.echo(render_verification(verification, text_style(sys.stdout.isatty())))
    sys.exit({"verified": 0, "failed": 2}.get(verification.outcome, 1))


@click.group("policy")
def policy_group() -> None:
    """The approval policy."""


@policy_group.command("check")
@click.argument("policy_file", required=False, type=click.Path(dir_okay=False))
def policy_check(policy_file: str | None) -> None:
    """Validate a policy file (default: the one keda-auth would use) and print who may approve what."""
    from bot.approval.policy import load_policy, tier_name
    from remediations.catalogue import Risk

    policy = load_policy(policy_file)
    click.echo(f"{policy.source}: valid")
    click.echo(f"kill switch: {'ON' if policy.kill_switch else 'off'}; command line: "
               f"{'allowed' if policy.allow_cli else 'not allowed'}")
    for label, values in (("channels", policy.channels), ("clusters", policy.clusters),
                          ("namespaces", policy.namespaces)):
        click.echo(f"{label}: {', '.join(values) if values else 'none (denies all)'}")
    for risk in (Risk.RESTART, Risk.PATCH, Risk.AZURE_RBAC):
        tier = policy.tier(risk)
        if tier is None:
            click.echo(f"{tier_name(risk)}: no one may approve")
            continue
        who = sorted(tier.approvers) + [f"group {g}" for g in sorted(tier.groups)]
        click.echo(f"{tier_name(risk)}: {tier.required} of [{', '.join(who) or 'no one'}], expiry "
                   f"{int(tier.expiry.total_seconds() // 60)} min, requester may approve: "
                   f"{'yes' if tier.requester_may_approve else 'no'}")


@click.command("whoami")
@click.option("--keda-namespace", default="keda", show_default=True, help="Where the KEDA operator runs "
                                                                          "(kube-system for the AKS add-on).")
@live_source
def whoami_command(keda_namespace: str, kubeconfig: str | None, context: str | None, no_azure: bool,
                   subscriptions: tuple[str, ...], aks: str | None, arm_endpoint: str | None,
                   ca_bundle: str | None) -> None:
    """What the current credentials let keda-auth read and fix: every Kubernetes read the checks make and
    every write a fix makes (SelfSubjectAccessReview), and the Azure writes at each --subscription (ARM
    permissions API). Exit status 1 when something a fix needs is missing."""
    from bot import whoami

    options = live_options(kubeconfig, context, Scope(None, None), no_azure, subscriptions, aks, arm_endpoint,
                           ca_bundle)
    answers = whoami.ask(options, keda_namespace)
    click.echo(f"Kubernetes ({answers.context}):\n" + whoami.render(answers.kubernetes))
    if answers.azure is not None:
        click.echo("\nAzure:\n" + whoami.render(answers.azure))
    elif options.azure:
        click.echo("\nAzure: give --subscription ID to ask the ARM permissions API (each fix's dry-run asks at "
                   "its own scope anyway).")
    sys.exit(0 if answers.complete else 1)
