"""`keda-auth audit list|show|export|verify`: what on-call reads after the fact — who asked for which change,
who approved it, what ran, what it verified — and whether the trail itself is intact."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from sqlalchemy import Connection

from bot.audit.query import (
    EXPORT_FORMATS,
    EventFilter,
    check_filter,
    export_events,
    iso,
    list_events,
    parse_since,
    story,
)
from bot.audit.render import render_events, render_story
from bot.cli_common import text_style
from bot.store import chain
from bot.store.db import DB_ENV, open_store

F = TypeVar("F", bound=Callable[..., Any])
VIEW_FORMATS = ("human", "json")


def _db_option(func: F) -> F:
    return click.option("--db", "db_url", envvar=DB_ENV, metavar="URL",
                        help=f"Database URL (default: ${DB_ENV}, else the default SQLite file).")(func)


@contextmanager
def _reading(db_url: str | None) -> Iterator[Connection]:
    store = open_store(db_url)
    try:
        with store.read() as conn:
            yield conn
    finally:
        store.close()


def _colour() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _json_value(value: Any) -> Any:
    return iso(value) if isinstance(value, datetime) else str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False, default=_json_value)


def _since(text: str | None) -> datetime | None:
    return parse_since(text, datetime.now(UTC)) if text is not None else None


@click.group("audit")
def audit_group() -> None:
    """Review the audit trail: every check, proposal, decision, apply and undo, hash-chained."""


@audit_group.command("list")
@click.option("--since", metavar="WHEN", help="Only events since 90s/30m/24h/7d ago, or an ISO date/time (UTC).")
@click.option("--cluster", metavar="NAME", help="Only events about this cluster.")
@click.option("--actor", metavar="ID", help="Only events by this actor (Slack user id or cli:<user>).")
@click.option("--finding", metavar="ID", help="Only events about this finding id.")
@click.option("--state", metavar="STATE", help="Only events of proposals that are in this state now.")
@click.option("--proposal", metavar="ID", help="Only events of this proposal.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True,
              help="Show at most this many events, newest first.")
@click.option("--format", "fmt", type=click.Choice(VIEW_FORMATS), default="human", show_default=True)
@_db_option
def list_command(since: str | None, cluster: str | None, actor: str | None, finding: str | None,
                 state: str | None, proposal: str | None, limit: int, fmt: str, db_url: str | None) -> None:
    """List audit events, newest first."""
    flt = EventFilter(since=_since(since), cluster=cluster, actor=actor, finding=finding, state=state,
                      proposal=proposal, limit=limit)
    check_filter(flt)  # before connecting: a typo should not wait on a database
    with _reading(db_url) as conn:
        events, total = list_events(conn, flt)
    if fmt == "json":
        click.echo(_dumps({"total": total, "shown": len(events), "events": [e.to_json() for e in events]}))
    else:
        click.echo(render_events(events, total, text_style(_colour())), color=_colour())


@audit_group.command("show")
@click.argument("proposal_id", metavar="ID")
@click.option("--format", "fmt", type=click.Choice(VIEW_FORMATS), default="human", show_default=True)
@_db_option
def show_command(proposal_id: str, fmt: str, db_url: str | None) -> None:
    """Tell one proposal's whole story: the plan, who decided what, each step run, verification, timeline."""
    with _reading(db_url) as conn:
        told = story(conn, proposal_id)
    if fmt == "json":
        click.echo(_dumps({"proposal": vars(told.proposal), "check_run": told.check_run,
                           "decisions": told.decisions, "steps": told.steps, "verifications": told.verifications,
                           "events": [e.to_json() for e in told.events]}))
    else:
        click.echo(render_story(told, text_style(_colour())), color=_colour())


@audit_group.command("export")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), required=True,
              help="jsonl keeps every column as hashed, to re-verify offline; csv is for spreadsheets.")
@click.option("--since", metavar="WHEN", help="Only events since 90s/30m/24h/7d ago, or an ISO date/time (UTC).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Write to FILE instead of standard output.")
@_db_option
def export_command(fmt: str, since: str | None, output: str | None, db_url: str | None) -> None:
    """Export audit events, oldest first, with their hashes."""
    cutoff = _since(since)
    with _reading(db_url) as conn:
        if output is None:
            count = export_events(conn, sys.stdout, fmt, cutoff)
        else:
            with open(output, "w", encoding="utf-8", newline="") as out:
                count = export_events(conn, out, fmt, cutoff)
    click.echo(f"exported {count} event{'s' if count != 1 else ''}" + (f" to {output}" if output else ""), err=True)


@audit_group.command("verify")
@_db_option
def verify_command(db_url: str | None) -> None:
    """Check every link of the hash chain. Exit status: 0 intact, 2 broken, 3 usage or database error."""
    store = open_store(db_url)
    try:
        with store.read() as conn:
            report = chain.verify(conn)
        where = store.display_url
    finally:
        store.close()
    style = text_style(_colour())
    head = f"event #{report.head_seq}, sha256 {report.head_hash}"
    if report.broken is not None:
        click.echo(style(f"audit trail at {where}: BROKEN at event #{report.broken.seq}", fg="red", bold=True)
                   + f"\n  {report.broken.problem}\n{report.events} event(s) read up to the break; the head row "
                   f"records {head}", color=_colour())
        sys.exit(2)
    click.echo(style(f"audit trail at {where}: {report.events} event(s) checked, chain intact", fg="green")
               + f"\nhead: {head}\nkeep this hash somewhere else to detect a rewritten chain", color=_colour())
