"""The JSON report contract (`keda-auth-report/v1`, shared/specs/bundle-format.md)."""

from __future__ import annotations

import json
from typing import Any

from bot.diagnosis.engine import Report
from bot.diagnosis.findings import Finding, Severity
from bot.redact import redact_any
from bot.snapshot.timeutil import iso

REPORT_FORMAT = "keda-auth-report/v1"


def finding_dict(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.id,
        "severity": finding.severity.label,
        "title": finding.title,
        "detail": finding.detail,
        "objects": list(finding.objects),
        "evidence": [
            {"source": e.source, "field": e.field, "expected": e.expected, "actual": e.actual}
            for e in finding.evidence
        ],
        "fixes": list(finding.fixes),
        "commands": list(finding.commands),
        "symptoms": list(finding.symptoms),
        "docs": list(finding.docs),
    }


def report_dict(report: Report) -> dict[str, Any]:
    body = {
        "format": REPORT_FORMAT,
        "target": {"source": report.source, "cluster": report.cluster, "keda_namespace": report.keda_namespace},
        "findings": [finding_dict(f) for f in report.findings],
        "summary": {
            "critical": report.count(Severity.CRITICAL),
            "warning": report.count(Severity.WARNING),
            "info": report.count(Severity.INFO),
            "checks_run": report.checks_run,
            "checks_skipped": report.checks_skipped,
        },
        "now": iso(report.now) if report.now else None,
        "input_problems": [str(p) for p in report.problems],
    }
    return dict(redact_any(body))


def render_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False)
