"""Findings → a plan: automated steps in the order the two planes need, manual procedures for the rest.

Order: Azure first (federated credentials and role assignments take seconds to ~10 minutes to take effect,
so they start settling while Kubernetes is patched), then Kubernetes patches, then operator restarts, so the
new pods are mutated with everything already in place. Within a plane, root causes first (report order).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import UTC, datetime

from bot.diagnosis.checks.federation import FIC_TYPE
from bot.diagnosis.checks.rbac import T_RA
from bot.diagnosis.engine import Report
from bot.diagnosis.findings import Finding
from bot.diagnosis.targets import scope_covers
from bot.plan.fingerprint import assignments_fingerprint, fics_fingerprint, kube_fingerprint
from bot.plan.manual import manual_procedures
from bot.plan.plan import Plan, PlannedFinding
from bot.plan.undo_commands import undo_command
from bot.snapshot import Snapshot
from bot.snapshot.frozen import thaw
from remediations.fixes.federated_credential import FIC_LIMIT
from remediations.model import PLANE_ORDER, FicPut, KubeEdit, Restart, RoleAssignmentPut, Step
from remediations.registry import build_steps, registered


def make_plan(report: Report, snapshot: Snapshot, *, only: Collection[str] | None = None,
              now: datetime | None = None) -> Plan:
    automated = registered()
    steps: dict[str, Step] = {}
    notes: list[str] = []
    planned: list[PlannedFinding] = []
    manual_for: list[Finding] = []
    for finding in report.findings:
        if only and finding.id not in only:
            continue
        fixes = [f for f in finding.fix_inputs if f.remediation in automated]
        if not fixes:
            if finding.fixes:
                manual_for.append(finding)
                planned.append(PlannedFinding(finding.id, finding.title, finding.objects, False))
            continue
        built: list[Step] = []
        for fix in fixes:
            for step in build_steps(fix):
                problem = _unplannable(step, snapshot)
                if problem:
                    notes.append(f"{finding.id}: {problem}")
                    continue
                built.append(step)
        for step in built:
            _merge(steps, step, finding.id, notes)
        planned.append(PlannedFinding(finding.id, finding.title, finding.objects, bool(built)))
        if not built:
            manual_for.append(finding)
    ordered = sorted(steps.values(), key=lambda s: PLANE_ORDER[s.plane])  # stable: report order within a plane
    ordered = [_observe(s, snapshot) for s in ordered]
    if only:
        unknown = sorted(set(only) - {f.id for f in report.findings})
        notes += [f"{fid}: not found by this check, nothing to fix" for fid in unknown]
    created = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    return Plan(steps=tuple(ordered), manual=tuple(manual_procedures(manual_for, snapshot)),
                findings=tuple(planned), created_at=created, cluster=report.cluster, source=report.source,
                notes=tuple(notes))


def _merge(steps: dict[str, Step], step: Step, finding_id: str, notes: list[str]) -> None:
    """Two findings asking for the same change share a step; two asking for different values of one field
    cannot both be right, so the first (the root cause) wins and the other is named."""
    existing = steps.get(step.key)
    if existing is None:
        steps[step.key] = dataclasses.replace(step, findings=(finding_id,))
        return
    if existing.action != step.action:
        notes.append(f"{finding_id}: {step.title} conflicts with an earlier step on {step.target}; left out")
        return
    if finding_id not in existing.findings:
        steps[step.key] = dataclasses.replace(existing, findings=(*existing.findings, finding_id))


def _unplannable(step: Step, snapshot: Snapshot) -> str | None:
    action = step.action
    if isinstance(action, KubeEdit | Restart):
        target = action.target
        if snapshot.get(target.kind, target.namespace, target.name) is None:
            return f"{target.ref} is not in the snapshot, so a change to it cannot be planned"
        return None
    if isinstance(action, FicPut):
        if not snapshot.complete(FIC_TYPE, action.identity_id):
            return (f"the federated credentials of {action.identity_id} could not be read, so whether one is "
                    "missing is unknown")
        fics = snapshot.fics_of(action.identity_id)
        if len(fics) >= FIC_LIMIT and all(f.name.lower() != action.name.lower() for f in fics):
            return (f"identity {action.identity_id.rsplit('/', 1)[-1]} already has {len(fics)} federated "
                    f"credentials, the maximum of {FIC_LIMIT}: delete one it no longer needs, then plan again")
        return None
    if not snapshot.complete(T_RA, action.principal_id):
        return f"the role assignments of principal {action.principal_id} could not be read"
    return None


def _observe(step: Step, snapshot: Snapshot) -> Step:
    """Record what the target looked like when planned, and the undo command computed from it."""
    action = step.action
    if isinstance(action, KubeEdit | Restart):
        target = action.target
        obj = snapshot.get(target.kind, target.namespace, target.name)
        raw = thaw(obj.raw) if obj is not None else None
        version = str(obj.metadata.get("resourceVersion") or "") if obj is not None else ""
        return dataclasses.replace(step, observed=kube_fingerprint(raw), resource_version=version or None,
                                   undo_command=undo_command(step, raw))
    if isinstance(action, FicPut):
        fics = snapshot.fics_of(action.identity_id)
        before = next((f for f in fics if f.name.lower() == action.name.lower()), None)
        observed = fics_fingerprint((f.name, f.issuer, f.subject, f.audiences) for f in fics)
        existing = {"issuer": before.issuer, "subject": before.subject,
                    "audiences": list(before.audiences)} if before else None
        return dataclasses.replace(step, observed=observed, undo_command=undo_command(step, existing))
    assert isinstance(action, RoleAssignmentPut)
    held = [(ra.resource.id, ra.role_guid, ra.scope) for ra in snapshot.role_assignments_of(action.principal_id)
            if scope_covers(ra.scope, action.scope)]
    return dataclasses.replace(step, observed=assignments_fingerprint(held), undo_command=undo_command(step, None))
