"""`keda-auth serve` as an operator runs it: a real subprocess listening on a free port, talking to a fake Slack Web
API, answering the probes and signed slash commands, refusing unsigned ones, stopping on SIGTERM; and refusing to
start, with exit status 3 and the reason, when a secret is missing or the database is not migrated."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kit.slack import CHANNEL_ID, FakeSlack, SlackSigner, post, slash_command

ROOT = Path(__file__).resolve().parents[1]
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
POLICY = f'allow: {{channels: [{CHANNEL_ID}], clusters: ["*"], namespaces: ["*"]}}\n'
START_TIMEOUT = 30.0


def serve_env(fake: FakeSlack | None, tmp_path: Path, **overrides: str | None) -> dict[str, str]:
    """The environment of `keda-auth serve`: this one, with the fake's token and URL and a private state dir;
    an override of None removes the variable."""
    env = dict(os.environ)
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    env["SLACK_SIGNING_SECRET"] = SECRET
    if fake is not None:
        env["SLACK_BOT_TOKEN"] = fake.bot_token
        env["SLACK_API_URL"] = fake.base_url
    else:
        env["SLACK_BOT_TOKEN"] = "xoxb-test"
        env["SLACK_API_URL"] = "http://127.0.0.1:9/api/"  # nothing listens: the start-up must fail before any call
    for name in ("KEDA_AUTH_DB", "KEDA_AUTH_POLICY", "SLACK_APP_TOKEN"):
        env.pop(name, None)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def serve_args(tmp_path: Path, *extra: str, db: str | None = None) -> list[str]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    return [sys.executable, "-m", "bot", "serve", "--port", "0", "--host", "127.0.0.1",
            "--db", db or f"sqlite:///{tmp_path}/bot.db", "--policy", str(policy), "--no-azure",
            "--kubeconfig", str(tmp_path / "none"), *extra]


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    stderr: list[str]  # every line the server wrote to stderr so far (drained by a thread)


@contextmanager
def serving(fake: FakeSlack, tmp_path: Path) -> Iterator[Served]:
    """`keda-auth serve` in a subprocess, once it says where it listens; killed on the way out whatever happens."""
    process = subprocess.Popen(serve_args(tmp_path), cwd=ROOT, env=serve_env(fake, tmp_path), text=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def drain() -> None:  # keeps reading after start-up, so a chatty server never blocks on a full pipe
        assert process.stderr is not None
        for line in process.stderr:
            seen.append(line)
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=drain, name="serve-stderr", daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        url = None
        while url is None:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no 'serving' line within {START_TIMEOUT}s; stderr:\n{''.join(seen)}") from None
            if line is None:
                raise AssertionError(f"keda-auth serve exited with {process.wait()} before serving; stderr:\n"
                                     f"{''.join(seen)}")
            if line.startswith("keda-auth serving HTTP on "):
                url = "http://" + line.split(" on ", 1)[1].split()[0]
        yield Served(process, url, seen)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        reader.join(5)
        if process.stderr is not None:
            process.stderr.close()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


def test_serve_probes_signed_commands_and_sigterm(fake: FakeSlack, tmp_path: Path) -> None:
    with serving(fake, tmp_path) as served:
        assert get(f"{served.url}/healthz") == (200, "ok")
        status, body = get(f"{served.url}/readyz")
        assert status == 200, body
        assert json.loads(body)["ready"] is True
        assert fake.calls("auth.test"), "readiness asks Slack who the bot is"

        command = slash_command("help", response_url=fake.response_url("cmd"))
        status, answer, _ = post(f"{served.url}/slack/events", command, SlackSigner(SECRET).headers(command))
        assert status == 200 and "whoami" in answer.decode()

        status, answer, _ = post(f"{served.url}/slack/events", command,
                                 {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 401
        forged = SlackSigner("not-the-secret").headers(command)
        assert post(f"{served.url}/slack/events", command, forged)[0] == 401

        status, metrics = get(f"{served.url}/metrics")
        assert status == 200 and "keda_auth_slack_ack_seconds" in metrics
        assert "keda_auth_slack_ack_seconds_count 1.0" in metrics  # the help; refused requests are no acks

        served.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        try:
            served.process.wait(10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"keda-auth serve still running 10 s after SIGTERM; stderr:\n{''.join(served.stderr)}")
        assert time.monotonic() - started < 10
        assert "Traceback" not in "".join(served.stderr)


def run_serve(tmp_path: Path, env: dict[str, str], *extra: str,
              db: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(serve_args(tmp_path, *extra, db=db), cwd=ROOT, env=env, text=True, capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=60, check=False)


def test_serve_without_signing_secret_exits_3(tmp_path: Path) -> None:
    result = run_serve(tmp_path, serve_env(None, tmp_path, SLACK_SIGNING_SECRET=None))
    assert result.returncode == 3, result.stderr
    assert "SLACK_SIGNING_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_without_bot_token_exits_3(tmp_path: Path) -> None:
    result = run_serve(tmp_path, serve_env(None, tmp_path, SLACK_BOT_TOKEN=None))
    assert result.returncode == 3, result.stderr
    assert "SLACK_BOT_TOKEN" in result.stderr


def test_serve_socket_mode_without_app_token_exits_3(tmp_path: Path) -> None:
    result = run_serve(tmp_path, serve_env(None, tmp_path), "--socket-mode")
    assert result.returncode == 3, result.stderr
    assert "SLACK_APP_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_an_unmigrated_postgresql(tmp_path: Path, postgres_url: str) -> None:
    result = run_serve(tmp_path, serve_env(None, tmp_path), db=postgres_url)
    assert result.returncode == 3, result.stderr
    assert "keda-auth db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
