"""Run every registered check over one Snapshot and rank what they find, root cause first."""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.diagnosis.chain import Chain, Scope
from bot.diagnosis.findings import Finding, MissingInput, Severity, Stage
from bot.diagnosis.registry import CheckContext, CheckSpec, all_checks, chain_order
from bot.diagnosis.symptoms import symptoms_for
from bot.snapshot import InputProblem, Snapshot
from bot.snapshot.frozen import as_str, dig
from bot.snapshot.gaps import Gap

# What to add to a bundle when a kind a check `needs` is absent (the kinds checks declare in `needs`).
INPUT_HINTS: dict[str, str] = {
    "Deployment": "kubectl get deployments -A -o yaml > kubernetes/deployments.yaml",
    "Pod": "kubectl get pods -n <keda-namespace> -o yaml > kubernetes/pods.yaml",
}


@dataclass(frozen=True)
class Report:
    source: str
    origin: str
    cluster: str | None
    keda_namespace: str | None
    findings: tuple[Finding, ...]
    checks_run: int
    checks_skipped: int
    skipped: tuple[tuple[str, str], ...]
    problems: tuple[InputProblem, ...]
    now: datetime | None
    now_source: str

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def exit_code(self) -> int:
        if self.count(Severity.CRITICAL):
            return 2
        if self.count(Severity.WARNING):
            return 1
        return 0

    @property
    def root_cause(self) -> Finding | None:
        serious = [f for f in self.findings if f.severity >= Severity.WARNING]
        return serious[0] if serious else None


def _run_one(spec: CheckSpec, chain: Chain) -> tuple[list[Finding], list[MissingInput], str | None]:
    missing_kinds = [k for k in spec.needs
                     if not (chain.snapshot.has_arm_type(k) if "/" in k else chain.snapshot.has_kind(k))]
    if missing_kinds:
        # A kind a live collection failed to read is reported once, by its gap, with the permission to grant.
        gapped = {g.kind for g in chain.snapshot.gaps}
        hints = [MissingInput(k, INPUT_HINTS.get(k, f"the {k} objects"), f"needed by {spec.id}")
                 for k in missing_kinds if k not in gapped]
        return [], hints if chain.wi_in_use else [], f"no {', '.join(missing_kinds)} in the input"
    findings: list[Finding] = []
    missing: list[MissingInput] = []
    try:
        for item in spec.fn(CheckContext(chain, spec)):
            if isinstance(item, Finding):
                findings.append(item)
            else:
                missing.append(item)
    except Exception as exc:  # a check must never take the whole diagnosis down
        where = traceback.extract_tb(exc.__traceback__)[-1]
        error = Finding(
            id="check-error", severity=Severity.INFO, title=f"Check {spec.id} could not run",
            detail=f"{type(exc).__name__}: {exc} (at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}). "
                   "The input may hold an unexpected shape; the other checks still ran.",
            stage=Stage.INPUT)
        return [error], [], f"error: {exc}"
    skipped_reason = None
    if missing and not findings:
        skipped_reason = "; ".join(m.what for m in missing)
    return findings, missing, skipped_reason


def _input_missing(missing: Iterable[MissingInput]) -> list[Finding]:
    merged: dict[str, list[MissingInput]] = {}
    for item in missing:
        merged.setdefault(item.add, []).append(item)
    findings = []
    for add, items in merged.items():
        whys = sorted({i.why for i in items if i.why})
        findings.append(Finding(
            id="input-missing", severity=Severity.INFO,
            title=f"Add {items[0].what} to decide more checks",
            detail="A check could not decide without it" + (f" ({'; '.join(whys)})." if whys else "."),
            commands=(add,), stage=Stage.INPUT))
    return findings


def _gap_findings(gaps: Iterable[Gap]) -> list[Finding]:
    merged: dict[tuple[str, str], list[Gap]] = {}
    for gap in gaps:
        merged.setdefault((gap.what, gap.grant), []).append(gap)
    return [Finding(
        id="input-missing", severity=Severity.INFO,
        title=f"Could not read {what}",
        detail=f"{'; '.join(sorted({g.reason for g in items}))}. Checks that need it were skipped or left "
               "undecided rather than guessed; grant the permission below and run the check again.",
        commands=(grant,), stage=Stage.INPUT) for (what, grant), items in merged.items()]


def diagnose(snapshot: Snapshot, only: Iterable[str] | None = None, scope: Scope | None = None) -> Report:
    chain = Chain(snapshot, scope)
    wanted = set(only) if only else None
    findings: list[Finding] = []
    missing: list[MissingInput] = []
    skipped: list[tuple[str, str]] = []
    run = 0
    for spec in all_checks():
        if wanted is not None and spec.id not in wanted:
            continue
        found, lacking, reason = _run_one(spec, chain)
        findings += found
        missing += lacking
        if reason is None:
            run += 1
        else:
            skipped.append((spec.id, reason))
    lines = chain.observed_lines
    findings = [dataclasses.replace(f, symptoms=tuple(symptoms_for(f.id, lines))) for f in findings]
    findings += _input_missing(missing)
    findings += _gap_findings(snapshot.gaps)
    findings.sort(key=lambda f: (-f.severity, f.stage, chain_order(f.id), f.id, f.objects))
    install = chain.primary
    cluster = as_str(dig(snapshot.manifest, "cluster", "name")) or (chain.aks.name if chain.aks else None)
    return Report(
        source=snapshot.source, origin=snapshot.origin, cluster=cluster,
        keda_namespace=install.namespace if install else None, findings=tuple(findings),
        checks_run=run, checks_skipped=len(skipped), skipped=tuple(skipped), problems=snapshot.problems,
        now=snapshot.now, now_source=snapshot.now_source,
    )
