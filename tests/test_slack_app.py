"""The Slack app end to end: real Bolt behind `keda-auth serve`'s HTTP server, requests signed as Slack signs
them, a recording fake of the Slack Web API, the live simulators, and a real database."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.slack import blocks
from bot.store import chain
from bot.store.clock import utcnow
from tests.kit.gate_kit import migrated_store
from tests.kit.scenario import Scenario, scenario
from tests.kit.scenario_breakers import BREAKERS
from tests.kit.slack import CHANNEL_ID, FakeSlack, post, slash_command
from tests.kit.slack_bot import APPROVER, REQUESTER, STRANGER, Bot, buttons, serve_bot, text_of, wait_until

FINDING = "wi-pod-label-missing"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def broken(tmp_path: Path) -> Iterator[Scenario]:
    with scenario(tmp_path) as sc:
        BREAKERS[FINDING](sc)
        sc.settle()  # the seeded credential and role assignment are past their propagation windows
        yield sc


def check_message(bot: Bot) -> tuple[str, dict[str, Any]]:
    """Run `/keda-auth check` and wait for the live message to end with the findings."""
    status, ack = bot.command("check")
    assert status == 200 and "Checking" in ack
    posted = bot.fake.wait_for("chat.postMessage", lambda c: c.body.get("channel") == CHANNEL_ID)
    ts = wait_until(lambda: next((m["ts"] for m in bot.fake.messages(CHANNEL_ID)
                                  if buttons(m, "propose_fix")), None), what="the check's findings")
    assert posted is not None
    return ts, bot.fake.message(CHANNEL_ID, ts)


def propose(bot: Bot, check_ts: str, user: str = REQUESTER) -> tuple[str, str]:
    """Click "Propose fix" on the finding; returns (proposal id, its message ts)."""
    value = next(v for v in buttons(bot.fake.message(CHANNEL_ID, check_ts), "propose_fix") if v.endswith(FINDING))
    assert bot.click("propose_fix", value, user, check_ts) == 200
    ts = wait_until(lambda: next((m["ts"] for m in bot.fake.thread(CHANNEL_ID, check_ts) if buttons(m, "approve")),
                                 None), what="the proposal message")
    return buttons(bot.fake.message(CHANNEL_ID, ts), "approve")[0], ts


def ephemeral_to(bot: Bot, user: str, words: str) -> str:
    call = bot.fake.wait_for("chat.postEphemeral", lambda c: c.body.get("user") == user and words in json.dumps(
        c.body), timeout=30)
    return json.dumps(call.body)


def state_shows(bot: Bot, ts: str, words: str) -> None:
    wait_until(lambda: words in text_of(bot.fake.message(CHANNEL_ID, ts)), what=f"the message to say {words!r}")


def test_check_propose_approve_apply_verified(broken: Scenario, fake: FakeSlack, tmp_path: Path) -> None:
    with serve_bot(broken, fake, f"sqlite:///{tmp_path}/bot.db") as bot:
        check_ts, message = check_message(bot)
        assert FINDING in text_of(message)
        proposal, ts = propose(bot, check_ts)
        shown = bot.fake.message(CHANNEL_ID, ts)
        assert buttons(shown, "approve") == [proposal] and buttons(shown, "reject") == [proposal]
        assert "kubectl" in text_of(shown) and APPROVER in text_of(shown)

        assert bot.click("approve", proposal, REQUESTER, ts) == 200
        ephemeral_to(bot, REQUESTER, "a different approver is required")
        assert bot.click("approve", proposal, STRANGER, ts) == 200
        ephemeral_to(bot, STRANGER, "is not an approver")
        assert FINDING in broken.finding_ids(), "a refused click changed something"

        assert bot.click("approve", proposal, APPROVER, ts) == 200
        state_shows(bot, ts, "verified")
        assert buttons(bot.fake.message(CHANNEL_ID, ts), "undo") == [proposal]
        thread = " ".join(text_of(m) for m in bot.fake.thread(CHANNEL_ID, check_ts))
        assert "step 1/" in thread and "applied" in thread
        assert FINDING not in broken.finding_ids()

        with bot.backend.store.read() as conn:
            assert chain.verify(conn).ok
            actions = [r[0] for r in conn.exec_driver_sql("SELECT action FROM audit_events ORDER BY seq")]
        assert actions.count("approve.refused") == 2 and actions.count("apply.started") == 1
        for call in bot.fake.calls():
            if call.method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
                blocks.validate_blocks(call.body.get("blocks") or [])


def test_reject_opens_a_modal_and_never_applies(broken: Scenario, fake: FakeSlack, tmp_path: Path) -> None:
    with serve_bot(broken, fake, f"sqlite:///{tmp_path}/bot.db") as bot:
        check_ts, _ = check_message(bot)
        proposal, ts = propose(bot, check_ts)
        assert bot.click("approve_with_comment", proposal, APPROVER, ts) == 200
        assert fake.wait_for("views.open").body["view"]["callback_id"] == "approve_comment"
        fake.clear()
        assert bot.click("reject", proposal, STRANGER, ts) == 200  # the modal opens; the submit is authorised
        opened = fake.wait_for("views.open")
        assert opened.body["view"]["callback_id"] == "reject_reason"
        metadata = opened.body["view"]["private_metadata"]
        status, body = bot.submit("reject_reason", metadata, {"reason": {"reason": "not now"}}, STRANGER)
        assert status == 200 and b"is not an approver" in body
        status, body = bot.submit("reject_reason", metadata, {"reason": {"reason": "wrong identity"}}, APPROVER)
        assert status == 200, body
        state_shows(bot, ts, "wrong identity")
        assert bot.click("approve", proposal, APPROVER, ts) == 200
        ephemeral_to(bot, APPROVER, "rejected")
        assert FINDING in broken.finding_ids()


def test_an_expired_proposal_is_refused_and_shown_expired(broken: Scenario, fake: FakeSlack, tmp_path: Path) -> None:
    offset = [timedelta(0)]
    with serve_bot(broken, fake, f"sqlite:///{tmp_path}/bot.db", clock=lambda: utcnow() + offset[0]) as bot:
        check_ts, _ = check_message(bot)
        proposal, ts = propose(bot, check_ts)
        offset[0] = timedelta(minutes=31)
        assert bot.click("approve", proposal, APPROVER, ts) == 200
        ephemeral_to(bot, APPROVER, "expired")
        state_shows(bot, ts, "expired")
        assert FINDING in broken.finding_ids()


def test_two_replicas_on_postgresql_apply_a_double_click_once(broken: Scenario, fake: FakeSlack,
                                                             postgres_url: str) -> None:
    with migrated_store(postgres_url):
        pass
    with serve_bot(broken, fake, postgres_url) as one, serve_bot(broken, fake, postgres_url) as two:
        check_ts, _ = check_message(one)
        proposal, ts = propose(one, check_ts)
        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = list(pool.map(lambda bot: bot.click("approve", proposal, APPROVER, ts), [one, two, one, two]))
        assert statuses == [200] * 4
        state_shows(one, ts, "verified")
        time.sleep(0.5)  # let any loser finish its refusal
        with one.backend.store.read() as conn:
            actions = [r[0] for r in conn.exec_driver_sql("SELECT action FROM audit_events ORDER BY seq")]
            assert chain.verify(conn).ok
        assert actions.count("apply.started") == 1 and actions.count("proposal.approved") == 1


def test_signatures_are_checked_on_the_raw_bytes_first(broken: Scenario, fake: FakeSlack, tmp_path: Path) -> None:
    with serve_bot(broken, fake, f"sqlite:///{tmp_path}/bot.db") as bot:
        body = slash_command("check", response_url=fake.response_url("x"))
        assert bot.send(body, secret="not-the-secret")[0] == 401
        assert bot.send(body, timestamp=int(time.time()) - 6 * 60)[0] == 401
        for junk in (b"\xff\xfe\x00garbage", b"payload=not-json", b"{not json", b""):
            unsigned = {"Content-Type": "application/x-www-form-urlencoded"}
            assert post(f"{bot.url}/slack/events", junk, unsigned)[0] == 401
            status, _, seconds = bot.send(junk)
            assert 400 <= status < 500 and seconds < 3, (junk, status)
        assert post(f"{bot.url}/slack/events", body, {"X-Slack-Request-Timestamp": "soon",
                                                      "X-Slack-Signature": "v0=0"})[0] == 401
        assert not fake.calls("chat.postMessage") and not fake.calls("chat.postEphemeral"), "something ran"


def test_bad_arguments_get_the_usage_and_start_nothing(broken: Scenario, fake: FakeSlack, tmp_path: Path) -> None:
    with serve_bot(broken, fake, f"sqlite:///{tmp_path}/bot.db") as bot:
        for text in ("frobnicate", "check a b c", "fix", "audit yesterday", "status now"):
            status, ack = bot.command(text)
            assert status == 200 and "/keda-auth check" in ack, (text, ack)
        status, ack = bot.command("help")
        assert status == 200 and "whoami" in ack
        status, ack = bot.command("check", channel="C0ELSEWHERE")
        assert status == 200 and "does not work in this channel" in ack
        assert not fake.calls("chat.postMessage")


def test_probes_metrics_home_audit_status_and_whoami(broken: Scenario, fake: FakeSlack, tmp_path: Path) -> None:
    import urllib.request

    with serve_bot(broken, fake, f"sqlite:///{tmp_path}/bot.db") as bot:
        check_message(bot)
        assert urllib.request.urlopen(f"{bot.url}/healthz").read() == b"ok"
        ready = json.loads(urllib.request.urlopen(f"{bot.url}/readyz").read())
        assert ready == {"ready": True, "problems": []}
        metrics = urllib.request.urlopen(f"{bot.url}/metrics").read().decode()
        assert "keda_auth_checks_total 1.0" in metrics and f'finding="{FINDING}"' in metrics
        assert "keda_auth_slack_ack_seconds_bucket" in metrics
        assert bot.open_home(APPROVER) == 200
        home = wait_until(lambda: fake.home(APPROVER), what="App Home")
        blocks.validate_view(home)
        status, ack = bot.command("audit 1h")
        assert status == 200 and "check.run" in ack
        status, ack = bot.command("status")
        assert status == 200 and "kill switch" in ack.lower()
        bot.backend.options = dataclasses.replace(bot.backend.options, subscriptions=(broken.azure.subscription_id,))
        bot.backend.keda_namespace = broken.namespace  # as `serve --keda-namespace` sets it
        bot.command("whoami")
        said = ephemeral_to(bot, REQUESTER, "patch deployments")
        assert "serviceaccounts" in said and "triggerauthentications" in said
        assert f"patch deployments/keda-operator in {broken.namespace}" in said
        assert f"/subscriptions/{broken.azure.subscription_id}" in said and "roleAssignments/write" in said


def test_the_http_server_holds_many_concurrent_connections(broken: Scenario, fake: FakeSlack, tmp_path: Path) -> None:
    with serve_bot(broken, fake, f"sqlite:///{tmp_path}/bot.db") as bot, ThreadPoolExecutor(max_workers=30) as pool:
        results = list(pool.map(lambda _: bot.command("help"), range(60)))
    assert all(status == 200 and "whoami" in ack for status, ack in results)


def test_a_member_of_the_approvers_user_group_may_approve(broken: Scenario, fake: FakeSlack, tmp_path: Path) -> None:
    from bot.approval.policy import parse_policy

    group, member = "S0ONCALL1", "U0DDD0004"
    fake.groups[group] = [member]
    policy = parse_policy(f"""
allow: {{channels: [{CHANNEL_ID}], clusters: ["*"], namespaces: ["*"]}}
tiers:
  restart: {{groups: [{group}]}}
  patch: {{groups: [{group}]}}
""", "policy.yaml")
    with serve_bot(broken, fake, f"sqlite:///{tmp_path}/bot.db", policy=policy) as bot:
        check_ts, _ = check_message(bot)
        proposal, ts = propose(bot, check_ts)
        assert bot.click("approve", proposal, APPROVER, ts) == 200  # not in the group
        ephemeral_to(bot, APPROVER, "is not an approver")
        assert bot.click("approve", proposal, member, ts) == 200
        state_shows(bot, ts, "verified")
        assert fake.calls("usergroups.users.list"), "membership was not read from Slack"


def test_slow_checks_never_delay_the_next_acknowledgement(broken: Scenario, fake: FakeSlack, tmp_path: Path) -> None:
    from tests.kit.sim.faults import Fault

    assert broken.kube.sim is not None, "needs the simulator's latency injection"
    # Every list of Deployments answers after 3 s: eight checks are under way at once, longer than Slack waits.
    broken.kube.sim.faults.add(Fault(method="GET", path=r"/deployments$", delay=3.0, times=None))
    with serve_bot(broken, fake, f"sqlite:///{tmp_path}/bot.db") as bot:
        slow = [bot.send(slash_command("check", response_url=fake.response_url("c"))) for _ in range(8)]
        assert all(status == 200 and seconds < 1.0 for status, _, seconds in slow), slow
        status, body, seconds = bot.send(slash_command("help", response_url=fake.response_url("h")))
        assert status == 200 and b"whoami" in body and seconds < 1.0
        wait_until(lambda: len([m for m in fake.messages(CHANNEL_ID) if buttons(m, "propose_fix")]) == 8,
                   what="all eight checks to finish")
        broken.kube.sim.faults.clear()
