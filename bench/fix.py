"""Benchmark: planning fixes on a large cluster, and one fix's dry-run, apply, verify and undo on the simulators.

Planning runs over the check-engine benchmark's snapshot (5,000 ScaledObjects, 50 identities, 20,000 role
assignments; five override identities unfederated) with KEDA's ServiceAccount annotation removed, so the plan
holds federated-credential steps, a ServiceAccount patch and a restart. Target: planning adds < 10% to the check.
The simulator run times each phase of the operator-label fix (a patch and a restart), as `keda-auth apply` runs it.

    python bench/fix.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.check_engine import build_state, to_snapshot
from bot.diagnosis.engine import diagnose
from bot.execute.service import executor_for, rechecker
from bot.execute.verify import verify
from bot.plan.planner import make_plan


def _plan_figures(repeat: int) -> None:
    state = build_state()
    sa = state.find("ServiceAccount", "keda-operator", "keda")
    del sa["metadata"]["annotations"]["azure.workload.identity/client-id"]
    snapshot = to_snapshot(state)
    check_times, plan_times = [], []
    plan = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        report = diagnose(snapshot)
        t1 = time.perf_counter()
        plan = make_plan(report, snapshot)
        t2 = time.perf_counter()
        check_times.append(t1 - t0)
        plan_times.append(t2 - t1)
    assert plan is not None
    check, planning = statistics.median(check_times), statistics.median(plan_times)
    share = planning / check
    print(f"plan: {len(plan.steps)} steps, {len(plan.manual)} manual procedures from {len(report.findings)} findings")
    print(f"  check {check * 1000:.0f} ms, plan {planning * 1000:.1f} ms (median of {repeat}); "
          f"planning adds {share:.1%} to the check: {'PASS' if share < 0.10 else 'FAIL'} (target < 10%)")


def _apply_figures() -> None:
    from tests.kit.scenario import scenario
    from tests.kit.scenario_breakers import BREAKERS

    with tempfile.TemporaryDirectory() as tmp, scenario(Path(tmp)) as sc:
        BREAKERS["wi-pod-label-missing"](sc)
        t0 = time.perf_counter()
        report = sc.check()
        t1 = time.perf_counter()
        from bot.live.session import collect_live

        assembled, _ = collect_live(sc.live_options(), credential=sc.azure.credential, now=sc.now)
        snapshot = assembled.snapshot()
        plan = make_plan(diagnose(snapshot), snapshot, only=["wi-pod-label-missing"])
        with executor_for(plan, sc.live_options(), credential=sc.azure.credential) as ex:
            t2 = time.perf_counter()
            drift = ex.drift(plan)
            dry = ex.dry_run(plan)
            t3 = time.perf_counter()
            execution = ex.apply(plan)
            t4 = time.perf_counter()
            result = verify(ex, execution, rechecker(sc.live_options(), credential=sc.azure.credential, now=sc.now),
                            budget=0)
            t5 = time.perf_counter()
            undone = ex.undo(execution)
            t6 = time.perf_counter()
        assert not drift and all(d.outcome != "refused" for d in dry) and report.findings
        print(f"simulators, {len(plan.steps)}-step fix: check {1000 * (t1 - t0):.0f} ms, drift + dry-run "
              f"{1000 * (t3 - t2):.0f} ms, apply (incl. rollout wait) {1000 * (t4 - t3):.0f} ms, verify "
              f"{1000 * (t5 - t4):.0f} ms ({result.outcome}), undo {1000 * (t6 - t5):.0f} ms ({undone.outcome})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    _plan_figures(args.repeat)
    _apply_figures()


if __name__ == "__main__":
    main()
