"""`keda-auth audit list|show|export|verify` as on-call uses them, on SQLite and PostgreSQL, over a trail written by
the real service functions. Oldest first: 3 days ago cli:alice checks aks-prod-weu, U0REQ1 proposes the fix (A),
U0AAA1 approves, it is applied through the SQL journal and verified, and its undo proposed (D); 2 hours ago cli:bob
checks aks-dev-weu and U0BBB2 rejects the same fix there (B); 20 minutes ago U0AAA1 breaks the glass on an Azure
RBAC fix (C)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update

from bot.approval import decisions, proposals, runner
from bot.approval.gate import Gate, Origin
from bot.approval.policy import parse_policy
from bot.audit.query import EXPORT_COLUMNS
from bot.cli import cli
from bot.cli_audit import audit_group
from bot.diagnosis.engine import diagnose
from bot.execute.executor import Executor
from bot.execute.records import Execution, Journal, Status, now_iso
from bot.execute.verify import Check, Verification
from bot.plan.plan import Plan
from bot.plan.planner import make_plan
from bot.snapshot.bundle import read_bundle
from bot.store import chain, migrate
from bot.store.check_runs import record_check
from bot.store.clock import utcnow
from bot.store.db import Store, create_store_engine, open_store
from bot.store.schema import AuditEvent

POLICY = """
allow: {clusters: ["*"], namespaces: ["*"]}
tiers:
  restart: {approvers: [U0AAA1, U0BBB2], expiry: 2h}
  patch: {approvers: [U0AAA1, U0BBB2], expiry: 2h}
  azure-rbac: {approvers: [U0AAA1, U0BBB2], expiry: 2h}
"""
REQUESTER, ALICE, BOB = "U0REQ1", "U0AAA1", "U0BBB2"
CLI = Origin("cli", user="req", host="laptop")
SECRET = "Endpoint=sb://sb-prod.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=s3cr3tKeyValue="
BREAK_GLASS_REASON = "SEV1: orders backlog growing, approvers asleep"

# The same class as the real `keda-auth` group, so our errors exit with their status as they do for the user.
keda_auth = type(cli)("keda-auth", commands=[audit_group])


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Trail:
    url: str
    store: Store
    fix: str  # A: verified
    rejected: str  # B: rejected, on aks-dev-weu
    break_glass: str  # C: break-glass, approved
    undo: str  # D: the undo of A, proposed


class JournalingExecutor(Executor):
    """Changes no cluster: walks the plan through the journal exactly as the real executor reports each step."""

    def apply(self, plan: Plan, journal: Journal | None = None) -> Execution:
        assert journal is not None
        execution = Execution.start(plan)
        for record in execution.steps:
            record.status, record.started_at = Status.STARTED, now_iso()
            record.before = {"metadata": {"labels": {}}, "env": SECRET}
            journal.step_started(execution, record)
            record.status, record.finished_at, record.message = Status.APPLIED, now_iso(), "patched"
            record.after = {"metadata": {"labels": {"azure.workload.identity/use": "true"}}}
            journal.step_finished(execution, record)
        execution.outcome = "applied"
        return execution


def _migrated(url: str) -> Store:
    if url.startswith("postgresql"):  # a fresh database, upgraded as `keda-auth db upgrade` would
        engine = create_store_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
    return open_store(url)


def _build(store: Store, url: str) -> Trail:
    now = utcnow()
    clock = FakeClock(now - timedelta(days=3))
    gate = Gate(store, parse_policy(POLICY, "policy.yaml"), clock=clock)
    snapshot = read_bundle("examples/bundles/broken-pod-label")
    report = diagnose(snapshot)
    plan = make_plan(report, snapshot)

    check = record_check(store, report, "cli:alice", CLI.to_json(), clock=clock)
    clock.now += timedelta(minutes=1)
    fix = proposals.propose(gate, plan, REQUESTER, CLI, check_run_id=check).id
    clock.now += timedelta(minutes=1)
    decisions.approve(gate, fix, ALICE, "lgtm, label only")
    clock.now += timedelta(minutes=1)
    applied = runner.apply_proposal(gate, fix, REQUESTER, lambda _plan: nullcontext(JournalingExecutor()))
    assert applied.proposal.state == "applied", applied.proposal.message
    clock.now += timedelta(minutes=1)
    runner.record_verification(gate, applied.proposal, REQUESTER, Verification(
        "verified", (Check(plan.steps[0].title, "verified", "in place"),),
        (Check("wi-pod-label-missing", "verified", "gone on a fresh check"),), 4.0))
    clock.now += timedelta(minutes=1)
    undo = proposals.propose_undo(gate, fix, REQUESTER, CLI).id

    clock.now = now - timedelta(hours=2)
    dev_report = replace(report, cluster="aks-dev-weu")
    dev_check = record_check(store, dev_report, "cli:bob", CLI.to_json(), clock=clock)
    clock.now += timedelta(minutes=1)
    rejected = proposals.propose(gate, replace(plan, cluster="aks-dev-weu"), REQUESTER, CLI,
                                 check_run_id=dev_check).id
    clock.now += timedelta(minutes=1)
    decisions.reject(gate, rejected, BOB, "wrong cluster: dev is being rebuilt")

    clock.now = now - timedelta(minutes=20)
    rbac = read_bundle("examples/bundles/broken-rbac-receiver-only")
    break_glass = proposals.propose(gate, make_plan(diagnose(rbac), rbac), ALICE, CLI,
                                    break_glass_reason=BREAK_GLASS_REASON).id
    return Trail(url, store, fix, rejected, break_glass, undo)


@pytest.fixture
def trail(database_url: str) -> Iterator[Trail]:
    store = _migrated(database_url)
    try:
        yield _build(store, database_url)
    finally:
        store.close()


def audit(trail: Trail, *args: str) -> Result:
    return CliRunner().invoke(keda_auth, ["audit", *args, "--db", trail.url])


def listed(trail: Trail, *args: str) -> list[dict[str, Any]]:
    result = audit(trail, "list", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    events: list[dict[str, Any]] = json.loads(result.output)["events"]
    return events


def test_list_is_newest_first_and_every_filter_narrows(trail: Trail) -> None:
    everything = listed(trail, "--limit", "1000")
    seqs = [e["seq"] for e in everything]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == len(set(seqs)) > 10
    assert everything[-1]["action"] == "check.run" and everything[0]["proposal_id"] == trail.break_glass

    recent = listed(trail, "--since", "24h")
    assert recent and {e["proposal_id"] for e in recent} >= {trail.rejected, trail.break_glass}
    assert trail.fix not in {e["proposal_id"] for e in recent}, "3-day-old events listed for --since 24h"
    old = datetime.fromisoformat(str(everything[-1]["at"]))
    assert len(listed(trail, "--since", (old - timedelta(seconds=1)).isoformat())) == len(everything)

    dev = listed(trail, "--cluster", "aks-dev-weu")
    assert {e["cluster"] for e in dev} == {"aks-dev-weu"}
    assert {e["action"] for e in dev} >= {"check.run", "proposal.created", "proposal.rejected"}

    assert [(e["actor"], e["action"]) for e in listed(trail, "--actor", BOB)] == [(BOB, "proposal.rejected")]

    rbac = listed(trail, "--finding", "rbac-role-insufficient-sb")
    assert rbac and {e["proposal_id"] for e in rbac} == {trail.break_glass}
    label = listed(trail, "--finding", "wi-pod-label-missing")
    assert {e["proposal_id"] for e in label} == {None, trail.fix, trail.undo, trail.rejected}

    verified = listed(trail, "--state", "verified")
    assert {e["proposal_id"] for e in verified} == {trail.fix}
    assert {e["action"] for e in verified} >= {"proposal.created", "step.finished", "verify"}
    assert {e["proposal_id"] for e in listed(trail, "--state", "rejected")} == {trail.rejected}
    assert listed(trail, "--state", "rejected", "--actor", ALICE) == []

    one = listed(trail, "--proposal", trail.rejected)
    assert [e["action"] for e in one] == ["proposal.rejected", "proposal.created"]


def test_limit_and_footer_say_how_much_is_hidden(trail: Trail) -> None:
    total = len(listed(trail, "--limit", "1000"))
    result = audit(trail, "list", "--limit", "3")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("TIME (UTC)") and len(lines) == 1 + 3 + 1
    assert lines[-1] == f"showing 3 of {total}; --limit to see more"
    assert audit(trail, "list").output.splitlines()[-1] == f"showing {total} of {total}"
    rows = listed(trail, "--limit", "3")
    assert [r["seq"] for r in rows] == [total, total - 1, total - 2]


def test_break_glass_is_flagged_on_every_one_of_its_events(trail: Trail) -> None:
    shown = audit(trail, "show", trail.break_glass)
    assert shown.exit_code == 0, shown.output
    assert "!! BREAK-GLASS" in shown.output and BREAK_GLASS_REASON in shown.output
    assert "az role assignment create" in shown.output
    assert "BREAK-GLASS" not in audit(trail, "show", trail.fix).output

    lines = audit(trail, "list").output.splitlines()[1:-1]
    flagged = [line for line in lines if "BREAK-GLASS" in line]
    assert flagged and all(trail.break_glass in line for line in flagged)
    assert any(BREAK_GLASS_REASON in line for line in flagged)
    assert not [line for line in lines if trail.break_glass in line and "BREAK-GLASS" not in line]


def test_show_tells_the_whole_story_in_order(trail: Trail) -> None:
    result = audit(trail, "show", trail.fix)
    assert result.exit_code == 0, result.output
    text = result.output
    header = text.split("\n\n", 1)[0]
    for expected in (f"Proposal {trail.fix} (fix): verified", "cluster: aks-prod-weu", "namespaces: keda",
                     "wi-pod-label-missing", f"requested by {REQUESTER} from the command line (req@laptop)",
                     f"approvals: 1 of 1 ({ALICE})"):
        assert expected in header, (expected, header)
    assert "From check run" in text and "by cli:alice" in text
    order = ["Plan (2 step(s)", "kubectl -n keda patch", "rollout restart", "Decisions:",
             f"{ALICE} approve: lgtm, label only", "Step executions:", "apply 1. applied", "apply 2. applied",
             "Verifications:", "verified (4.0 s)", "Timeline:", "proposal.created", "proposal.approved",
             "apply.started", "step.started", "step.finished", "apply.applied", "verify"]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions), [m for m, p in zip(order, positions, strict=True)]
    assert "before: " in text and "after: " in text and "azure.workload.identity/use" in text
    assert "s3cr3tKeyValue" not in text, "a secret from a before-state reached the review"

    rejected = audit(trail, "show", trail.rejected, "--format", "json")
    story = json.loads(rejected.output)
    assert story["proposal"]["state"] == "rejected" and story["steps"] == []
    assert [(d["actor"], d["decision"], d["comment"]) for d in story["decisions"]] == [
        (BOB, "reject", "wrong cluster: dev is being rebuilt")]
    assert story["check_run"]["cluster"] == "aks-dev-weu"


def test_show_of_an_undo_gives_the_commands_that_put_things_back(trail: Trail) -> None:
    result = audit(trail, "show", trail.undo)
    assert result.exit_code == 0, result.output
    text = result.output
    assert f"Proposal {trail.undo} (undo of proposal {trail.fix}): proposed" in text
    assert "Undo (2 step(s), last change first):" in text
    assert text.index("undo: Restart the keda-operator") < text.index("undo: Label the keda-operator")
    assert "$ kubectl -n keda patch --type json" in text and '"op":"remove"' in text


def test_show_of_an_unknown_proposal_is_an_input_error(database_url: str) -> None:
    _migrated(database_url).close()
    result = CliRunner().invoke(keda_auth, ["audit", "show", "pdoesnotexist", "--db", database_url])
    assert result.exit_code == 3 and "no proposal 'pdoesnotexist'" in result.output


def _exported(trail: Trail, fmt: str, *args: str) -> str:
    result = audit(trail, "export", "--format", fmt, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_jsonl_export_reverifies_offline(trail: Trail) -> None:
    rows = [json.loads(line) for line in _exported(trail, "jsonl").splitlines()]
    assert [r["seq"] for r in rows] == [e["seq"] for e in reversed(listed(trail, "--limit", "1000"))]
    previous = chain.GENESIS
    for row in rows:
        assert set(row) == set(EXPORT_COLUMNS)
        assert chain.event_hash({**row, "at": datetime.fromisoformat(row["at"])}) == row["hash"], row["seq"]
        assert row["prev_hash"] == previous
        previous = row["hash"]
    recent = [json.loads(line) for line in _exported(trail, "jsonl", "--since", "24h").splitlines()]
    assert recent and recent == [r for r in rows if r["seq"] >= recent[0]["seq"]]
    assert all(r["action"] != "verify" for r in recent)


def test_csv_export_parses_and_to_a_file(trail: Trail, tmp_path: Path) -> None:
    text = _exported(trail, "csv")
    reader = list(csv.DictReader(io.StringIO(text)))
    assert tuple(reader[0]) == EXPORT_COLUMNS and len(reader) == len(listed(trail, "--limit", "1000"))
    glass = [r for r in reader if r["break_glass"] == "true"]
    assert glass and {r["proposal_id"] for r in glass} == {trail.break_glass}
    assert json.loads(glass[-1]["detail"])["reason"] == BREAK_GLASS_REASON
    out = f"{tmp_path}/trail.csv"
    result = audit(trail, "export", "--format", "csv", "-o", out)
    assert result.exit_code == 0 and f"exported {len(reader)} events to {out}" in result.output
    with open(out, encoding="utf-8", newline="") as handle:
        assert handle.read() == text


def test_verify_passes_then_names_the_edited_event(trail: Trail) -> None:
    intact = audit(trail, "verify")
    assert intact.exit_code == 0, intact.output
    with trail.store.read() as conn:
        head = chain.verify(conn)
        victim = conn.execute(select(AuditEvent.seq).where(AuditEvent.action == "proposal.approved")).scalar_one()
    assert f"{head.head_seq} event(s) checked, chain intact" in intact.output and head.head_hash in intact.output
    assert "keep this hash somewhere else" in intact.output

    with trail.store.write() as conn:
        conn.execute(update(AuditEvent).where(AuditEvent.seq == victim)
                     .values(detail=chain.canonical({"comment": "approved by nobody in particular"})))
    broken = audit(trail, "verify")
    assert broken.exit_code == 2, broken.output
    assert f"BROKEN at event #{victim}" in broken.output and "does not match its hash" in broken.output


@pytest.mark.parametrize(("args", "message"), [
    (("list", "--since", "yesterday"), "--since takes a duration"),
    (("list", "--since", "24x"), "got '24x'"),
    (("export", "--format", "jsonl", "--since", "last week"), "--since takes a duration"),
    (("list", "--state", "done"), "--state takes one of proposed, approved"),
    (("list", "--finding", "a,b"), "--finding takes one finding id"),
])
def test_bad_filters_exit_3_saying_what_is_expected(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    url = f"sqlite:///{tmp_path}/never-opened.db"
    result = CliRunner().invoke(keda_auth, ["audit", *args, "--db", url])
    assert result.exit_code == 3, result.output
    assert message in result.output
    assert not (tmp_path / "never-opened.db").exists(), "the input was checked only after opening the database"
