"""Benchmark: the audit trail at one million events, on SQLite and PostgreSQL.

For each backend, on a fresh database: bulk-load events built by `chain.prepare` (so the chain is valid), their
times spread evenly over the 30 days up to now; then append through the real path (one transaction per event,
`chain.append`), first with one writer and then with 8 writer threads, so that the table ends with --events
events in all. Then `audit list --since 24h` (also filtered by actor, cluster and finding), `audit verify` over
the whole chain, and verify again after one event in the middle was edited.

Targets: >= 2,000 appends/s; `audit list --since 24h` < 100 ms (median); `audit verify` < 15 s.

PostgreSQL is a throwaway server from tests/kit/postgres.py, which runs with durability off (fsync,
synchronous_commit, full_page_writes), or the server of $KEDA_AUTH_TEST_PG_URL; the settings in effect are
printed next to the figures.

    python bench/audit.py [--backend sqlite|postgresql|both] [--events 1000000] [--appends 20000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import statistics
import string
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, update

from bot.audit.query import EventFilter, list_events, parse_since
from bot.store import chain, migrate
from bot.store.clock import utcnow
from bot.store.db import Store, create_store_engine, open_store
from bot.store.schema import AuditEvent, AuditHead
from tests.kit.postgres import PgUnavailable, start_server

APPENDS_PER_S = 2_000.0
LIST_MS = 100.0
VERIFY_S = 15.0

WRITERS = 8
BATCH = 10_000
SPAN = timedelta(days=30)
LIST_RUNS = 20
T = TypeVar("T")

CLUSTERS = ("aks-prod-westeurope", "aks-prod-northeurope", "aks-prod-eastus2", "aks-staging-westeurope",
            "aks-dev-westeurope")
FINDINGS = ("wi-pod-label-missing", "wi-sa-clientid-missing", "wi-pod-stale-not-restarted", "wi-webhook-absent",
            "fic-missing-keda-sa", "fic-missing-override-identity", "fic-subject-wrong-namespace-or-sa",
            "fic-issuer-mismatch", "fic-audience-mismatch", "identityid-not-clientid", "identity-recreated-drift",
            "rbac-role-missing")
CLI_USERS = ("cli:alice", "cli:bob", "cli:chen", "cli:dana", "cli:emeka", "cli:farah", "cli:gwen", "cli:hiro")
ACTIONS = ("check.run", "proposal.created", "proposal.approved", "step.started", "step.finished", "apply.applied",
           "verify")
WEIGHTS = (30, 8, 10, 20, 20, 6, 6)
STATES: dict[str, str | None] = {"check.run": None, "proposal.created": "proposed", "proposal.approved": "approved",
                                 "step.started": "applying", "step.finished": "applying", "apply.applied": "applied",
                                 "verify": "verified"}
STEPS = (
    ("Add federated credential keda-operator to identity id-orders",
     "azure: /subscriptions/6f1c0a52-8d0e-4b8e-9c55-2a7e3f1d9b40/resourceGroups/rg-orders/providers/"
     "Microsoft.ManagedIdentity/userAssignedIdentities/id-orders/federatedIdentityCredentials/keda-operator"),
    ("Annotate ServiceAccount keda/keda-operator with the identity's client id",
     "kubernetes: ServiceAccount keda/keda-operator"),
    ("Label the keda-operator pods azure.workload.identity/use=true", "kubernetes: Deployment keda/keda-operator"),
    ("Restart Deployment keda/keda-operator so its pods get the token volume",
     "kubernetes: Deployment keda/keda-operator"),
    ("Grant Azure Service Bus Data Owner to id-orders on sb-orders-prod",
     "azure: /subscriptions/6f1c0a52-8d0e-4b8e-9c55-2a7e3f1d9b40/resourceGroups/rg-orders/providers/"
     "Microsoft.ServiceBus/namespaces/sb-orders-prod"),
)


class EventMaker:
    """Realistic events from a seeded generator: actors, actions, clusters, findings and details as the bot
    writes them (details of a few hundred bytes)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        alphabet = string.ascii_uppercase + string.digits
        slack = [f"U0{''.join(self.rng.choices(alphabet, k=7))}" for _ in range(40)]
        self.actors = (*slack, *CLI_USERS)

    def _hex(self, bits: int) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    def __call__(self) -> chain.Event:
        rng = self.rng
        action = rng.choices(ACTIONS, WEIGHTS)[0]
        actor = rng.choice(self.actors)
        cluster = rng.choice(CLUSTERS)
        findings = rng.sample(FINDINGS, rng.randint(1, 3))
        origin: dict[str, Any] = (
            {"via": "cli", "user": actor[4:], "host": f"laptop-{actor[4:]}"} if actor.startswith("cli:")
            else {"via": "slack", "channel": "C04KEDAOPS",
                  "thread": f"17{rng.randrange(10**8):08d}.{rng.randrange(10**6):06d}"})
        if action == "check.run":
            return chain.Event(actor, action, check_run_id=self._hex(64), cluster=cluster, findings=findings, detail={
                "source": f"live: {cluster} (context {cluster}-admin)", "origin": origin,
                "critical": rng.randint(0, 2), "warning": rng.randint(0, 4), "info": rng.randint(0, 3),
                "checks_run": 47, "checks_skipped": rng.randint(0, 5), "scope": f"namespace team-{rng.randrange(200)}",
                "root_cause": findings[0]})
        proposal = f"p{self._hex(80)}"
        step_title, target = rng.choice(STEPS)
        detail: dict[str, Any]
        if action == "proposal.created":
            detail = {"kind": "fix", "plan_hash": self._hex(256), "risk": "medium", "origin": origin, "undoes": None,
                      "steps": [title for title, _ in STEPS[:3]]}
        elif action == "proposal.approved":
            detail = {"decision": "approve", "comment": "looks right, the FIC subject matches the operator SA",
                      "plan_hash": self._hex(256), "approvals": 2, "required": 2, "origin": origin}
        elif action in ("step.started", "step.finished"):
            detail = {"run": "apply", "step": step_title, "target": target,
                      "status": "running" if action == "step.started" else "changed", "message": ""}
            if action == "step.finished":
                detail["after"] = {"metadata": {"annotations": {
                    "azure.workload.identity/client-id": "2d4b6f0e-1c3a-4e5f-8a9b-0c1d2e3f4a5b"}}}
        elif action == "apply.applied":
            detail = {"message": f"{len(STEPS)} steps applied, 0 skipped; rollout of keda/keda-operator complete",
                      "changed": len(STEPS), "seconds": round(rng.uniform(5, 90), 1), "plan_hash": self._hex(256)}
        else:
            detail = {"outcome": "verified", "seconds": round(rng.uniform(20, 300), 1),
                      "steps": [{"title": step_title, "ok": True}],
                      "findings": [{"id": f, "gone": True} for f in findings]}
        return chain.Event(actor, action, proposal, cluster=cluster, findings=findings, state=STATES[action],
                           detail=detail)


@dataclass
class Line:
    figure: str
    value: str
    target: str = ""
    verdict: str = ""


@dataclass
class Result:
    backend: str
    settings: str
    lines: list[Line] = field(default_factory=list)

    def add(self, figure: str, value: str, target: str = "", passed: bool | None = None) -> None:
        self.lines.append(Line(figure, value, target, "" if passed is None else "PASS" if passed else "FAIL"))
        print(f"  {figure}: {value}" + (f" ({target}: {self.lines[-1].verdict})" if target else ""), flush=True)

    def print_table(self) -> None:
        widths = [max(len(getattr(line, name)) for line in [Line("figure", "value", "target", ""), *self.lines])
                  for name in ("figure", "value", "target")]
        print(f"\n{self.backend} ({self.settings})")
        print(f"  {'figure':<{widths[0]}}  {'value':>{widths[1]}}  {'target':<{widths[2]}}  result")
        for line in self.lines:
            print(f"  {line.figure:<{widths[0]}}  {line.value:>{widths[1]}}  {line.target:<{widths[2]}}  "
                  f"{line.verdict}".rstrip())


def open_sqlite(stack: ExitStack) -> tuple[Store, str]:
    tmp = tempfile.mkdtemp(prefix="keda-auth-bench-audit-")
    stack.callback(shutil.rmtree, tmp, ignore_errors=True)
    store = open_store(f"sqlite:///{tmp}/audit.db")
    stack.callback(store.close)
    with store.read() as conn:
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        version = conn.exec_driver_sql("SELECT sqlite_version()").scalar()
    sync_name = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(sync if isinstance(sync, int) else -1, str(sync))
    return store, f"SQLite {version} in {tmp}, journal_mode={journal}, synchronous={sync_name}"


def open_postgresql(stack: ExitStack) -> tuple[Store, str]:
    server = start_server()
    stack.callback(server.stop)
    url = server.create_database()
    if not server.throwaway:
        stack.callback(server.drop_database, url)
    engine = create_store_engine(url)
    stack.callback(engine.dispose)
    migrate.upgrade(engine)
    store = Store(engine)
    with store.read() as conn:
        shown = {name: conn.exec_driver_sql(f"SHOW {name}").scalar()
                 for name in ("server_version", "fsync", "synchronous_commit", "full_page_writes", "shared_buffers")}
    kind = "throwaway server" if server.throwaway else "server of $KEDA_AUTH_TEST_PG_URL"
    return store, (f"PostgreSQL {shown.pop('server_version')}, {kind}, "
                   + ", ".join(f"{name}={value}" for name, value in shown.items()))


def bulk_load(store: Store, maker: EventMaker, count: int, end: datetime) -> float:
    """`count` events ending at `end`, evenly spaced over SPAN, BATCH per transaction, continuing the chain."""
    start = end - SPAN
    spacing = SPAN / max(count, 1)
    with store.read() as conn:
        head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    seq, prev = int(head.seq), str(head.hash)
    t0 = time.perf_counter()
    done = 0
    while done < count:
        rows = []
        for i in range(done, min(done + BATCH, count)):
            seq += 1
            row = chain.prepare(maker(), seq, start + spacing * (i + 1), prev)
            rows.append(row)
            prev = row["hash"]
        with store.write() as conn:
            conn.execute(insert(AuditEvent), rows)
            conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
        done += len(rows)
    return time.perf_counter() - t0


def append_rate(store: Store, events: list[chain.Event], writers: int) -> float:
    """Appends per second through the real path: one transaction per event, `writers` threads."""

    def write(part: list[chain.Event]) -> None:
        for event in part:
            with store.write() as conn:
                chain.append(conn, event, utcnow())

    t0 = time.perf_counter()
    if writers == 1:
        write(events)
    else:
        with ThreadPoolExecutor(writers) as pool:
            for future in [pool.submit(write, events[i::writers]) for i in range(writers)]:
                future.result()
    return len(events) / (time.perf_counter() - t0)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def time_list(store: Store, flt: EventFilter) -> tuple[list[float], int, int]:
    """LIST_RUNS timings of `list_events`, each in its own read transaction; also the rows shown and matched."""
    samples, shown, total = [], 0, 0
    for _ in range(LIST_RUNS):
        t0 = time.perf_counter()
        with store.read() as conn:
            rows, total = list_events(conn, flt)
        samples.append(time.perf_counter() - t0)
        shown = len(rows)
    return samples, shown, total


def timed(action: Callable[[], T]) -> tuple[T, float]:
    t0 = time.perf_counter()
    value = action()
    return value, time.perf_counter() - t0


def run_backend(backend: str, store: Store, settings: str, events: int, appends: int) -> Result:
    """Load, append, list, verify, tamper and verify again on one fresh store."""
    result = Result(backend, settings)
    print(f"\n{backend}: {settings}", flush=True)
    maker = EventMaker(seed=20_240_601)
    fill = max(events - 2 * appends, 0)
    expected = fill + 2 * appends  # --events, unless the appends alone are more

    # Load first, so the real appends below run against a table of (nearly) --events rows.
    load_s = bulk_load(store, maker, fill, utcnow())
    result.add(f"bulk load {fill:,} events ({BATCH:,}/transaction)", f"{load_s:.1f} s ({fill / load_s:,.0f}/s)"
               if fill else "0 s")
    if store.dialect == "postgresql":
        # What autovacuum would have done to a month-old table; the appends below stay un-vacuumed, like the
        # newest events on a live server.
        with store.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            _, vacuum_s = timed(lambda: conn.exec_driver_sql("VACUUM ANALYZE audit_events"))
        result.add("VACUUM ANALYZE after the load", f"{vacuum_s:.1f} s")

    single = [maker() for _ in range(appends)]
    rate = append_rate(store, single, 1)
    target = f">= {APPENDS_PER_S:,.0f}/s"
    result.add(f"appends, 1 writer ({appends:,})", f"{rate:,.0f}/s", target, rate >= APPENDS_PER_S)
    concurrent = [maker() for _ in range(appends)]
    rate = append_rate(store, concurrent, WRITERS)
    result.add(f"appends, {WRITERS} writers ({appends:,} in all)", f"{rate:,.0f}/s", target, rate >= APPENDS_PER_S)

    since = parse_since("24h", utcnow())  # as `audit list --since 24h` reads it
    filters = [("", EventFilter(since=since)),
               (f" --actor {maker.actors[0]}", EventFilter(since=since, actor=maker.actors[0])),
               (f" --cluster {CLUSTERS[0]}", EventFilter(since=since, cluster=CLUSTERS[0])),
               (f" --finding {FINDINGS[0]}", EventFilter(since=since, finding=FINDINGS[0]))]
    for label, flt in filters:
        samples, shown, total = time_list(store, flt)
        median_ms, p95_ms = statistics.median(samples) * 1000, p95(samples) * 1000
        value = f"{median_ms:.1f} / {p95_ms:.1f} ms ({shown} of {total:,})"
        figure = f"list --since 24h{label}, median / p95"
        if label:
            result.add(figure, value)
        else:
            result.add(figure, value, f"median < {LIST_MS:.0f} ms", median_ms < LIST_MS)

    with store.read() as conn:
        report, verify_s = timed(lambda: chain.verify(conn))
    fine = report.ok and report.events == expected
    result.add(f"verify {report.events:,} events", f"{verify_s:.1f} s ({'ok' if report.ok else report.broken})",
               f"< {VERIFY_S:.0f} s, ok", fine and verify_s < VERIFY_S)

    victim = max(report.head_seq // 2, 1)
    with store.write() as conn:
        detail = json.loads(conn.execute(select(AuditEvent.detail).where(AuditEvent.seq == victim)).scalar_one())
        detail["tampered"] = "one edited field"
        conn.execute(update(AuditEvent).where(AuditEvent.seq == victim).values(detail=chain.canonical(detail)))
    with store.read() as conn:
        tampered, tamper_s = timed(lambda: chain.verify(conn))
    broken = tampered.broken
    result.add(f"verify after editing #{victim}'s detail",
               f"{tamper_s:.1f} s, found #{broken.seq}" if broken else f"{tamper_s:.1f} s, found nothing",
               "break reported at the edit", broken is not None and broken.seq == victim)
    print(f"    reported: {f'#{broken.seq}: {broken.problem}' if broken else 'nothing'}")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result.add("peak RSS of this process so far", f"{rss_mb:,.0f} MB")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=20_000)
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    openers = {"sqlite": open_sqlite, "postgresql": open_postgresql}
    results: list[Result] = []
    for backend in backends:
        with ExitStack() as stack:
            try:
                store, settings = openers[backend](stack)
            except PgUnavailable as exc:
                print(f"\n{backend}: skipped: {exc}", flush=True)
                continue
            results.append(run_backend(backend, store, settings, args.events, args.appends))

    for result in results:
        result.print_table()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")
    print(f"peak RSS of this process: {rss_mb:.0f} MB (the PostgreSQL server's own memory not included)")
    if any("fsync=off" in result.settings for result in results):
        print("note: the throwaway PostgreSQL server runs with fsync=off and synchronous_commit=off, so its append "
              "figures do not include waiting for the disk; a durable server commits more slowly")


if __name__ == "__main__":
    main()
