"""Block Kit payloads built from real reports, plans, proposals, executions and audit events: every one within
Slack's limits and read back unchanged by slack_sdk's models, buttons carrying only ids, secrets and mentions
from user text never reaching Slack."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.approval.gate import ProposalView
from bot.approval.policy import Policy, TierRule, tier_name
from bot.approval.states import State
from bot.audit.query import EventRow
from bot.diagnosis.engine import Report, diagnose
from bot.diagnosis.findings import Evidence, Severity
from bot.execute.records import Execution, Status
from bot.execute.verify import FAILED, PROPAGATING, VERIFIED, Check, Verification
from bot.plan.plan import Plan
from bot.plan.planner import make_plan
from bot.slack import blocks
from bot.slack.blocks import BlockError
from bot.snapshot.bundle import read_bundle
from remediations.catalogue import CATALOGUE, Risk

BUNDLES = Path(__file__).resolve().parent.parent / "examples" / "bundles"
INDEX: dict[str, Any] = json.loads((BUNDLES / "index.json").read_text(encoding="utf-8"))
SECRET = "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=CANARYsecret123="
CANARY = "CANARYsecret123"
HOSTILE = "<!channel> & <@U999|boss> <https://evil.example|click>"
NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
POLICY = Policy(tiers={
    Risk.RESTART: TierRule(approvers=frozenset({"U0APPROVE1"}), required=1),
    Risk.PATCH: TierRule(approvers=frozenset({"U0APPROVE1", "cli:alice"}), groups=frozenset({"S0ONCALL"}),
                         required=1),
    Risk.AZURE_RBAC: TierRule(approvers=frozenset({"U0APPROVE1", "U0APPROVE2"}), required=2),
}, channels=("C0123ABCD",), clusters=("aks-*",), namespaces=("*",), source="policy.yaml")


# -- inputs, from the example bundles


@cache
def checked(name: str) -> tuple[Report, Plan]:
    snapshot = read_bundle(BUNDLES / name)
    report = diagnose(snapshot)
    return report, make_plan(report, snapshot)


def planned() -> list[str]:
    return [name for name in INDEX if checked(name)[1].steps]


def view_of(plan: Plan, state: State, *, kind: str = "fix", requester: str = "U0REQUEST", **changes: Any
            ) -> ProposalView:
    payload = plan.to_json()
    if kind == "undo":
        execution = Execution.start(plan)
        for record in execution.steps:
            record.status = Status.APPLIED
            record.before = {"metadata": {"name": "keda-operator", "labels": {"app": "keda-operator"}}}
        payload = execution.to_json()
    view = ProposalView(
        id="p" + "0a1b2c3d4e" * 2, kind=kind, undoes="p" + "f" * 20 if kind == "undo" else None, state=state,
        message="", risk=tier_name(plan.risk), cluster=plan.cluster, namespaces=("keda",),
        findings=tuple(f.id for f in plan.findings), requester=requester,
        origin={"via": "slack", "channel": "C0123ABCD"}, created_at=NOW, expires_at=NOW + timedelta(minutes=30),
        state_changed_at=NOW, approvals=0, required=POLICY.tiers[plan.risk].required, approvers=(),
        rejected_by=(), plan_hash=plan.hash, payload=payload, break_glass=False, break_glass_reason=None)
    return dataclasses.replace(view, **changes)


def events(count: int, *, secret: str = "") -> list[EventRow]:
    actions = ("check.run", "proposal.created", "proposal.approved", "step.finished", "proposal.break-glass")
    return [EventRow(seq=n, at=NOW - timedelta(minutes=n), actor=("U0APPROVE1", "cli:alice", "keda-auth")[n % 3],
                     action=actions[n % len(actions)], proposal_id=f"p{n:020d}", check_run_id=None,
                     cluster="aks-prod-weu", findings=("wi-pod-label-missing",), state="applied",
                     break_glass=n % len(actions) == 4,
                     detail={"step": "Label the keda-operator pod template", "status": "applied",
                             "reason": f"SEV1 {secret}"}) for n in range(count)]


# -- what every payload must satisfy


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


# The only <…> Slack should see: mentions, user groups, dates and links keda-auth made on purpose.
MARKUP = re.compile(r"<(@[UW][A-Z0-9]+|!subteam\^S[A-Z0-9]+|!date\^\d+\^[^|<>]+\|[^|<>]+|https://[^|<>]+\|[^|<>]+)>")


def well_formed(payload: dict[str, Any]) -> None:
    for text in mrkdwn(payload):
        rest = MARKUP.sub("", text)
        assert "<" not in rest and ">" not in rest, text
        assert not re.search(r"&(?!amp;|lt;|gt;)", rest), text


def valid_message(payload: dict[str, Any]) -> dict[str, Any]:
    assert set(payload) == {"text", "blocks"}
    well_formed(payload)
    assert 0 < len(payload["text"]) <= 3000
    blocks.validate_blocks(payload["blocks"])
    assert [Block.parse(b).to_dict() for b in payload["blocks"]] == payload["blocks"]  # type: ignore[union-attr]
    assert json.loads(json.dumps(payload)) == payload
    assert all(len(s) <= 3000 for s in strings(payload))
    return payload


def valid_view(view: dict[str, Any]) -> dict[str, Any]:
    blocks.validate_view(view)
    well_formed(view)
    View(**view).validate_json()
    assert json.loads(json.dumps(view)) == view
    return view


def texts(payload: dict[str, Any]) -> str:
    return "\n".join(strings(payload))


def mrkdwn(value: Any) -> Iterator[str]:
    """What Slack parses for mentions and links: mrkdwn text objects and a message's fallback text."""
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" or ("blocks" in value and isinstance(value.get("text"), str)):
            yield value["text"]
        for item in value.values():
            if isinstance(item, dict | list):
                yield from mrkdwn(item)
    elif isinstance(value, list):
        for item in value:
            yield from mrkdwn(item)


def buttons(payload: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for block in payload["blocks"]:
        found += [e for e in block.get("elements") or () if e.get("type") == "button"]
        if (block.get("accessory") or {}).get("type") == "button":
            found.append(block["accessory"])
    return found


def shown_findings(payload: dict[str, Any]) -> list[str]:
    """Finding ids in the order their title sections appear (a title line starts with the severity emoji)."""
    ids = []
    for block in payload["blocks"]:
        text = (block.get("text") or {}).get("text", "")
        if block["type"] == "section" and text.startswith(":"):
            match = re.search(r"\*  `([^`]+)`", text.split("\n", 1)[0])
            if match:
                ids.append(match.group(1))
    return ids


# -- checks


@pytest.mark.parametrize("name", list(INDEX))
def test_check_result_for_every_example_bundle(name: str) -> None:
    report, _ = checked(name)
    main, thread = blocks.check_result(report, "run0123456789abc", report.cluster or "aks", "U0REQUEST")
    valid_message(main)
    assert thread == []
    if not report.findings:
        assert len(main["blocks"]) <= 3 and "nothing wrong" in main["text"]
        assert buttons(main) == []
        return
    shown = shown_findings(main)
    assert shown == [f.id for f in report.findings]  # the engine already ranks the root cause first
    assert set(INDEX[name]["shows"]) <= set(shown)
    if report.root_cause is not None:
        assert shown[0] == report.root_cause.id
        assert "ROOT CAUSE" in json.dumps(main["blocks"][:6])
    proposes = {b["value"] for b in buttons(main)}
    assert all(b["action_id"] == "propose_fix" for b in buttons(main))
    expected = {f"run0123456789abc|{f.id}" for f in report.findings
                if any(CATALOGUE[r].automated for r in f.fixes if r in CATALOGUE)}
    assert proposes == expected
    for finding in report.findings:
        assert all(blocks.esc(command) in texts(main) for command in finding.commands)


def test_root_cause_is_shown_first_whatever_order_the_findings_come_in() -> None:
    report, _ = checked("broken-identityid-objectid")
    flipped = dataclasses.replace(report, findings=tuple(reversed(report.findings)))
    main, _ = blocks.check_result(flipped, "run", "aks", "U0REQUEST")
    assert flipped.root_cause is not None and shown_findings(main)[0] == flipped.root_cause.id


def test_a_giant_report_keeps_the_worst_in_the_channel_and_the_rest_in_the_thread() -> None:
    report, _ = checked("broken-pod-label")
    base = report.findings[0]
    long_evidence = tuple(Evidence(f"Deployment/keda/op-{i}", "spec.template", "x" * 900, "y" * 900)
                          for i in range(14))
    severities = (Severity.INFO, Severity.WARNING, Severity.CRITICAL)
    giant = [dataclasses.replace(base, id=f"synthetic-{n:03d}", severity=severities[n % 3],
                                 detail="d" * (n * 40), evidence=long_evidence if n % 7 == 0 else base.evidence,
                                 commands=(("kubectl patch " + "z" * 5000,) if n % 11 == 0 else base.commands),
                                 symptoms=tuple(f"log line {i}" for i in range(n % 6)))
             for n in range(200)]
    giant.sort(key=lambda f: -f.severity)  # as the engine ranks them
    big = dataclasses.replace(report, findings=tuple(giant))
    main, thread = blocks.check_result(big, "run", "aks-prod-weu", "U0REQUEST")
    pages = [main, *thread]
    for page in pages:
        valid_message(page)
        assert len(page["blocks"]) <= 50
    assert thread and "more findings in the thread" in json.dumps(main)
    shown = [fid for page in pages for fid in shown_findings(page)]
    assert sorted(shown) == sorted(f.id for f in giant)  # nothing dropped, nothing twice
    severity = {f.id: f.severity for f in giant}
    assert big.root_cause is not None and shown[0] == big.root_cause.id
    ranks = [severity[fid] for fid in shown[1:]]
    assert ranks == sorted(ranks, reverse=True)  # critical first, so the channel keeps the most important
    assert all(severity[fid] is Severity.CRITICAL for fid in shown_findings(main))


def test_check_progress_names_cluster_scope_requester_and_stage() -> None:
    for stage in ("reading Kubernetes", "reading Azure", "running checks"):
        payload = valid_message(blocks.check_progress("aks-prod-weu", "orders/orders-processor", stage, "U0REQUEST"))
        text = payload["blocks"][0]["text"]["text"]
        assert "aks-prod-weu" in text and "orders/orders-processor" in text and "<@U0REQUEST>" in text
        assert f"{stage}…" in text


# -- proposals

BUTTONS = {State.PROPOSED: ["approve", "approve_with_comment", "reject"], State.APPLIED: ["undo"],
           State.VERIFIED: ["undo"], State.FAILED: ["undo"]}
STATUS = {State.PROPOSED: "waiting for approval (0 of", State.APPROVED: "approved by <@U0APPROVE1>",
          State.APPLYING: "applying", State.APPLIED: "applied", State.VERIFIED: "verified: the findings are gone",
          State.FAILED: "failed", State.REJECTED: "rejected by* <@U0APPROVE1>: wrong identity",
          State.EXPIRED: "expired", State.UNDONE: "undone"}


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("name", planned())
def test_proposal_in_every_state(name: str, state: State) -> None:
    _, plan = checked(name)
    view = view_of(plan, state, approvers=("U0APPROVE1",) if state is not State.PROPOSED else (),
                   rejected_by=(("U0APPROVE1", "wrong identity"),) if state is State.REJECTED else (),
                   message="the patch was refused" if state is State.FAILED else "")
    payload = valid_message(blocks.proposal(view, POLICY))
    assert payload["blocks"][0] == {"type": "header", "text": {
        "type": "plain_text", "text": f"Fix proposal {view.id} · risk {view.risk}"}}
    body = json.dumps(payload["blocks"], ensure_ascii=False)
    assert STATUS[state] in body
    assert [b["action_id"] for b in buttons(payload)] == BUTTONS.get(state, [])
    assert all(b["value"] == view.id for b in buttons(payload))
    if buttons(payload):
        assert payload["blocks"][-1]["block_id"] == "proposal_actions"
    assert all(blocks.esc(step.command) in texts(payload) for step in plan.steps)
    if state is State.PROPOSED:
        assert "<@U0APPROVE1>" in body and "<!date^1795689000^" in body  # who may approve; expiry in Slack's format
    if state is State.FAILED:
        assert "the patch was refused" in body


def test_undo_proposal_shows_undo_commands_and_never_offers_undo() -> None:
    _, plan = checked("broken-pod-label")
    for state in State:
        payload = valid_message(blocks.proposal(view_of(plan, state, kind="undo"), POLICY))
        assert "undo" not in [b["action_id"] for b in buttons(payload)]
        for step in plan.steps:
            assert blocks.esc(f"undo: {step.title}") in texts(payload)
            assert blocks.esc(step.undo_command) in texts(payload)


def test_proposal_requester_break_glass_and_progress() -> None:
    _, plan = checked("broken-rbac-receiver-only")
    view = view_of(plan, State.APPLYING, requester="cli:bob", break_glass=True,
                   break_glass_reason=f"SEV1: orders backlog {SECRET}")
    payload = valid_message(blocks.proposal(view, POLICY, progress="applying step 1 of 1: grant the role"))
    body = json.dumps(payload, ensure_ascii=False)
    assert "BREAK-GLASS" in body and "BREAK-GLASS" in payload["text"]
    assert "`cli:bob`" in body and "applying step 1 of 1: grant the role" in body
    assert CANARY not in body


def test_a_plan_with_many_steps_still_fits_one_message() -> None:
    _, plan = checked("broken-pod-label")
    steps = [dict(plan.to_json()["steps"][0], key=f"k{n}", title=f"step {n} " + "t" * 80,
                  command="kubectl patch " + "c" * (n * 30)) for n in range(120)]
    view = view_of(plan, State.PROPOSED, payload={**plan.to_json(), "steps": steps})
    payload = valid_message(blocks.proposal(view, POLICY))
    assert len(payload["blocks"]) <= 50 and buttons(payload)


def test_step_results_and_verification() -> None:
    _, plan = checked("broken-pod-label")
    execution = Execution.start(plan)
    big = {"metadata": {"annotations": {f"a{i}": "v" * 100 for i in range(200)}}, "spec": {"note": SECRET}}
    for index, (record, status) in enumerate(zip(execution.steps, (Status.APPLIED, Status.FAILED), strict=False), 1):
        record.status, record.before, record.after, record.message = status, big, {"ok": True}, HOSTILE
        payload = valid_message(blocks.step_result(record, index, len(execution.steps)))
        text = payload["blocks"][0]["text"]["text"]
        assert text.startswith(f"{':heavy_check_mark:' if index == 1 else ':x:'} *step {index}/2 {status.value}*")
        assert CANARY not in json.dumps(payload) and "<!channel>" not in json.dumps(payload)
    for outcome in (VERIFIED, PROPAGATING, FAILED):
        result = Verification(outcome, tuple(Check(f"step {i}", outcome, "patched field visible") for i in range(60)),
                              (Check("wi-pod-label-missing", outcome, f"gone {SECRET}"),), 12.5)
        payload = valid_message(blocks.verification(result))
        body = json.dumps(payload)
        assert outcome in body and "wi-pod-label-missing" in body and CANARY not in body


# -- modals and views


def test_modals() -> None:
    reject = valid_view(blocks.reject_modal("p0a1b2c3d4e0a1b2c3d4e"))
    assert (reject["callback_id"], reject["private_metadata"]) == ("reject_reason", "p0a1b2c3d4e0a1b2c3d4e")
    assert [reject["title"]["text"], reject["submit"]["text"], reject["close"]["text"]] == ["Reject fix", "Reject",
                                                                                          "Cancel"]
    field = reject["blocks"][-1]
    assert (field["block_id"], field["element"]["action_id"], field["optional"]) == ("reason", "reason", False)
    assert field["element"]["multiline"] is True and field["element"]["type"] == "plain_text_input"
    approve = valid_view(blocks.approve_modal("p0a1b2c3d4e0a1b2c3d4e"))
    field = approve["blocks"][-1]
    assert approve["callback_id"] == "approve_comment"
    assert (field["block_id"], field["element"]["action_id"], field["optional"]) == ("comment", "comment", True)


def test_home_offers_only_what_this_user_may_approve() -> None:
    _, patch_plan = checked("broken-pod-label")
    _, rbac_plan = checked("broken-rbac-receiver-only")
    mine = view_of(patch_plan, State.PROPOSED, id="p" + "1" * 20)
    own = view_of(patch_plan, State.PROPOSED, id="p" + "2" * 20, requester="U0APPROVE1")
    restart = dataclasses.replace(view_of(rbac_plan, State.PROPOSED, id="p" + "3" * 20), risk="restart")
    many = [view_of(patch_plan, State.PROPOSED, id=f"p{n:020d}") for n in range(60)]
    checks = [{"at": NOW, "cluster": "aks-prod-weu", "actor": "U0REQUEST", "exit_code": 2,
               "summary": {"critical": 1, "warning": 0, "info": 0, "root_cause": "wi-pod-label-missing"}}] * 40
    for kill in ((False, "the kill switch is off"), (True, f"change freeze {HOSTILE}")):
        home = valid_view(blocks.home("U0APPROVE2", [mine, own, restart, *many], POLICY, checks, events(300), kill))
        assert home["type"] == "home" and len(home["blocks"]) <= 100
        assert not buttons(home)  # U0APPROVE2 approves only azure-rbac plans, and none of these is one
        home = valid_view(blocks.home("U0APPROVE1", [mine, own, restart, *many], POLICY, checks, events(300), kill))
        values = {b["value"] for b in buttons(home)}
        assert mine.id in values and own.id not in values and restart.id in values
        assert all(b["action_id"] in ("approve", "approve_with_comment", "reject") for b in buttons(home))
        body = json.dumps(home)
        assert not any("<!channel>" in t for t in mrkdwn(home)) and ("Kill switch on" in body) is kill[0]
        assert "BREAK-GLASS" in body and "Recent checks" in body and "Recent activity" in body


def test_audit_status_usage_and_notice() -> None:
    rows = events(500, secret=SECRET)
    payload = valid_message(blocks.audit(rows, 1234, "24h"))
    footer = payload["blocks"][-1]["elements"][0]["text"]
    shown = int(re.search(r"showing (\d+) of 1234", footer).group(1))  # type: ignore[union-attr]
    assert 0 < shown <= 500 and sum(len(b["text"]["text"].splitlines()) for b in payload["blocks"][1:-1]) == shown
    assert "BREAK-GLASS" in json.dumps(payload) and CANARY not in json.dumps(payload)
    valid_message(blocks.audit([], 0, "1h"))

    _, plan = checked("broken-pod-label")
    pending = [view_of(plan, state, id=f"p{n:020d}") for n, state in enumerate((State.PROPOSED, State.APPLYING))]
    status = valid_message(blocks.status(pending * 40, (True, "change freeze"), POLICY))
    assert "Kill switch on" in json.dumps(status) and "<@U0APPROVE1>" in json.dumps(status)
    assert "<!subteam^S0ONCALL>" in json.dumps(status) and "`cli:alice`" in json.dumps(status)
    valid_message(blocks.status([], (False, "off"), POLICY))

    usage = valid_message(blocks.usage())
    for command in ("check [cluster] [namespace[/scaledobject]]", "fix &lt;finding-id|proposal-id&gt;",
                    "audit [since]", "status", "whoami", "help"):
        assert f"/keda-auth {command}" in json.dumps(usage)
    with_error = valid_message(blocks.usage(f"unknown verb {HOSTILE}"))
    assert with_error["blocks"][0]["text"]["text"].startswith(":warning: unknown verb &lt;!channel&gt; &amp;")
    note = valid_message(blocks.notice(f"refused: {HOSTILE} {SECRET}"))
    assert len(note["blocks"]) == 1 and CANARY not in json.dumps(note)


# -- secrets and user text


def test_a_planted_secret_never_reaches_slack() -> None:
    report, plan = checked("broken-pod-label")
    finding = report.findings[0]
    planted = dataclasses.replace(
        finding, title=f"title {SECRET}", detail=f"detail {SECRET}", objects=(f"Secret/{SECRET}",),
        evidence=(*finding.evidence, Evidence("Deployment/keda/keda-operator", "env[CONN]", "(not set)", SECRET)),
        commands=(f"kubectl set env CONN='{SECRET}'",), symptoms=(f"log: {SECRET}",))
    leaky = dataclasses.replace(report, findings=(planted,))
    main, thread = blocks.check_result(leaky, "run", f"aks {SECRET}", SECRET)
    view = view_of(plan, State.REJECTED, rejected_by=(("U0APPROVE1", SECRET),), message=SECRET,
                   break_glass=True, break_glass_reason=SECRET, cluster=SECRET)
    payloads = [main, *thread, blocks.proposal(view, POLICY, progress=SECRET), blocks.notice(SECRET),
                blocks.usage(SECRET), blocks.audit(events(3, secret=SECRET), 3, SECRET),
                blocks.check_progress(SECRET, SECRET, SECRET, SECRET)]
    for payload in payloads:
        valid_message(payload)
        assert CANARY not in json.dumps(payload)
    assert "&lt;redacted:" in json.dumps(main)


def test_user_text_is_escaped_everywhere() -> None:
    report, plan = checked("broken-pod-label")
    hostile = dataclasses.replace(report.findings[0], detail=HOSTILE, commands=(f"echo '{HOSTILE}'",))
    main, _ = blocks.check_result(dataclasses.replace(report, findings=(hostile,)), "run", HOSTILE, "U0REQUEST")
    view = view_of(plan, State.REJECTED, rejected_by=(("U0APPROVE1", HOSTILE),))
    for payload in (main, blocks.proposal(view, POLICY), blocks.notice(HOSTILE), blocks.usage(HOSTILE),
                    blocks.check_progress(HOSTILE, HOSTILE, HOSTILE, "U0REQUEST")):
        parsed = "\n".join(mrkdwn(valid_message(payload)))
        assert "<!channel>" not in parsed and "<@U999" not in parsed and "<https://evil" not in parsed
        assert "&lt;!channel&gt; &amp; &lt;@U999|boss&gt;" in parsed
    assert "```echo '&lt;!channel&gt; &amp;" in json.dumps(main)  # escaped inside code blocks too


# -- the helpers themselves


def test_validate_blocks_rejects_what_slack_would() -> None:
    ok = {"type": "section", "text": {"type": "mrkdwn", "text": "ok"}}
    with pytest.raises(BlockError, match=r"block 50\b.*limit of 50"):
        blocks.validate_blocks([ok] * 51)
    too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    with pytest.raises(BlockError, match=r"block 3 \(section\).*3001.*limit of 3000"):
        blocks.validate_blocks([ok, ok, ok, too_long])
    wide = {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "b" * 76},
                                              "action_id": "approve", "value": "p1"}]}
    with pytest.raises(BlockError, match=r"block 2 \(actions\).*button text.*limit of 75"):
        blocks.validate_blocks([ok, ok, wide])
    with pytest.raises(SlackObjectFormationError):  # callers catching slack_sdk's error catch ours too
        blocks.validate_blocks([ok, ok, wide])
    for bad, why in (({"type": "nonsense"}, "not a block type"), ({**ok, "bogus": 1}, "bogus"),
                     ({"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}, "limit of 150"),
                     ({"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}, "limit of 10")):
        with pytest.raises(BlockError, match=why):
            blocks.validate_blocks([bad])
    with pytest.raises(BlockError, match="block 1: block_id 'same'"):
        blocks.validate_blocks([{**ok, "block_id": "same"}, {**ok, "block_id": "same"}])
    blocks.validate_blocks([ok] * 50)
    with pytest.raises(BlockError, match="title"):
        blocks.validate_view({"type": "modal", "title": {"type": "plain_text", "text": "t" * 25}, "blocks": [ok]})
    with pytest.raises(BlockError, match="limit of 100"):
        blocks.validate_view({"type": "home", "blocks": [ok] * 101})


@pytest.mark.parametrize("limit", [30, 100, 2000, 3000])
def test_fit_and_code_stay_within_limits_and_keep_markup_whole(limit: int) -> None:
    text = ("<@U0123ABCD> &amp; `x` ```code block``` <!date^1795687200^{time}|10:00> " * 200)
    for start in range(0, 60, 7):
        cut = blocks.fit(text[start:], limit)
        assert len(cut) <= limit and cut.endswith(blocks.CUT)
        assert cut.count("```") % 2 == 0
        head = cut[:-len(blocks.CUT)]
        assert head.rfind("<") <= head.rfind(">") and (head.rfind("&") <= head.rfind(";"))
    assert blocks.fit("short", limit) == "short"
    fenced = blocks.code("kubectl patch " + "```" + "<&>" * 2000, limit)
    assert len(fenced) <= limit and fenced.startswith("```") and fenced.endswith("```")
    assert fenced.count("```") == 2 and "<" not in fenced
