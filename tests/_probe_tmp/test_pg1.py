from bot.approval import decisions, proposals
from bot.approval.gate import Gate, Origin
from bot.errors import Refused
from tests.kit.gate_kit import bundle_plan, migrated_store, policy, actions

def test_pg(postgres_url: str) -> None:
    with migrated_store(postgres_url) as store:
        gate = Gate(store, policy())
        pid = proposals.propose(gate, bundle_plan(), "U0REQ1", Origin("cli", user="a", host="b")).id
        from bot.approval.decisions import _insert_decision
        view = gate.proposal(pid)
        with store.write() as conn:
            print("rowcount ok?", _insert_decision(conn, view, "U0X", "approve", "", gate))
            from sqlalchemy.dialects import postgresql
            from bot.store.schema import Decision
            st = postgresql.insert(Decision).values(proposal_id=pid, actor="U0Y", decision="approve", comment="", plan_hash="x", at=gate.clock()).on_conflict_do_nothing(index_elements=["proposal_id","actor","decision"])
            r = conn.execute(st)
            print(r.rowcount, st.compile(dialect=conn.dialect))
        try:
            print(decisions.approve(gate, pid, "U0AAA1"))
        except Refused as e:
            print("REFUSED", e)
