"""The terminal report: root cause first, grouped by severity, evidence and exact fix commands."""

from __future__ import annotations

from collections.abc import Callable

from bot.diagnosis.engine import Report
from bot.diagnosis.findings import Finding, Severity
from bot.redact import redact
from bot.snapshot.timeutil import iso

Style = Callable[..., str]

_COLOURS = {Severity.CRITICAL: "red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
_HEADINGS = {Severity.CRITICAL: "CRITICAL", Severity.WARNING: "WARNING", Severity.INFO: "INFO"}


def _plain(text: str, **_: object) -> str:
    return text


def _finding(finding: Finding, style: Style, *, root: bool) -> list[str]:
    colour = _COLOURS[finding.severity]
    marker = style(" ROOT CAUSE ", fg="white", bg="red", bold=True) + " " if root else ""
    lines = [f"{marker}{style(finding.id, fg=colour, bold=True)}  {finding.title}"]
    lines.append(f"    {finding.detail}")
    if finding.objects:
        lines.append("    objects: " + ", ".join(finding.objects))
    for ev in finding.evidence:
        lines.append(f"    evidence: {ev.source} {ev.field}")
        lines.append(f"      expected: {ev.expected}")
        lines.append(f"      actual:   {style(ev.actual, fg=colour)}")
    for symptom in finding.symptoms:
        lines.append(style(f"    seen: {symptom}", dim=True))
    if finding.commands:
        lines.append("    fix:")
        lines += [f"      {style(cmd, bold=True)}" for cmd in finding.commands]
    if finding.docs:
        lines.append(style("    docs: " + " ".join(finding.docs), dim=True))
    return lines


def render_human(report: Report, style: Style = _plain, *, verbose: bool = False) -> str:
    target = report.cluster or report.origin
    out = [style(f"keda-auth check — {report.source} {target}", bold=True)]
    keda = f"KEDA namespace {report.keda_namespace}" if report.keda_namespace else "no KEDA operator found"
    when = f"as of {iso(report.now)} ({report.now_source})" if report.now else report.now_source
    out.append(f"{keda}; {when}")
    errors = [p for p in report.problems if p.level == "error"]
    if errors or (verbose and report.problems):
        out.append("")
        out.append(style("Input problems (the rest of the input was read):", fg="yellow"))
        out += [f"  {p}" for p in (report.problems if verbose else errors)]
    root = report.root_cause
    for severity in (Severity.CRITICAL, Severity.WARNING, Severity.INFO):
        group = [f for f in report.findings if f.severity == severity]
        if not group:
            continue
        out.append("")
        out.append(style(f"{_HEADINGS[severity]} ({len(group)})", fg=_COLOURS[severity], bold=True))
        for finding in group:
            out += _finding(finding, style, root=finding is root)
            out.append("")
    if not any(f.severity >= Severity.WARNING for f in report.findings):
        out.append("")
        out.append(style("No problems found in the KEDA ↔ Workload Identity ↔ Entra ↔ RBAC chain.", fg="green"))
    out.append(
        f"Summary: {report.count(Severity.CRITICAL)} critical, {report.count(Severity.WARNING)} warning, "
        f"{report.count(Severity.INFO)} info; {report.checks_run} checks run, {report.checks_skipped} skipped."
    )
    if verbose and report.skipped:
        out += [f"  skipped {check_id}: {reason}" for check_id, reason in report.skipped]
    return redact("\n".join(out))
