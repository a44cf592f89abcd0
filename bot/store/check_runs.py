"""Every check is on record: who ran it, from where, against what, and what it found (redacted)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import insert

from bot.diagnosis.engine import Report
from bot.diagnosis.findings import Severity
from bot.redact import redact, redact_for_store
from bot.report.json_report import finding_dict
from bot.store import chain
from bot.store.clock import Clock, utcnow
from bot.store.db import Store
from bot.store.schema import CheckFinding, CheckRun


def record_check(store: Store, report: Report, actor: str, origin: dict[str, Any], *, scope: str = "",
                 clock: Clock = utcnow) -> str:
    run_id = secrets.token_hex(8)
    at = clock()
    summary = {"critical": report.count(Severity.CRITICAL), "warning": report.count(Severity.WARNING),
               "info": report.count(Severity.INFO), "checks_run": report.checks_run,
               "checks_skipped": report.checks_skipped, "scope": scope,
               "root_cause": report.root_cause.id if report.root_cause else None}
    findings = [finding_dict(f) for f in report.findings]
    with store.write() as conn:
        conn.execute(insert(CheckRun).values(
            id=run_id, at=at, actor=redact(actor), origin=redact_for_store(origin), cluster=report.cluster,
            source=redact(report.source), exit_code=report.exit_code, summary=redact_for_store(summary)))
        if findings:
            conn.execute(insert(CheckFinding), [
                {"check_run_id": run_id, "finding_id": f["id"], "severity": f["severity"],
                 "title": redact(f["title"]), "objects": redact_for_store(f["objects"]),
                 "evidence": redact_for_store({"detail": f["detail"], "evidence": f["evidence"]})}
                for f in findings])
        chain.append(conn, chain.Event(actor, "check.run", check_run_id=run_id, cluster=report.cluster,
                                       findings=[f["id"] for f in findings],
                                       detail={"source": report.source, "origin": origin, **summary}), at)
    return run_id
