"""The Slack test kit (tests/kit/slack.py): the fake Web API answers the real slack_sdk clients as Slack does,
and requests signed by the kit pass a real Bolt app's verification (while bad or stale ones do not)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.kit.slack import (
    BOT_TOKEN,
    BOT_USER_ID,
    CHANNEL_ID,
    ONCALL_GROUP_ID,
    TEAM_ID,
    USER_ID,
    FakeSlack,
    SlackSigner,
    app_home_opened,
    block_actions,
    post,
    serve_wsgi,
    slash_command,
    view_submission,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def _section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id is not None:
        block["block_id"] = block_id
    return block


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as server:
        yield server


@pytest.fixture
def client(fake: FakeSlack) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=fake.base_url, timeout=10)


def _error(exc: pytest.ExceptionInfo[SlackApiError]) -> Any:
    return exc.value.response["error"]


# -- the Web API -----------------------------------------------------------------------------------------------

def test_base_url_and_response_url_shapes(fake: FakeSlack) -> None:
    assert fake.base_url == f"http://127.0.0.1:{fake.port}/api/"
    assert fake.response_url("r1") == f"http://127.0.0.1:{fake.port}/respond/r1"


def test_auth_test_answers_as_the_bot(client: WebClient, fake: FakeSlack) -> None:
    reply = client.auth_test()
    assert reply["ok"] is True
    assert (reply["user_id"], reply["bot_id"], reply["team_id"], reply["user"]) == (
        BOT_USER_ID, "B0BOT0001", TEAM_ID, "keda-auth")
    assert reply["url"].startswith("https://") and reply["team"]
    assert fake.calls("auth.test")[0].token == BOT_TOKEN


def test_post_message_then_update_edits_the_stored_message(client: WebClient, fake: FakeSlack) -> None:
    posted = client.chat_postMessage(channel=CHANNEL_ID, text="Checking ns/web", blocks=[_section("*starting*")])
    ts = posted["ts"]
    assert posted["channel"] == CHANNEL_ID and posted["message"]["text"] == "Checking ns/web"
    assert posted["message"]["blocks"][0]["text"]["text"] == "*starting*"
    assert posted["message"]["blocks"][0]["block_id"]  # Slack makes one up
    second = client.chat_postMessage(channel=CHANNEL_ID, text="another")
    assert float(second["ts"]) > float(ts) and len(ts.split(".")[1]) == 6

    call = fake.wait_for("chat.postMessage")
    assert call.token == BOT_TOKEN and call.content_type == "application/json"
    assert call.body["blocks"] == [_section("*starting*")]  # recorded as sent

    updated = client.chat_update(channel=CHANNEL_ID, ts=ts, text="Done", blocks=[_section("*done*", "result")])
    assert updated["ts"] == ts and updated["text"] == "Done"
    stored = fake.message(CHANNEL_ID, ts)
    assert stored["text"] == "Done" and stored["blocks"] == [_section("*done*", "result")]
    assert stored["edited"]["user"] == BOT_USER_ID

    client.chat_update(channel=CHANNEL_ID, ts=ts, text="Done, no blocks", blocks=[])
    assert "blocks" not in fake.message(CHANNEL_ID, ts)
    assert [m["text"] for m in fake.messages(CHANNEL_ID)] == ["Done, no blocks", "another"]

    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel=CHANNEL_ID, ts="1600000000.000100", text="x")
    assert _error(exc) == "message_not_found"


def test_thread_replies_and_permalinks(client: WebClient, fake: FakeSlack) -> None:
    parent = client.chat_postMessage(channel=CHANNEL_ID, text="parent")["ts"]
    first = client.chat_postMessage(channel=CHANNEL_ID, thread_ts=parent, text="reply 1")["ts"]
    client.chat_postMessage(channel=CHANNEL_ID, thread_ts=parent, text="reply 2")
    replies = fake.thread(CHANNEL_ID, parent)
    assert [r["text"] for r in replies] == ["reply 1", "reply 2"]
    assert all(r["thread_ts"] == parent for r in replies)
    head = fake.message(CHANNEL_ID, parent)
    assert head["reply_count"] == 2 and head["latest_reply"] == replies[-1]["ts"]
    assert [m["ts"] for m in fake.messages(CHANNEL_ID)] == [parent]

    link = client.chat_getPermalink(channel=CHANNEL_ID, message_ts=first)["permalink"]
    assert link.endswith(f"/archives/{CHANNEL_ID}/p{first.replace('.', '')}?thread_ts={parent}&cid={CHANNEL_ID}")


def test_post_ephemeral(client: WebClient, fake: FakeSlack) -> None:
    reply = client.chat_postEphemeral(channel=CHANNEL_ID, user=USER_ID, text="only you can see this")
    assert reply["ok"] is True and reply["message_ts"]
    call = fake.wait_for("chat.postEphemeral", lambda c: c.body["user"] == USER_ID)
    assert call.body["text"] == "only you can see this"
    assert fake.messages(CHANNEL_ID) == []


def test_usergroups_users_list(client: WebClient, fake: FakeSlack) -> None:
    fake.groups[ONCALL_GROUP_ID] = [USER_ID, "U0BBB0002"]
    assert client.usergroups_users_list(usergroup=ONCALL_GROUP_ID)["users"] == [USER_ID, "U0BBB0002"]
    call = fake.calls("usergroups.users.list")[0]
    assert call.body == {"usergroup": ONCALL_GROUP_ID}  # slack_sdk sends it form-encoded
    with pytest.raises(SlackApiError) as exc:
        client.usergroups_users_list(usergroup="S0NOPE001")
    assert _error(exc) == "no_such_subteam"


def test_conversations_info(client: WebClient, fake: FakeSlack) -> None:
    channel = client.conversations_info(channel=CHANNEL_ID)["channel"]
    assert channel["id"] == CHANNEL_ID and channel["name"] == "ops" and channel["is_channel"] is True
    fake.channels["G0SEC0001"] = {"name": "secret", "is_private": True}
    assert client.conversations_info(channel="G0SEC0001")["channel"]["is_private"] is True


def test_tokens_are_checked(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as exc:
        WebClient(token="xoxb-someone-else", base_url=fake.base_url).chat_postMessage(channel=CHANNEL_ID, text="x")
    assert _error(exc) == "invalid_auth"
    with pytest.raises(SlackApiError) as exc:
        WebClient(base_url=fake.base_url).auth_test()
    assert _error(exc) == "not_authed"
    assert [c.token for c in fake.calls()] == ["xoxb-someone-else", None]
    assert fake.messages(CHANNEL_ID) == []


def test_unknown_method(client: WebClient, fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.api_call("chat.postMessagee", json={"channel": CHANNEL_ID, "text": "x"})
    assert exc.value.response.status_code == 200
    assert exc.value.response.data == {"ok": False, "error": "unknown_method", "req_method": "chat.postMessagee"}


def test_refuses_what_slack_refuses_and_records_it(client: WebClient, fake: FakeSlack) -> None:
    too_many = [_section(f"line {i}") for i in range(51)]
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel=CHANNEL_ID, text="x", blocks=too_many)
    assert _error(exc) == "invalid_blocks"
    assert exc.value.response["errors"] == ["no more than 50 items allowed [json-pointer:/blocks]"]
    assert len(fake.calls("chat.postMessage")[0].body["blocks"]) == 51  # recorded anyway
    assert fake.messages(CHANNEL_ID) == []

    client.chat_postMessage(channel=CHANNEL_ID, text="x", blocks=too_many[:50])  # 50 is fine
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel=CHANNEL_ID, text="x", blocks=[_section("a" * 3001)])
    assert exc.value.response["errors"] == ["must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
    client.chat_postMessage(channel=CHANNEL_ID, text="x", blocks=[_section("a" * 3000)])
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel=CHANNEL_ID, text="a" * 40_001)
    assert _error(exc) == "msg_too_long"
    ts = client.chat_postMessage(channel=CHANNEL_ID, text="a" * 40_000)["ts"]
    with pytest.raises(SlackApiError) as exc:
        client.chat_update(channel=CHANNEL_ID, ts=ts, text="x", blocks=too_many)
    assert _error(exc) == "invalid_blocks"
    assert fake.message(CHANNEL_ID, ts)["text"] == "a" * 40_000
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel=CHANNEL_ID, text="x", blocks=[_section("a", "same"), _section("b", "same")])
    assert _error(exc) == "invalid_blocks"
    button = {"type": "actions", "elements": [{"type": "button", "action_id": "approve", "value": "v",
                                               "text": {"type": "plain_text", "text": "b" * 76}}]}
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel=CHANNEL_ID, text="x", blocks=[button])
    assert exc.value.response["errors"] == [
        "must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]"]
    assert len(fake.calls("chat.postMessage")) == 8 and len(fake.calls("chat.update")) == 1


def test_views_open_publish_update(client: WebClient, fake: FakeSlack) -> None:
    modal = {"type": "modal", "callback_id": "approve_fix", "private_metadata": "fix-1",
             "title": {"type": "plain_text", "text": "Approve"}, "blocks": [_section("sure?")]}
    opened = client.views_open(trigger_id="1700000000.1.abc", view=modal)["view"]
    assert opened["id"].startswith("V") and opened["callback_id"] == "approve_fix"
    assert opened["private_metadata"] == "fix-1" and opened["state"] == {"values": {}}
    updated = client.views_update(view_id=opened["id"], view={**modal, "blocks": [_section("done")]})["view"]
    assert updated["id"] == opened["id"] and fake.view(opened["id"])["blocks"][0]["text"]["text"] == "done"

    home = {"type": "home", "blocks": [_section("Recent checks")]}
    assert client.views_publish(user_id=USER_ID, view=home)["ok"] is True
    published = fake.home(USER_ID)
    assert published is not None and published["blocks"][0]["text"]["text"] == "Recent checks"

    with pytest.raises(SlackApiError) as exc:
        client.views_publish(user_id=USER_ID, view={"type": "home", "blocks": [_section("x")] * 101})
    assert _error(exc) == "invalid_arguments"
    assert exc.value.response["response_metadata"]["messages"] == [
        "[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"]
    with pytest.raises(SlackApiError) as exc:
        client.views_open(trigger_id="t", view={**modal, "blocks": [_section("x")] * 101})
    assert _error(exc) == "invalid_arguments"
    client.views_publish(user_id=USER_ID, view={"type": "home", "blocks": [_section("x")] * 100})
    assert len(fake.calls("views.publish")) == 3


def test_form_encoded_calls_are_read_like_json_ones(client: WebClient, fake: FakeSlack) -> None:
    blocks = [_section("from a form")]
    reply = client.api_call("chat.postMessage", params={"channel": CHANNEL_ID, "text": "form",
                                                        "blocks": json.dumps(blocks)})
    call = fake.calls("chat.postMessage")[-1]
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.body["blocks"] == blocks  # the JSON-encoded field is decoded
    assert fake.message(CHANNEL_ID, reply["ts"])["blocks"][0]["text"]["text"] == "from a form"


def test_fail_next_ratelimited_raises_without_a_retry_handler(client: WebClient, fake: FakeSlack) -> None:
    fake.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel=CHANNEL_ID, text="x")
    assert exc.value.response.status_code == 429
    assert exc.value.response["error"] == "ratelimited"
    assert exc.value.response.headers["Retry-After"] == "7"
    assert client.chat_postMessage(channel=CHANNEL_ID, text="x")["ok"] is True  # only the next one failed
    assert [c.status for c in fake.calls("chat.postMessage")] == [429, 200]


def test_fail_next_ratelimited_is_retried_by_the_rate_limit_handler(fake: FakeSlack) -> None:
    client = WebClient(token=BOT_TOKEN, base_url=fake.base_url,
                       retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    fake.fail_next("chat.postMessage", retry_after=0)
    started = time.monotonic()
    assert client.chat_postMessage(channel=CHANNEL_ID, text="x")["ok"] is True
    assert time.monotonic() - started < 5
    assert [c.status for c in fake.calls("chat.postMessage")] == [429, 200]


def test_fail_next_other_errors(client: WebClient, fake: FakeSlack) -> None:
    fake.fail_next("chat.update", "cant_update_message", status=200, times=2)
    ts = client.chat_postMessage(channel=CHANNEL_ID, text="x")["ts"]
    for _ in range(2):
        with pytest.raises(SlackApiError) as exc:
            client.chat_update(channel=CHANNEL_ID, ts=ts, text="y")
        assert _error(exc) == "cant_update_message" and exc.value.response.status_code == 200
    assert client.chat_update(channel=CHANNEL_ID, ts=ts, text="y")["ok"] is True


def test_response_url_is_recorded_and_replaces_the_original(client: WebClient, fake: FakeSlack) -> None:
    ts = client.chat_postMessage(channel=CHANNEL_ID, text="Proposed fix")["ts"]
    url = fake.response_url("approve", channel=CHANNEL_ID, message_ts=ts)
    sent = WebhookClient(url).send(text="Applied fix-1", replace_original=True)
    assert (sent.status_code, sent.body) == (200, "ok")
    call = fake.wait_for("respond:approve")
    assert call.token is None and call.body == {"text": "Applied fix-1", "replace_original": True}
    assert fake.message(CHANNEL_ID, ts)["text"] == "Applied fix-1"

    plain = WebhookClient(fake.response_url("cmd")).send(text="ephemeral note")
    assert plain.status_code == 200 and fake.calls("respond:cmd")[0].body == {"text": "ephemeral note"}
    assert WebhookClient(fake.response_url("cmd")).send(blocks=[_section("x")] * 51).status_code == 400
    fake.fail_next("respond:cmd", "expired_url", status=404)
    expired = WebhookClient(fake.response_url("cmd")).send(text="late")
    assert (expired.status_code, expired.body) == (404, "expired_url")
    assert [c.status for c in fake.calls("respond:cmd")] == [200, 400, 404]


def test_wait_for_lists_what_it_saw(client: WebClient, fake: FakeSlack) -> None:
    client.chat_postMessage(channel=CHANNEL_ID, text="hello")
    with pytest.raises(AssertionError, match=r"(?s)no views\.open call within 0\.05s.*chat\.postMessage.*hello"):
        fake.wait_for("views.open", timeout=0.05)
    with pytest.raises(AssertionError, match="matching the predicate"):
        fake.wait_for("chat.postMessage", lambda c: c.body.get("text") == "bye", timeout=0.05)
    fake.clear()
    assert fake.calls() == []
    assert len(fake.messages(CHANNEL_ID)) == 1  # the store survives clear()


# -- signed requests -------------------------------------------------------------------------------------------

def test_signer_matches_slack_sdk() -> None:
    body = slash_command("check ns/web", response_url="http://127.0.0.1:1/respond/x")
    ts = int(time.time())
    headers = SlackSigner(SECRET).headers(body, ts)
    verifier = SignatureVerifier(SECRET)
    assert headers["X-Slack-Signature"] == verifier.generate_signature(timestamp=str(ts), body=body)
    assert verifier.is_valid_request(body, headers)
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert SlackSigner(SECRET).headers(app_home_opened())["Content-Type"] == "application/json"


def test_builders_encode_as_slack_does() -> None:
    body = slash_command("check ns/web", user_id=USER_ID, channel_id=CHANNEL_ID, response_url="http://h/r")
    assert b"command=%2Fkeda-auth" in body and b"text=check+ns%2Fweb" in body
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    assert {"token", "team_id", "api_app_id", "response_url", "trigger_id"} <= form.keys()
    raw = block_actions("approve", "fix-1", message_ts="1700000000.000100", response_url="http://h/r")
    payload = json.loads(parse_qs(raw.decode())["payload"][0])
    assert payload["type"] == "block_actions" and payload["actions"][0]["value"] == "fix-1"
    assert payload["container"] == {"type": "message", "message_ts": "1700000000.000100",
                                    "channel_id": CHANNEL_ID, "is_ephemeral": False}
    sub = json.loads(parse_qs(view_submission("cb", "meta", {"reason": {"text": "because"}}).decode())["payload"][0])
    assert sub["view"]["state"]["values"] == {"reason": {"text": {"type": "plain_text_input", "value": "because"}}}


@dataclass
class _Seen:
    actions: list[str] = field(default_factory=list)
    submissions: list[str] = field(default_factory=list)


@dataclass
class _Bolt:
    url: str
    seen: _Seen


@pytest.fixture
def bolt(fake: FakeSlack) -> Iterator[_Bolt]:
    app = App(signing_secret=SECRET, client=WebClient(token=BOT_TOKEN, base_url=fake.base_url),
              process_before_response=True)
    seen = _Seen()

    @app.command("/keda-auth")
    def command(ack: Ack, command: dict[str, Any]) -> None:
        ack(text=f"Diagnosing {command['text']}...")

    @app.action("approve")
    def approve(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        seen.actions.append(body["actions"][0]["value"])
        respond(text=f"Applied {body['actions'][0]['value']} by <@{body['user']['id']}>", replace_original=True)

    @app.view("approve_fix")
    def submitted(ack: Ack, view: dict[str, Any]) -> None:
        reason = view["state"]["values"]["reason"]["text"]["value"]
        if not reason:
            ack(response_action="errors", errors={"reason": "A reason is required"})
            return
        ack()
        seen.submissions.append(f"{view['private_metadata']}:{reason}")

    @app.event("app_home_opened")
    def home(event: dict[str, Any], client: WebClient) -> None:
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": [_section("Recent checks")]})

    with serve_wsgi(SlackRequestHandler(app)) as base:
        yield _Bolt(f"{base}/slack/events", seen)


def test_bolt_accepts_a_signed_slash_command(bolt: _Bolt, fake: FakeSlack) -> None:
    body = slash_command("ns/web", response_url=fake.response_url("cmd"))
    status, reply, seconds = post(bolt.url, body, SlackSigner(SECRET).headers(body))
    assert (status, reply) == (200, b"Diagnosing ns/web...")
    assert seconds < 3  # Slack's ack budget
    assert [c.method for c in fake.calls()] == ["auth.test"]  # once, when App() was built


def test_bolt_refuses_a_bad_signature_and_a_stale_timestamp(bolt: _Bolt, fake: FakeSlack) -> None:
    body = slash_command("ns/web", response_url=fake.response_url("cmd"))
    assert post(bolt.url, body, SlackSigner("wrong-secret").headers(body))[:2] == (
        401, b'{"error": "invalid request"}')
    stale = SlackSigner(SECRET).headers(body, int(time.time()) - 6 * 60)
    assert post(bolt.url, body, stale)[0] == 401
    tampered = SlackSigner(SECRET).headers(body)
    assert post(bolt.url, body + b"&x=1", tampered)[0] == 401
    assert post(bolt.url, body, {"Content-Type": "application/x-www-form-urlencoded"})[0] == 401


def test_bolt_runs_the_button_listener(bolt: _Bolt, client: WebClient, fake: FakeSlack) -> None:
    posted = client.chat_postMessage(channel=CHANNEL_ID, text="Proposed fix", blocks=[
        {"type": "actions", "block_id": "fix", "elements": [
            {"type": "button", "action_id": "approve", "value": "fix-1", "text": {"type": "plain_text",
                                                                                  "text": "Approve"}}]}])
    ts = posted["ts"]
    body = block_actions("approve", "fix-1", user_id=USER_ID, channel_id=CHANNEL_ID, message_ts=ts, block_id="fix",
                         response_url=fake.response_url("click", channel=CHANNEL_ID, message_ts=ts),
                         message=fake.message(CHANNEL_ID, ts))
    status, reply, _ = post(bolt.url, body, SlackSigner(SECRET).headers(body))
    assert (status, reply) == (200, b"")
    assert bolt.seen.actions == ["fix-1"]  # process_before_response: done before the HTTP response
    assert fake.calls("respond:click")[0].body == {"text": f"Applied fix-1 by <@{USER_ID}>", "replace_original": True}
    assert fake.message(CHANNEL_ID, ts)["text"] == f"Applied fix-1 by <@{USER_ID}>"


def test_bolt_view_submission_and_app_home(bolt: _Bolt, fake: FakeSlack) -> None:
    signer = SlackSigner(SECRET)
    empty = view_submission("approve_fix", "fix-1", {"reason": {"text": ""}})
    status, reply, _ = post(bolt.url, empty, signer.headers(empty))
    assert status == 200
    assert json.loads(reply) == {"response_action": "errors", "errors": {"reason": "A reason is required"}}
    given = view_submission("approve_fix", "fix-1", {"reason": {"text": "outage"}})
    assert post(bolt.url, given, signer.headers(given))[:2] == (200, b"")
    assert bolt.seen.submissions == ["fix-1:outage"]

    event = app_home_opened(USER_ID)
    assert post(bolt.url, event, signer.headers(event))[0] == 200
    assert fake.wait_for("views.publish").body["user_id"] == USER_ID
    home = fake.home(USER_ID)
    assert home is not None and home["type"] == "home"


def test_bolt_answers_malformed_bodies_with_500_before_checking_the_signature(bolt: _Bolt) -> None:
    """Bolt parses the body while building its request, before the signature middleware runs: a body that is
    not UTF-8, or an interactive `payload` that is not JSON, raises out of the WSGI handler (wsgiref: 500),
    signed or not. A parseable body that no listener matches is a 404 once signed, a 401 unsigned."""
    signer = SlackSigner(SECRET)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for body in (b"\xff\xfe\x00garbage", b"payload=not-json", b"{not json"):
        assert post(bolt.url, body, signer.headers(body))[0] == 500, body
        assert post(bolt.url, body, form)[0] == 500, body  # unsigned: still 500, not 401
    assert post(bolt.url, b"hello world", signer.headers(b"hello world"))[:2] == (
        404, b'{"error": "unhandled request"}')
    assert post(bolt.url, b"hello world", form)[0] == 401
