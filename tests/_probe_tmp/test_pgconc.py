import threading
from concurrent.futures import ThreadPoolExecutor
from bot.approval import decisions, proposals
from bot.approval.gate import Gate, Origin
from bot.errors import Refused
from tests.kit.gate_kit import bundle_plan, migrated_store, policy, actions

def test_pg(postgres_url: str) -> None:
    approvers = [f"U0AP{i:02d}" for i in range(25)]
    with migrated_store(postgres_url) as store:
        gate = Gate(store, policy(approvers))
        pid = proposals.propose(gate, bundle_plan(), "U0REQ1", Origin("cli", user="a", host="b")).id
        barrier = threading.Barrier(25)
        def approve(actor):
            barrier.wait()
            try:
                return decisions.approve(gate, pid, actor)
            except Refused as exc:
                return exc
            except BaseException as exc:
                return repr(exc)
        with ThreadPoolExecutor(25) as pool:
            out = [f.result() for f in [pool.submit(approve, a) for a in approvers]]
        for o in out: print(type(o).__name__, str(o)[:300])
        print(gate.proposal(pid).state, actions(store, pid))
