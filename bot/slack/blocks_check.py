"""A check in Slack: a live progress line, then the findings, root cause first, with evidence and fix commands.

A big report does not fit one message (50 blocks): the most important findings stay in the channel and the
rest go to the thread, so the channel shows what to do first and nothing is silently dropped.
"""

from __future__ import annotations

from typing import Any

from bot.diagnosis.engine import Report
from bot.diagnosis.findings import Finding, Severity
from bot.slack.blocks_core import (
    MAX_BLOCKS,
    TEXT_LIMIT,
    Blocks,
    button,
    code,
    context,
    esc,
    fit,
    header,
    icode,
    mention,
    message,
    section,
    slack_date,
)
from remediations.catalogue import CATALOGUE

ORDER = (Severity.CRITICAL, Severity.WARNING, Severity.INFO)
EMOJI = {Severity.CRITICAL: ":red_circle:", Severity.WARNING: ":large_orange_circle:",
         Severity.INFO: ":information_source:"}
HEALTHY = "No problems found in the KEDA ↔ Workload Identity ↔ Entra ↔ RBAC chain."
_EVIDENCE_ELEMENTS = 8  # of a context block's ten: symptoms and docs get the other two
_SYMPTOMS_SHOWN = 3


def check_progress(cluster: str, scope: str, stage: str, requester: str) -> dict[str, Any]:
    line = f"Checking *{esc(cluster)}* ({esc(scope)}) for {mention(requester)}: {esc(stage)}…"
    return message(f"Checking {esc(cluster)} ({esc(scope)}): {esc(stage)}…",
                   [section(f":hourglass_flowing_sand: {line}")])


def automated(finding: Finding) -> bool:
    """Worth a "Propose fix" button: at least one of its fixes is one keda-auth applies, not a manual procedure."""
    return any((r := CATALOGUE.get(fix)) is not None and r.automated for fix in finding.fixes)


def ordered(report: Report) -> list[Finding]:
    """Root cause first, then by severity (the engine's chain order within each)."""
    root = report.root_cause
    rest = [f for severity in ORDER for f in report.findings if f.severity == severity and f is not root]
    return ([root] if root is not None else []) + rest


def finding_blocks(finding: Finding, check_run_id: str, *, root: bool) -> Blocks:
    marker = ":rotating_light: *ROOT CAUSE* · " if root else ""
    lines = [f"{EMOJI[finding.severity]} {marker}*{esc(finding.title)}*  {icode(finding.id)}"]
    if finding.detail:
        lines.append(esc(finding.detail))
    if finding.objects:
        lines.append("*Objects:* " + ", ".join(icode(o) for o in finding.objects))
    accessory = None
    if automated(finding):
        accessory = button("Propose fix", "propose_fix", f"{check_run_id}|{finding.id}", "primary")
    out: Blocks = [section("\n".join(lines), accessory=accessory)]
    notes = [_evidence(e.source, e.field, e.expected, e.actual) for e in finding.evidence]
    if len(notes) > _EVIDENCE_ELEMENTS:
        notes = notes[:_EVIDENCE_ELEMENTS - 1] + ["\n".join(notes[_EVIDENCE_ELEMENTS - 1:])]
    if finding.symptoms:
        seen = [f"_seen:_ {esc(s)}" for s in finding.symptoms[:_SYMPTOMS_SHOWN]]
        more = len(finding.symptoms) - _SYMPTOMS_SHOWN
        notes.append("\n".join(seen) + (f"\n_…and {more} more_" if more > 0 else ""))
    if finding.docs:
        notes.append("docs: " + " ".join(f"<{esc(url)}|{esc(_short(url))}>" for url in finding.docs))
    if notes:
        out.append(context(notes))
    if finding.commands:
        title = "*Fix:*\n"
        out.append(section(title + code("\n".join(finding.commands), TEXT_LIMIT - len(title))))
    return out


def _evidence(source: str, field: str, expected: str, actual: str) -> str:
    return fit(f"{icode(source)} {icode(field)}\nexpected {icode(expected)} · actual {icode(actual)}")


def _short(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0] or url


def _summary(report: Report, cluster: str, requester: str, check_run_id: str) -> Blocks:
    counts = {s: report.count(s) for s in ORDER}
    root = report.root_cause
    line = (f"*{counts[Severity.CRITICAL]} critical* · *{counts[Severity.WARNING]} warning* · "
            f"{counts[Severity.INFO]} info — checked for {mention(requester)}")
    if root is not None:
        line += f"\n*Root cause:* {esc(root.title)} {icode(root.id)}"
    else:
        line += f"\n:white_check_mark: {HEALTHY}"
    meta = [_meta(report, check_run_id)]
    errors = [p for p in report.problems if p.level == "error"]
    if errors:
        shown = "\n".join(esc(str(p)) for p in errors[:5])
        meta.append(f"*Input problems* (the rest was read):\n{shown}"
                    + (f"\n…and {len(errors) - 5} more" if len(errors) > 5 else ""))
    return [header(f"keda-auth check: {cluster}"), section(line), context(meta)]


def _meta(report: Report, check_run_id: str) -> str:
    when = f"as of {slack_date(report.now)}" if report.now is not None else esc(report.now_source)
    keda = f"KEDA in {icode(report.keda_namespace)}" if report.keda_namespace else "no KEDA operator found"
    return (f"{report.checks_run} checks run, {report.checks_skipped} skipped · {keda} · {when} · "
            f"check run {icode(check_run_id)}")


def check_result(report: Report, check_run_id: str, cluster: str, requester: str
                 ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The main message and the thread messages for what did not fit in it (empty when everything did)."""
    if not report.findings:
        text = (f":white_check_mark: *{esc(cluster)}*: nothing wrong. {HEALTHY}\n"
                f"Checked for {mention(requester)}.")
        return message(f"keda-auth check of {esc(cluster)}: nothing wrong", [section(text), context(
            [_meta(report, check_run_id)])]), []
    root = report.root_cause
    units: list[Blocks] = []
    previous: Severity | None = None
    for finding in ordered(report):
        unit = finding_blocks(finding, check_run_id, root=finding is root)
        if finding.severity != previous:
            # Glued to its first finding, so a group heading never ends a message on its own.
            heading = f"*{finding.severity.name.capitalize()} ({report.count(finding.severity)})*"
            unit = [section(heading), *unit]
            previous = finding.severity
        units.append(unit)
    pages, per_page = _paginate(_summary(report, cluster, requester, check_run_id), units)
    main, rest = pages[0], pages[1:]
    if rest:
        moved = sum(per_page[1:])
        main.append(context([f":thread: {moved} more finding{'s' if moved != 1 else ''} in the thread"]))
    counts = ", ".join(f"{report.count(s)} {s.label}" for s in ORDER)
    fallback = f"keda-auth check of {esc(cluster)}: {counts}"
    if root is not None:
        fallback += f". Root cause: {esc(root.id)}: {esc(root.title)}"
    thread = [message(f"keda-auth check of {esc(cluster)} (continued, part {n} of {len(rest)})",
                      [context([f"keda-auth check of *{esc(cluster)}*, continued ({n} of {len(rest)})"]), *page])
              for n, page in enumerate(rest, 1)]
    return message(fallback, main), thread


def _paginate(head: Blocks, units: list[Blocks]) -> tuple[list[Blocks], list[int]]:
    """Greedy, in order: importance is the order, so a unit never jumps ahead of one that did not fit. Returns
    the pages and how many units each holds."""
    pages: list[Blocks] = [list(head)]
    counts = [0]
    # One block stays free on every page: the main message's "more in the thread", a thread page's heading.
    budget = MAX_BLOCKS - 1
    for unit in units:
        if counts[-1] and len(pages[-1]) + len(unit) > budget:
            pages.append([])
            counts.append(0)
        pages[-1].extend(unit)
        counts[-1] += 1
    return pages, counts
