"""Benchmark: how fast `keda-auth serve` acknowledges Slack, in HTTP mode.

Starts a fake Slack Web API and the real `keda-auth serve` (a subprocess, SQLite in a temporary directory, a policy
that allows the channel, no cluster, no Azure), waits for /readyz, sends --warmup signed slash commands (not
counted), then --requests signed slash commands, --concurrency at a time, each signed when it is sent. The commands
go round robin through ones whose ack is the product's own answer and needs no cluster: `help`, `status`, `audit 1h`
and bad arguments (`frobnicate`). Latency is measured by the client (connect, send, full response). Prints the
latency percentiles, the throughput, the server's own view (the `keda_auth_slack_ack_seconds` histogram of
/metrics) and the machine's CPU count and load.

Target: p99 < 100 ms (Slack gives an app 3 s to acknowledge; the rest of the budget is the network's).

    python bench/slack_ack.py [--requests 500] [--concurrency 25] [--warmup 20] [--server-threads 32]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.kit.slack import CHANNEL_ID, FakeSlack, SlackSigner, post, slash_command

P99_TARGET_MS = 100.0
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
POLICY = f'allow: {{channels: [{CHANNEL_ID}], clusters: ["*"], namespaces: ["*"]}}\n'
COMMANDS = ("help", "status", "audit 1h", "frobnicate")
START_TIMEOUT = 60.0
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Result:
    command: str
    status: int  # 0: no answer (an exception)
    seconds: float
    error: str = ""


class Server:
    """`keda-auth serve` in a subprocess; its stderr drained by a thread (kept for the report)."""

    def __init__(self, fake: FakeSlack, workdir: Path, threads: int) -> None:
        policy = workdir / "policy.yaml"
        policy.write_text(POLICY)
        env = dict(os.environ)
        for name in ("KEDA_AUTH_DB", "KEDA_AUTH_POLICY", "SLACK_APP_TOKEN"):
            env.pop(name, None)
        env.update(SLACK_BOT_TOKEN=fake.bot_token, SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=fake.base_url,
                   XDG_STATE_HOME=str(workdir / "state"), XDG_CONFIG_HOME=str(workdir / "config"))
        args = [sys.executable, "-m", "bot", "serve", "--port", "0", "--host", "127.0.0.1",
                "--threads", str(threads), "--db", f"sqlite:///{workdir}/bot.db", "--policy", str(policy),
                "--no-azure", "--kubeconfig", str(workdir / "none")]
        self.process = subprocess.Popen(args, cwd=ROOT, env=env, text=True, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.stderr: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._drain, name="serve-stderr", daemon=True)
        self._reader.start()
        self.url = self._wait_serving()

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def _wait_serving(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"keda-auth serve did not start within {START_TIMEOUT:.0f}s:\n"
                                   f"{''.join(self.stderr)}") from None
            if line is None:
                raise RuntimeError(f"keda-auth serve exited with {self.process.wait()}:\n{''.join(self.stderr)}")
            if line.startswith("keda-auth serving HTTP on "):
                return "http://" + line.split(" on ", 1)[1].split()[0]

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=5) as response:
                    if response.status == 200 and json.loads(response.read())["ready"]:
                        return
            except OSError as exc:  # urllib's HTTPError (a 503) is an OSError too
                last = str(exc)
            time.sleep(0.1)
        raise RuntimeError(f"/readyz not ready within {timeout:.0f}s: {last}")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            return str(response.read().decode())

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 10 s; the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._reader.join(5)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return self.process.returncode


def send(url: str, signer: SlackSigner, response_url: str, text: str) -> Result:
    body = slash_command(text, response_url=response_url)
    headers = signer.headers(body)  # signed now: the server refuses timestamps more than five minutes off
    started = time.perf_counter()
    try:
        status, _, _ = post(f"{url}/slack/events", body, headers, timeout=30)
    except OSError as exc:
        return Result(text, 0, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
    return Result(text, status, time.perf_counter() - started)


def run_batch(url: str, signer: SlackSigner, response_url: str, count: int, concurrency: int) -> tuple[list[Result],
                                                                                                      float]:
    texts = list(itertools.islice(itertools.cycle(COMMANDS), count))
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="slack") as pool:
        results = list(pool.map(lambda text: send(url, signer, response_url, text), texts))
    return results, time.perf_counter() - started


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest rank."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


_SAMPLE = re.compile(r'^keda_auth_slack_ack_seconds_(bucket\{le="([^"]+)"\}|count|sum) (\S+)$', re.MULTILINE)


def ack_histogram(metrics: str) -> dict[str, float]:
    """The ack histogram's samples: 'count', 'sum' and the bucket bounds ('0.1', '+Inf'...) → value."""
    return {match[2] or match[1]: float(match[3]) for match in _SAMPLE.finditer(metrics)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=25)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--server-threads", type=int, default=32, help="keda-auth serve --threads")
    args = parser.parse_args()

    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start",
          flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="keda-auth-bench-ack-"))
    server: Server | None = None
    fake = FakeSlack().start()
    try:
        started = time.perf_counter()
        server = Server(fake, workdir, args.server_threads)
        server.wait_ready()
        print(f"keda-auth serve ready on {server.url} in {time.perf_counter() - started:.2f}s "
              f"(--threads {args.server_threads}, SQLite)", flush=True)
        signer = SlackSigner(SECRET)
        response_url = fake.response_url("bench", channel=CHANNEL_ID)

        warm, _ = run_batch(server.url, signer, response_url, args.warmup, args.concurrency)
        before = ack_histogram(server.metrics())
        results, wall = run_batch(server.url, signer, response_url, args.requests, args.concurrency)
        after = ack_histogram(server.metrics())

        errors = [r for r in warm + results if r.status != 200]
        latencies = sorted(r.seconds * 1000 for r in results)
        p50, p90, p99 = (percentile(latencies, p) for p in (50, 90, 99))
        print(f"\nrequests {len(results)} ({', '.join(COMMANDS)} round robin; warm-up {len(warm)} not counted), "
              f"concurrency {args.concurrency}")
        print(f"  client-side ack latency (ms): p50 {p50:.1f}  p90 {p90:.1f}  p99 {p99:.1f}  max {latencies[-1]:.1f}")
        print(f"  throughput: {len(results) / wall:.0f} req/s ({wall:.2f}s wall)")
        if warm:
            print(f"  warm-up (not counted): max {max(r.seconds for r in warm) * 1000:.1f} ms over {len(warm)} "
                  "(the first requests after start-up)")
        print(f"  errors (status != 200): {len(errors)}")
        for r in errors[:5]:
            print(f"    {r.command!r}: status {r.status} {r.error}")
        for text in COMMANDS:
            mine = sorted(r.seconds * 1000 for r in results if r.command == text)
            if mine:
                print(f"    {text:<11} n={len(mine):<4} p50 {percentile(mine, 50):6.1f}  "
                      f"p99 {percentile(mine, 99):6.1f} ms")

        count = after.get("count", 0.0) - before.get("count", 0.0)
        under = after.get("0.1", 0.0) - before.get("0.1", 0.0)
        total = after.get("sum", 0.0) - before.get("sum", 0.0)
        print("\nserver's view (/metrics keda_auth_slack_ack_seconds, the measured run only):")
        print(f"  count {count:.0f}; under 0.1 s: {under:.0f} ({under / count if count else 0:.1%}); "
              f"mean {total / count * 1000 if count else 0:.1f} ms")

        load = os.getloadavg()
        print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
        passed = p99 < P99_TARGET_MS and not errors
        print(f"target: p99 < {P99_TARGET_MS:.0f} ms with no errors -> {'PASS' if passed else 'FAIL'} "
              f"(p99 {p99:.1f} ms, {len(errors)} errors)")
    finally:
        status = server.stop() if server is not None else None
        fake.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        if server is not None and any("Traceback" in line for line in server.stderr):
            print("\nkeda-auth serve wrote a traceback:\n" + "".join(server.stderr), file=sys.stderr)
        elif status not in (0, -15, None):
            print(f"\nkeda-auth serve exited with {status}", file=sys.stderr)


if __name__ == "__main__":
    main()
