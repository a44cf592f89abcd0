"""Kubernetes steps (field edits and restarts): observe, dry-run, apply, undo, and whether they still hold."""

from __future__ import annotations

from typing import Any

from bot.execute.errors import ExecuteError, WriteRefused
from bot.execute.kube_api import KubeApi
from bot.execute.outcomes import Done, DryRun, RunContext
from bot.execute.records import Status, StepRecord, now_iso, trimmed
from bot.execute.rollout import rolled_out, stale_pods, wait_rollout
from bot.plan.fingerprint import kube_fingerprint
from bot.plan.undo_commands import restart_edit
from remediations.edits import current, forward_ops, satisfied, undo_ops
from remediations.fixes.kube import kube_ref
from remediations.model import REMOVE, FieldEdit, KubeEdit, Restart, Step


def _edits(action: KubeEdit | Restart, value: str = "") -> list[FieldEdit]:
    if isinstance(action, KubeEdit):
        return list(action.edits)
    return [FieldEdit(restart_edit().path, value or now_iso())]


def _guarded(obj: dict[str, Any], ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    version = (obj.get("metadata") or {}).get("resourceVersion")
    guard = [{"op": "test", "path": "/metadata/resourceVersion", "value": version}] if version else []
    return guard + ops


def _get(kube: KubeApi, action: KubeEdit | Restart) -> dict[str, Any]:
    obj = kube.get(action.target)
    if obj is None:
        raise ExecuteError(f"{action.target.ref} does not exist")
    return obj


def observe(kube: KubeApi, step: Step) -> tuple[str, str | None]:
    assert isinstance(step.action, KubeEdit | Restart)
    obj = kube.get(step.action.target)
    version = str((obj or {}).get("metadata", {}).get("resourceVersion") or "") or None
    return kube_fingerprint(obj), version


def before(kube: KubeApi, step: Step) -> Any:
    assert isinstance(step.action, KubeEdit | Restart)
    return trimmed(kube.get(step.action.target))


def dry_run(kube: KubeApi, step: Step) -> DryRun:
    action = step.action
    assert isinstance(action, KubeEdit | Restart)
    try:
        obj = _get(kube, action)
        ops = forward_ops(obj, _edits(action))
        if isinstance(action, KubeEdit) and not ops:
            return DryRun(step.key, step.title, "already so")
        kube.patch(action.target, _guarded(obj, ops), dry_run=True)
    except WriteRefused as refused:
        return DryRun(step.key, step.title, "refused", str(refused), refused.permission)
    except (ExecuteError, ValueError) as exc:
        return DryRun(step.key, step.title, "refused", str(exc))
    return DryRun(step.key, step.title, "would change",
                  "restart the operator if its pods are not current" if isinstance(action, Restart) else "")


def apply(kube: KubeApi, step: Step, ctx: RunContext) -> Done:
    action = step.action
    if isinstance(action, Restart):
        return _restart(kube, action, ctx)
    assert isinstance(action, KubeEdit)
    obj = _get(kube, action)
    ops = forward_ops(obj, list(action.edits))
    if not ops:
        return Done(Status.SKIPPED, "already so", trimmed(obj), trimmed(obj))
    sent = _guarded(obj, ops)
    after = kube.patch(action.target, sent)
    ctx.changed.add(action.target.ref)
    if action.target.kind == "Deployment" and any(e.path[:2] == ("spec", "template") for e in action.edits):
        ctx.template_changed.add(action.target.ref)
    return Done(Status.APPLIED, "patched", trimmed(obj), trimmed(after), sent)


def _restart(kube: KubeApi, action: Restart, ctx: RunContext) -> Done:
    ref = action.target
    deployment = _get(kube, action)
    if ref.ref in ctx.template_changed:
        done = wait_rollout(kube, ref, ctx.rollout_timeout)
        return Done(Status.SKIPPED, "the pod template changed, so the pods were replaced by the rollout"
                    + ("" if done else f" (still rolling out after {ctx.rollout_timeout:.0f}s)"),
                    trimmed(deployment), trimmed(deployment))
    sa_name = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("serviceAccountName")
    sa_changed = kube_ref("ServiceAccount", ref.namespace, sa_name or "default").ref in ctx.changed
    if not sa_changed:
        wait_rollout(kube, ref, min(ctx.rollout_timeout, 30.0))
        stale = stale_pods(kube, kube.get(ref) or deployment)
        if not stale:
            return Done(Status.SKIPPED, "every operator pod already carries the current injection",
                        trimmed(deployment), trimmed(deployment))
    ops = forward_ops(deployment, _edits(action))
    sent = _guarded(deployment, ops)
    after = kube.patch(ref, sent)
    ctx.changed.add(ref.ref)
    rolled = wait_rollout(kube, ref, ctx.rollout_timeout)
    return Done(Status.APPLIED, "restarted" + ("" if rolled else f"; still rolling out after "
                                                               f"{ctx.rollout_timeout:.0f}s"),
                trimmed(deployment), trimmed(after), sent)


def _redacted(value: Any) -> bool:
    return "<redacted:" in repr(value)


def undo(kube: KubeApi, step: Step, record: StepRecord, rollout_timeout: float) -> Done:
    action = step.action
    assert isinstance(action, KubeEdit | Restart)
    obj = _get(kube, action)
    edits = _edits(action, "x")
    for edit in edits:
        wrote, now = current(record.after, edit.path), current(obj, edit.path)
        if now != wrote:
            return Done(Status.UNDO_FAILED, f"{edit.shown_path()} changed since it was applied "
                                            f"(now {_shown(now)}, applied {_shown(wrote)}); left as it is")
        if _redacted(current(record.before, edit.path)):
            return Done(Status.UNDO_FAILED, f"the recorded value of {edit.shown_path()} was redacted; restore it "
                                            "by hand")
    ops = undo_ops(record.before, obj, edits)
    if not ops:
        return Done(Status.UNDONE, "already as before")
    sent = _guarded(obj, ops)
    after = kube.patch(action.target, sent)
    if action.target.kind == "Deployment" and any(e.path[:2] == ("spec", "template") for e in edits):
        wait_rollout(kube, action.target, rollout_timeout)
    return Done(Status.UNDONE, "restored", trimmed(obj), trimmed(after), sent)


def _shown(value: Any) -> str:
    return "(absent)" if value is REMOVE else repr(value)


def holds(kube: KubeApi, step: Step) -> tuple[bool, str]:
    action = step.action
    assert isinstance(action, KubeEdit | Restart)
    obj = kube.get(action.target)
    if obj is None:
        return False, f"{action.target.ref} no longer exists"
    if isinstance(action, Restart):
        if not rolled_out(obj):
            return False, "the operator is still rolling out"
        stale = stale_pods(kube, obj)
        return (not stale), ("; ".join(stale) if stale else "operator pods carry the injected identity")
    missing = [e.shown_path() for e in action.edits if not satisfied(obj, e)]
    return (not missing), ("not set: " + ", ".join(missing) if missing else "in place")
