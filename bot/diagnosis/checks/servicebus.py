"""Service Bus trigger metadata: the namespace short name and the entity (failure modes 25 and 26)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.diagnosis.chain import Trigger
from bot.diagnosis.checks.common import shown
from bot.diagnosis.checks.trigger_meta import (
    SB,
    SB_DOC,
    SB_PROVIDER,
    auth_params,
    meta_path,
    patch_command,
    sb_entity_problem,
    sb_namespace_problem,
    short_sb_name,
    trigger_fix,
)
from bot.diagnosis.findings import Evidence, Finding, MissingInput, Severity, Stage
from bot.diagnosis.registry import CheckContext, CheckResult, check
from bot.diagnosis.targets import T_SB_NAMESPACE
from bot.snapshot import ArmResource, Snapshot


# -- sb-namespace-metadata ------------------------------------------------------------------------------
def _sb_namespace_names(snapshot: Snapshot) -> list[str]:
    return sorted(r.name for r in snapshot.arm_of_type(T_SB_NAMESPACE))


@check("sb-namespace-metadata", title="Service Bus trigger lacks the namespace short name",
       stage=Stage.TRIGGER, severity=Severity.CRITICAL, needs=(), fixes=("scaledobject-sb-namespace",),
       docs=(SB_DOC, "https://github.com/kedacore/keda/issues/4469"))
def sb_namespace_metadata(ctx: CheckContext) -> CheckResult:
    """With azure-workload KEDA builds `<namespace>.<suffix>` from trigger metadata only."""
    for trigger in ctx.chain.triggers:
        problem = sb_namespace_problem(trigger)
        if problem is None:
            continue
        value = trigger.meta("namespace")
        field_ = f"{trigger.path}.metadata.namespace"
        if problem == "fqdn" and value is not None:
            short = short_sb_name(value)
            detail = (f"{trigger.ref} sets `namespace: {value}`. KEDA appends the endpoint suffix itself "
                      f"(`{value}.servicebus.windows.net`), so the host cannot be resolved. Use the short "
                      f"name `{short}`.")
        else:
            names = _sb_namespace_names(ctx.snapshot)
            short = names[0] if len(names) == 1 else "<service-bus-namespace-short-name>"
            detail = (f"{trigger.ref} uses workload identity but has no `namespace` in its metadata: "
                      "KEDA fails with `namespace are required when using pod identity`.")
            detail += _namespace_elsewhere(trigger)
        yield ctx.finding(
            detail, objects=[trigger.owner.ref],
            evidence=[Evidence(trigger.owner.ref, field_, "the Service Bus namespace short name", shown(value))],
            commands=[patch_command(ctx, trigger, [{"op": "add", "path": meta_path(trigger, "namespace"),
                                             "value": short}])],
            fix_inputs=[] if short.startswith("<") else [trigger_fix(ctx, "scaledobject-sb-namespace", trigger,
                                                                      value=short)])


def _namespace_elsewhere(trigger: Trigger) -> str:
    notes = []
    where = auth_params(trigger.auth).get("namespace")
    if where and trigger.auth is not None:
        notes.append(f" It is supplied through {trigger.auth.ref} {where} (parameter `namespace`), but KEDA "
                     "reads the Service Bus namespace only from trigger metadata, never from a "
                     "TriggerAuthentication.")
    if trigger.meta("fullyQualifiedNamespace"):
        notes.append(" `fullyQualifiedNamespace` is not read by current KEDA versions; set `namespace`.")
    return "".join(notes)


# -- sb-entity-metadata ---------------------------------------------------------------------------------
@dataclass
class _Entities:
    namespace: ArmResource | None
    queues: set[str] = field(default_factory=set)
    topics: set[str] = field(default_factory=set)
    subscriptions: dict[str, set[str]] = field(default_factory=dict)

    @property
    def collected(self) -> bool:
        return bool(self.queues or self.topics or self.subscriptions)

    @property
    def resource_group(self) -> str:
        return (self.namespace.resource_group if self.namespace else None) or "<resource-group>"


def _sb_entity_index(snapshot: Snapshot) -> dict[str, _Entities]:
    """Every Service Bus namespace's collected entities, by lower-case short name, in one pass over ARM."""
    index = {r.name.lower(): _Entities(r) for r in snapshot.arm_of_type(T_SB_NAMESPACE)}
    for resource in snapshot.arm:
        rid = resource.id.lower()
        cut = rid.find(SB_PROVIDER)
        if cut < 0:
            continue
        parts = rid[cut + len(SB_PROVIDER):].split("/")
        if len(parts) < 3:
            continue
        found = index.setdefault(parts[0], _Entities(None))
        if parts[1] == "queues" and len(parts) == 3:
            found.queues.add(parts[2])
        elif parts[1] == "topics" and len(parts) == 3:
            found.topics.add(parts[2])
        elif parts[1] == "topics" and len(parts) == 5 and parts[3] == "subscriptions":
            found.topics.add(parts[2])
            found.subscriptions.setdefault(parts[2], set()).add(parts[4])
    return index


def _entity_shape_fix(trigger: Trigger) -> list[dict[str, Any]]:
    """Drop the key KEDA rejects; the user still has to say which entity they meant."""
    if trigger.meta("queueName") and trigger.meta("subscriptionName") and not trigger.meta("topicName"):
        return [{"op": "remove", "path": meta_path(trigger, "subscriptionName")}]
    if trigger.meta("queueName") and trigger.meta("topicName"):
        return [{"op": "remove", "path": meta_path(trigger, "queueName")}]
    return []


@check("sb-entity-metadata", title="Service Bus trigger names no valid queue or topic subscription",
       stage=Stage.TRIGGER, severity=Severity.CRITICAL, needs=(), fixes=("manual-fix-trigger-metadata",),
       docs=(SB_DOC, "https://github.com/kedacore/keda/issues/7493"))
def sb_entity_metadata(ctx: CheckContext) -> CheckResult:
    """Set queueName, or topicName + subscriptionName; and the entity must exist (KEDA never creates it)."""
    index: dict[str, _Entities] | None = None
    for trigger in ctx.chain.triggers:
        if trigger.type != SB:
            continue
        problem = sb_entity_problem(trigger)
        if problem is not None:
            yield _shape_finding(ctx, trigger, problem)
        else:
            index = _sb_entity_index(ctx.snapshot) if index is None else index
            yield from _existence(ctx, trigger, index)


def _shape_finding(ctx: CheckContext, trigger: Trigger, problem: str) -> Finding:
    keys = {k: trigger.meta(k) for k in ("queueName", "topicName", "subscriptionName")}
    written = ", ".join(f"{k}={v}" for k, v in keys.items() if v) or "none of them"
    ops = _entity_shape_fix(trigger)
    return ctx.finding(
        f"{trigger.ref} sets {written}; KEDA rejects it: `{problem}`. Set either `queueName`, or "
        "`topicName` with `subscriptionName`.",
        objects=[trigger.owner.ref],
        evidence=[Evidence(trigger.owner.ref, f"{trigger.path}.metadata",
                           "queueName, or topicName + subscriptionName", written)],
        commands=[patch_command(ctx, trigger, ops)] if ops else [])


def _existence(ctx: CheckContext, trigger: Trigger, index: dict[str, _Entities]
               ) -> Iterator[Finding | MissingInput]:
    namespace = trigger.meta("namespace")
    if namespace is None or trigger.meta_true("useRegex"):
        return  # a connection-string trigger names no namespace here; a regex may match nothing legally
    short = short_sb_name(namespace)
    entities = index.get(short.lower()) or _Entities(None)
    queue, topic, sub = trigger.meta("queueName"), trigger.meta("topicName"), trigger.meta("subscriptionName")
    rg = entities.resource_group
    if not entities.collected:
        add = (f"az servicebus queue list -g {shlex.quote(rg)} --namespace-name {shlex.quote(short)} -o json"
               if queue else
               f"az servicebus topic list -g {shlex.quote(rg)} --namespace-name {shlex.quote(short)} -o json")
        yield MissingInput(f"the Service Bus entities of namespace {short}", add,
                           "to check that the trigger's queue or topic exists")
        return
    # Service Bus entity names are case-insensitive.
    if queue and queue.lower() not in entities.queues:
        hint = f" `{queue}` is a topic: use `topicName` with `subscriptionName`." if (
            queue.lower() in entities.topics) else ""
        yield _absent(ctx, trigger, f"queue {queue} doesn't exist", f"queue {queue}", short, sorted(
            entities.queues), hint)
    elif topic and sub and topic.lower() not in entities.topics:
        yield _absent(ctx, trigger, f"subscription {sub} doesn't exist in topic {topic}", f"topic {topic}", short,
                      sorted(entities.topics), "")
    elif topic and sub and sub.lower() not in entities.subscriptions.get(topic.lower(), set()):
        if not entities.subscriptions:
            yield MissingInput(f"the subscriptions of topic {topic} in {short}",
                               f"az servicebus topic subscription list -g {shlex.quote(rg)} --namespace-name "
                               f"{shlex.quote(short)} --topic-name {shlex.quote(topic)} -o json",
                               "to check that the trigger's subscription exists")
            return
        yield _absent(ctx, trigger, f"subscription {sub} doesn't exist in topic {topic}",
                      f"subscription {sub} of topic {topic}", short,
                      sorted(entities.subscriptions.get(topic.lower(), set())), "")


def _absent(ctx: CheckContext, trigger: Trigger, error: str, what: str, namespace: str, existing: list[str],
            hint: str) -> Finding:
    listed = ", ".join(existing[:10]) or "none"
    return ctx.finding(
        f"{trigger.ref} reads {what} in Service Bus namespace {namespace}, which does not exist there; KEDA "
        f"reports `{error}`. Existing: {listed}.{hint} KEDA does not create entities.",
        objects=[trigger.owner.ref],
        evidence=[Evidence(trigger.owner.ref, f"{trigger.path}.metadata", f"an existing {what.split(maxsplit=1)[0]}",
                           f"{what} (not in namespace {namespace})")])
