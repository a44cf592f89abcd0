"""The run-time kill switch: one row every replica reads before it applies anything."""

from __future__ import annotations

from sqlalchemy import delete, insert

from bot.approval.gate import KILL_SWITCH, Gate
from bot.redact import redact
from bot.store import chain
from bot.store.schema import Setting


def set_kill_switch(gate: Gate, on: bool, actor: str, reason: str) -> None:
    with gate.store.write() as conn:
        now = gate.clock()
        conn.execute(delete(Setting).where(Setting.key == KILL_SWITCH))
        conn.execute(insert(Setting).values(key=KILL_SWITCH, value={"on": on, "reason": redact(reason)},
                                            updated_at=now, updated_by=actor))
        gate.audit(conn, chain.Event(actor, "kill-switch.on" if on else "kill-switch.off", detail={"reason": reason}))
