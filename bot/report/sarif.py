"""SARIF 2.1.0 for CI pipelines: one rule per check, one result per finding."""

from __future__ import annotations

import json
from typing import Any

import bot
from bot.diagnosis.engine import Report
from bot.diagnosis.findings import Finding, Severity
from bot.diagnosis.registry import all_checks
from bot.redact import redact, redact_any

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.CRITICAL: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _rules() -> list[dict[str, Any]]:
    rules = []
    for spec in all_checks():
        rule: dict[str, Any] = {
            "id": spec.id,
            "name": spec.id.replace("-", " ").title().replace(" ", ""),
            "shortDescription": {"text": spec.title},
            "defaultConfiguration": {"level": _LEVEL[spec.severity]},
            "properties": {"stage": spec.stage.name.lower(), "fixes": list(spec.fixes)},
        }
        if spec.summary:
            rule["fullDescription"] = {"text": spec.summary}
        if spec.docs:
            rule["helpUri"] = spec.docs[0]
        rules.append(rule)
    for extra, text in (("input-missing", "The input lacks something a check needs"),
                        ("check-error", "A check could not run on this input")):
        rules.append({"id": extra, "shortDescription": {"text": text},
                      "defaultConfiguration": {"level": "note"}})
    return rules


def _result(finding: Finding) -> dict[str, Any]:
    message = finding.title + ". " + finding.detail
    if finding.commands:
        message += "\nFix:\n" + "\n".join(finding.commands)
    result: dict[str, Any] = {
        "ruleId": finding.id,
        "level": _LEVEL[finding.severity],
        "message": {"text": redact(message)},
        "properties": {"evidence": redact_any([
            {"source": e.source, "field": e.field, "expected": e.expected, "actual": e.actual}
            for e in finding.evidence])},
    }
    if finding.objects:
        result["locations"] = [{"logicalLocations": [{"fullyQualifiedName": obj, "kind": "resource"}]}
                               for obj in finding.objects]
    return result


def sarif_dict(report: Report) -> dict[str, Any]:
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "keda-auth", "version": bot.__version__,
                                "informationUri": "https://keda.sh/docs/latest/authentication-providers/"
                                                  "azure-ad-workload-identity/",
                                "rules": _rules()}},
            "results": [_result(f) for f in report.findings],
            "properties": {"source": report.source, "cluster": report.cluster},
        }],
    }


def render_sarif(report: Report) -> str:
    return json.dumps(sarif_dict(report), indent=2, ensure_ascii=False)
