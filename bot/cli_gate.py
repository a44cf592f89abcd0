"""The approval gate on the command line: `propose`, `approve`, `reject`, `apply`, `undo`, `verify`, `status`,
`kill-switch` and `db`. A person at a terminal is `cli:<os user>` to the policy; Slack users are their ids."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import click

from bot.approval.gate import Gate, ProposalView, cli_actor
from bot.approval.policy import load_policy
from bot.cli_common import live_options, live_source, text_style
from bot.diagnosis.chain import Scope
from bot.errors import InputError
from bot.execute.executor import Executor
from bot.plan.plan import Plan
from bot.store.db import open_store


def store_options(func: Any) -> Any:
    """Which database and which policy: shared by every command that reads or writes the gate."""
    func = click.option("--policy", "policy_file", type=click.Path(dir_okay=False), envvar="KEDA_AUTH_POLICY",
                        help="Approval policy YAML (default: $KEDA_AUTH_POLICY, ~/.config/keda-auth/policy.yaml, "
                             "else nothing may be approved).")(func)
    return click.option("--db", "db_url", envvar="KEDA_AUTH_DB", metavar="URL",
                        help="sqlite:///PATH or postgresql+psycopg://USER@HOST/DB (default: $KEDA_AUTH_DB, else "
                             "~/.local/state/keda-auth/keda-auth.db).")(func)


@contextmanager
def open_gate(db_url: str | None, policy_file: str | None) -> Iterator[Gate]:
    policy = load_policy(policy_file)
    store = open_store(db_url)
    try:
        yield Gate(store, policy)
    finally:
        store.close()


def _style() -> Any:
    return text_style(sys.stdout.isatty())


def _show(view: ProposalView, gate: Gate) -> None:
    from bot.report.proposal_text import render_proposal

    click.echo(render_proposal(view, gate.policy, _style()))


def read_plan_file(path: str) -> Plan:
    import json

    from bot.plan.plan import plan_from_json

    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read plan {path}: {exc}") from exc
    return plan_from_json(raw)


@click.command("propose")
@click.argument("plan_file", metavar="PLAN", type=click.Path(dir_okay=False, exists=True))
@store_options
def propose_command(plan_file: str, db_url: str | None, policy_file: str | None) -> None:
    """Ask for approval to apply a plan made by `keda-auth plan -o PLAN`. Prints the proposal id approvers
    use (`keda-auth approve ID`, or the buttons in Slack)."""
    from bot.approval.proposals import propose

    plan = read_plan_file(plan_file)
    actor, origin = cli_actor()
    with open_gate(db_url, policy_file) as gate:
        view = propose(gate, plan, actor, origin)
        _show(view, gate)
        click.echo(f"\nproposed {view.id}; an approver runs: keda-auth approve {view.id}")


@click.command("approve")
@click.argument("proposal_id", metavar="ID")
@click.option("--comment", default="", help="Why you approve (kept in the audit trail).")
@store_options
def approve_command(proposal_id: str, comment: str, db_url: str | None, policy_file: str | None) -> None:
    """Approve a proposal as `cli:<your os user>` (the policy must list you for its risk tier)."""
    from bot.approval.decisions import approve

    actor, _ = cli_actor()
    with open_gate(db_url, policy_file) as gate:
        view = approve(gate, proposal_id, actor, comment)
        _show(view, gate)
        if view.state.value == "approved":
            click.echo(f"\napproved; apply with: keda-auth apply {view.id}")


@click.command("reject")
@click.argument("proposal_id", metavar="ID")
@click.option("--reason", required=True, help="Why (shown to the requester, kept in the audit trail).")
@store_options
def reject_command(proposal_id: str, reason: str, db_url: str | None, policy_file: str | None) -> None:
    """Reject a proposal (authorised like approve; a requester may always withdraw their own)."""
    from bot.approval.decisions import reject

    actor, _ = cli_actor()
    with open_gate(db_url, policy_file) as gate:
        _show(reject(gate, proposal_id, actor, reason), gate)


def _connector(options: Any) -> Callable[[Plan], AbstractContextManager[Executor]]:
    from bot.execute.service import executor_for

    return functools.partial(_executor_for, executor_for, options)


def _executor_for(executor_for: Any, options: Any, plan: Plan) -> AbstractContextManager[Executor]:
    return executor_for(plan, options)  # type: ignore[no-any-return]


def _reconcile_first(gate: Gate, connect: Callable[[Plan], AbstractContextManager[Executor]]) -> None:
    """Every run of `apply` is a start-up: an apply that died before it finished is settled first."""
    from bot.approval.reconcile import reconcile

    for done in reconcile(gate, connect, actor=cli_actor()[0]):
        click.echo(_style()(f"reconciled {done.proposal_id}: {done.message}", fg="yellow"), err=True)


@click.command("apply")
@click.argument("target", metavar="ID|PLAN")
@click.option("--dry-run", is_flag=True, help="Re-validate and dry-run only; change nothing (no approval needed).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--break-glass", is_flag=True, help="Apply a plan file without approval (needs --reason; audited and "
                                                  "flagged in every review).")
@click.option("--reason", help="Why break-glass was needed.")
@click.option("--verify-timeout", type=float, default=120.0, show_default=True, metavar="SECONDS",
              help="How long to wait for the fix to show on a fresh check.")
@click.option("--namespace", "-n", help="Re-check only triggers in this namespace.")
@store_options
@live_source
def apply_command(target: str, dry_run: bool, yes: bool, break_glass: bool, reason: str | None,
                  verify_timeout: float, namespace: str | None, db_url: str | None, policy_file: str | None,
                  kubeconfig: str | None, context: str | None, no_azure: bool, subscriptions: tuple[str, ...],
                  aks: str | None, arm_endpoint: str | None, ca_bundle: str | None) -> None:
    """Apply an approved proposal (ID), or, with --break-glass --reason, a plan file. Re-checks the policy and
    the live state, dry-runs, applies step by step, verifies. Exit status: 0 verified, 1 not yet
    (propagating), 2 refused or failed, 3 usage or input error."""
    from bot.approval.proposals import propose
    from bot.approval.runner import apply_proposal
    from bot.execute.service import rechecker
    from bot.report.plan_text import render_dry_run, render_execution, render_plan, render_verification

    scope = Scope(namespace, None)
    options = live_options(kubeconfig, context, scope, no_azure, subscriptions, aks, arm_endpoint, ca_bundle)
    connect = _connector(options)
    style = _style()
    is_file = Path(target).is_file()
    plan = read_plan_file(target) if is_file else None  # an edited plan is refused before anything else
    if plan is not None and not plan.steps:
        click.echo("Nothing to apply: every finding in this plan needs a person (see the manual procedures).")
        sys.exit(0)
    if break_glass and not (reason or "").strip():
        raise InputError("--break-glass needs --reason TEXT: say why this cannot wait for an approval")
    if plan is not None and not (break_glass or dry_run):
        raise InputError(f"{target} is a plan, not an approved proposal: nothing is applied without approval. "
                         f"Ask for it with `keda-auth propose {target}`; in an emergency, "
                         "`--break-glass --reason TEXT` (audited and flagged in every review)")
    if plan is not None and dry_run:
        with connect(plan) as executor:
            drift = executor.drift(plan)
            for item in drift:
                click.echo(f"  drift: {item.target}: {item.what}")
            click.echo(render_dry_run(executor.dry_run(plan), style))
        sys.exit(2 if drift else 0)
    actor, origin = cli_actor()
    with open_gate(db_url, policy_file) as gate:
        _reconcile_first(gate, connect)
        if plan is not None:
            click.echo(render_plan(plan, style))
            if not yes:
                click.confirm(f"\nBREAK-GLASS: apply this plan without approval as {actor}?", abort=True)
            view = propose(gate, plan, actor, origin, break_glass_reason=reason)
        else:
            view = gate.proposal(target)
            _show(view, gate)
            if not dry_run and not yes:
                click.confirm(f"\nApply proposal {view.id} as {actor}?", abort=True)
        result = apply_proposal(gate, view.id, actor, connect, recheck=rechecker(options, scope=scope),
                                verify_budget=verify_timeout, dry_run_only=dry_run)
        for item in result.drift:
            click.echo(f"  drift: {item.target}: {item.what}")
        if result.dry_run:
            click.echo("\n" + render_dry_run(result.dry_run, style))
        if result.execution is not None:
            click.echo("\n" + render_execution(result.execution, style))
        if result.verification is not None:
            click.echo("\n" + render_verification(result.verification, style))
        click.echo("")
        _show(result.proposal, gate)
    if dry_run:
        sys.exit(2 if result.drift or any(d.outcome == "refused" for d in result.dry_run) else 0)
    state = result.proposal.state.value
    if result.proposal.kind == "undo":  # an undo has nothing to verify: applied is done
        sys.exit(0 if state == "applied" else 2)
    sys.exit({"verified": 0, "applied": 1}.get(state, 2))


@click.command("undo")
@click.argument("proposal_id", metavar="ID")
@click.option("--break-glass", is_flag=True, help="Undo at once, without approval (needs --reason).")
@click.option("--reason", help="Why break-glass was needed.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (with --break-glass).")
@store_options
@live_source
def undo_command(proposal_id: str, break_glass: bool, reason: str | None, yes: bool, db_url: str | None,
                 policy_file: str | None, kubeconfig: str | None, context: str | None, no_azure: bool,
                 subscriptions: tuple[str, ...], aks: str | None, arm_endpoint: str | None,
                 ca_bundle: str | None) -> None:
    """Propose putting back what an applied proposal changed (approved like any change, then `keda-auth apply
    UNDO_ID`), or with --break-glass --reason, undo it at once."""
    from bot.approval.proposals import propose_undo
    from bot.approval.runner import apply_proposal
    from bot.report.plan_text import render_execution

    if break_glass and not (reason or "").strip():
        raise InputError("--break-glass needs --reason TEXT: say why this cannot wait for an approval")
    actor, origin = cli_actor()
    options = live_options(kubeconfig, context, Scope(None, None), no_azure, subscriptions, aks, arm_endpoint,
                           ca_bundle)
    with open_gate(db_url, policy_file) as gate:
        view = propose_undo(gate, proposal_id, actor, origin, break_glass_reason=reason if break_glass else None)
        _show(view, gate)
        if not break_glass:
            click.echo(f"\nproposed {view.id}; an approver runs: keda-auth approve {view.id}, "
                       f"then: keda-auth apply {view.id}")
            return
        if not yes:
            click.confirm(f"\nUndo now as {actor}?", abort=True)
        result = apply_proposal(gate, view.id, actor, _connector(options))
        if result.execution is not None:
            click.echo("\n" + render_execution(result.execution, _style()))
        _show(result.proposal, gate)
    sys.exit(0 if result.proposal.state.value == "applied" else 2)
