"""Benchmark: every check over a large synthetic snapshot.

5,000 ScaledObjects in 200 namespaces, 1,000 TriggerAuthentications, 50 identities (half of them
identityId overrides) and 20,000 role assignments, on top of the healthy fixture-built cluster.
Prints the time and peak memory of running all checks. Target: < 0.5 s and < 250 MB.

    python bench/check_engine.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.diagnosis.engine import diagnose
from bot.snapshot import ArmResource, K8sObject, Snapshot, SourceRef
from bot.snapshot.frozen import freeze
from bot.snapshot.model import arm_properties
from bot.snapshot.timeutil import parse_time
from tests.kit.cluster import (
    ISSUER,
    NOW,
    SB_DATA_OWNER,
    SB_NAMESPACE,
    ClusterState,
    healthy,
    sb_namespace_id,
)

NAMESPACES = 200
SCALED_OBJECTS = 5_000
TRIGGER_AUTHS = 1_000
IDENTITIES = 50
ROLE_ASSIGNMENTS = 20_000


def _guid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))


def build_state() -> ClusterState:
    state = healthy()
    base_so = state.scaled_object
    identities = []
    for i in range(IDENTITIES):
        client, principal = _guid(f"client-{i}"), _guid(f"principal-{i}")
        state.add_identity(f"id-{i}", client, principal)
        if i < IDENTITIES - 5:  # the last five overrides are never federated: realistic findings to rank
            state.add_fic(f"id-{i}", "keda", "system:serviceaccount:keda:keda-operator", issuer=ISSUER)
        identities.append((client, principal))
    for i in range(ROLE_ASSIGNMENTS):
        _, principal = identities[i % IDENTITIES]
        queue = f"q-{i % 2_000}"
        scope = sb_namespace_id() if i < IDENTITIES else f"{sb_namespace_id()}/queues/{queue}"
        state.add_role_assignment(principal if i % 4 else _guid(f"other-{i}"), SB_DATA_OWNER, scope)
    for i in range(2_000):
        state.azure.append({"id": f"{sb_namespace_id()}/queues/q-{i}", "name": f"q-{i}",
                            "type": "Microsoft.ServiceBus/Namespaces/Queues"})
    for t in range(TRIGGER_AUTHS):
        ns = f"team-{t % NAMESPACES}"
        spec: dict[str, Any] = {"podIdentity": {"provider": "azure-workload"}}
        if t % 2:
            spec["podIdentity"]["identityId"] = identities[t % IDENTITIES][0]
        state.k8s.append({"apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication",
                          "metadata": {"name": f"auth-{t // NAMESPACES}", "namespace": ns}, "spec": spec})
    for s in range(SCALED_OBJECTS):
        ns = f"team-{s % NAMESPACES}"
        so = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
              "metadata": {"name": f"worker-{s}", "namespace": ns},
              "spec": {"scaleTargetRef": {"name": f"worker-{s}"}, "triggers": [{
                  "type": "azure-servicebus",
                  "metadata": {"queueName": f"q-{s % 2_000}", "namespace": SB_NAMESPACE, "messageCount": "5"},
                  "authenticationRef": {"name": f"auth-{(s // NAMESPACES) % (TRIGGER_AUTHS // NAMESPACES)}"}}]}}
        state.k8s.append(so)
    del base_so
    return state


def to_snapshot(state: ClusterState) -> Snapshot:
    """The snapshot the bundle reader would build, made in memory so only the checks are timed."""
    objects = tuple(
        K8sObject(o["apiVersion"], o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"],
                  freeze(o), SourceRef("kubernetes/bench.yaml", i + 1))
        for i, o in enumerate(state.k8s))
    arm = tuple(
        ArmResource(r["id"], r["type"], r["name"], freeze(dict(arm_properties(r))), freeze(r),
                    SourceRef("azure/bench.json", i + 1))
        for i, r in enumerate(state.azure))
    return Snapshot(source="bundle", origin="bench", now=parse_time(NOW), now_source="bench",
                    manifest=freeze(state.manifest or {}), objects=objects, arm=arm, logs=())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    started = time.perf_counter()
    snapshot = to_snapshot(build_state())
    build = time.perf_counter() - started
    print(f"snapshot: {len(snapshot.objects)} Kubernetes objects, {len(snapshot.arm)} ARM resources "
          f"({len(snapshot.role_assignments)} role assignments, {len(snapshot.identities)} identities); "
          f"built in {build:.2f} s")

    timings = []
    report = None
    for _ in range(args.repeat):
        gc.collect()
        t0 = time.perf_counter()
        report = diagnose(snapshot)
        timings.append(time.perf_counter() - t0)
    assert report is not None

    gc.collect()
    tracemalloc.start()
    diagnose(snapshot)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"all checks ({report.checks_run} run, {report.checks_skipped} skipped, "
          f"{len(report.findings)} findings): median {statistics.median(timings) * 1000:.0f} ms, "
          f"best {min(timings) * 1000:.0f} ms over {args.repeat} runs (target < 500 ms)")
    print(f"peak memory allocated by one diagnosis: {peak / 2**20:.1f} MB; "
          f"process max RSS (snapshot included): {rss_mb:.0f} MB (target < 250 MB)")


if __name__ == "__main__":
    main()
