"""Trigger metadata and authenticationRef resolution (failure modes 25-27, 34, 36)."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.diagnosis import facts
from bot.diagnosis.chain import Chain, Trigger
from bot.diagnosis.checks.common import shown
from bot.diagnosis.findings import Evidence, Finding, MissingInput, Severity, Stage
from bot.diagnosis.registry import CheckContext, CheckResult, check
from bot.diagnosis.targets import T_SB_NAMESPACE, Target, scope_covers
from bot.snapshot import ArmResource, K8sObject, Snapshot
from bot.snapshot.frozen import as_mapping, as_seq, as_str, dig

SB_DOC = "https://keda.sh/docs/latest/scalers/azure-service-bus/"
EH_DOC = "https://keda.sh/docs/latest/scalers/azure-event-hub/"
AUTH_DOC = "https://keda.sh/docs/latest/concepts/authentication/"
SB = "azure-servicebus"
EH = "azure-eventhub"
_SB_PROVIDER = "/providers/microsoft.servicebus/namespaces/"
# Where a TriggerAuthentication can supply a parameter to the scaler (authParams).
_AUTH_PARAM_SOURCES = (("secretTargetRef",), ("env",), ("configMapTargetRef",), ("azureKeyVault", "secrets"))


# -- helpers shared with the RBAC checks ---------------------------------------------------------------
def short_sb_name(value: str) -> str:
    """`sb://x.servicebus.windows.net/` or `x.servicebus.windows.net` -> `x`."""
    return value.split("://", 1)[-1].strip("/").split(".", 1)[0].split(":", 1)[0].split("/", 1)[0]


def sb_namespace_problem(trigger: Trigger) -> str | None:
    """"missing" or "fqdn" when KEDA cannot build the Service Bus endpoint for a workload-identity trigger."""
    if trigger.type != SB or not trigger.uses_workload_identity:
        return None
    value = trigger.meta("namespace")
    if value is None:
        return "missing"
    if any(c in value for c in "./:"):
        return "fqdn"
    return None


def sb_entity_problem(trigger: Trigger) -> str | None:
    """KEDA's own validation error for the entity keys (azure_servicebus_scaler.go Validate), if any."""
    if trigger.type != SB:
        return None
    queue, topic, sub = trigger.meta("queueName"), trigger.meta("topicName"), trigger.meta("subscriptionName")
    if queue and sub:
        return "subscription name provided with queue name"
    if queue and topic:
        return "both topic and queue name metadata provided"
    if topic and not sub:
        return "no subscription name provided with topic name"
    if not queue and not topic:
        return "no service bus entity type set"
    return None


def rbac_undecidable(trigger: Trigger) -> bool:
    """The scaler fails before any data-plane call: its role assignments cannot be judged yet."""
    return sb_namespace_problem(trigger) is not None or sb_entity_problem(trigger) is not None


def auth_params(auth: K8sObject | None) -> dict[str, str]:
    """parameter name -> where the TriggerAuthentication takes it from."""
    found: dict[str, str] = {}
    if auth is None:
        return found
    for path in _AUTH_PARAM_SOURCES:
        for entry in as_seq(dig(auth.spec, *path)):
            param = as_str(as_mapping(entry).get("parameter"))
            if param:
                found.setdefault(param, "spec." + ".".join(path))
    return found


def eventhub_storage_connection(trigger: Trigger) -> str | None:
    """Where a checkpoint-storage connection string comes from; KEDA prefers it over the identity."""
    for key in ("storageConnectionFromEnv", "storageConnection"):
        if trigger.meta(key):
            return f"trigger metadata {key}"
    where = auth_params(trigger.auth).get("storageConnection")
    if where and trigger.auth is not None:
        return f"{trigger.auth.ref} {where} (parameter storageConnection)"
    return None


@dataclass(frozen=True)
class Workload:
    """The object a ScaledObject/ScaledJob scales, and the ServiceAccount its pods run as."""

    ref: str
    service_account_name: str
    service_account: K8sObject | None

    @property
    def sa_ref(self) -> str:
        return self.service_account.ref if self.service_account else f"ServiceAccount/?/{self.service_account_name}"

    @property
    def client_id(self) -> str | None:
        if self.service_account is None:
            return None
        return as_str(self.service_account.annotations.get(facts.WI_CLIENT_ID)) or None


def scaled_workload(snapshot: Snapshot, owner: K8sObject) -> Workload | None:
    if owner.kind == "ScaledJob":
        pod_spec = as_mapping(dig(owner.spec, "jobTargetRef", "template", "spec"))
        ref = owner.ref
    else:
        target = as_mapping(owner.spec.get("scaleTargetRef"))
        name = as_str(target.get("name"))
        kind = as_str(target.get("kind")) or "Deployment"
        obj = snapshot.get(kind, owner.namespace, name) if name else None
        if obj is None:
            return None
        pod_spec = as_mapping(dig(obj.spec, "template", "spec"))
        ref = obj.ref
    sa_name = as_str(pod_spec.get("serviceAccountName")) or as_str(pod_spec.get("serviceAccount")) or "default"
    return Workload(ref, sa_name, snapshot.get("ServiceAccount", owner.namespace, sa_name))


def _owner_kind(trigger: Trigger) -> str:
    return trigger.owner.kind.lower()


def _patch(ctx: CheckContext, trigger: Trigger, ops: list[dict[str, Any]]) -> str:
    return ctx.command("kubectl-patch", namespace=trigger.owner.namespace, kind=_owner_kind(trigger),
                       name=trigger.owner.name, patch_type="json", patch=ops)


def _meta_path(trigger: Trigger, key: str) -> str:
    return f"/spec/triggers/{trigger.index}/metadata/{key}"


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
            commands=[_patch(ctx, trigger, [{"op": "add", "path": _meta_path(trigger, "namespace"),
                                             "value": short}])])


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
        cut = rid.find(_SB_PROVIDER)
        if cut < 0:
            continue
        parts = rid[cut + len(_SB_PROVIDER):].split("/")
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
        return [{"op": "remove", "path": _meta_path(trigger, "subscriptionName")}]
    if trigger.meta("queueName") and trigger.meta("topicName"):
        return [{"op": "remove", "path": _meta_path(trigger, "queueName")}]
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
        commands=[_patch(ctx, trigger, ops)] if ops else [])


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


# -- authref-unresolved ---------------------------------------------------------------------------------
@check("authref-unresolved", title="authenticationRef does not resolve: KEDA falls back to no authentication",
       stage=Stage.TRIGGER, severity=Severity.CRITICAL, needs=(), fixes=("scaledobject-authref",),
       docs=(AUTH_DOC, "https://learn.microsoft.com/azure/aks/keda-workload-identity"))
def authref_unresolved(ctx: CheckContext) -> CheckResult:
    """A TriggerAuthentication must live in the ScaledObject's namespace; a cluster one needs `kind:`."""
    snapshot = ctx.snapshot
    for trigger in ctx.chain.triggers:
        if not trigger.auth_name or trigger.auth is not None:
            continue
        wanted = trigger.auth_kind
        known = wanted in ("TriggerAuthentication", "ClusterTriggerAuthentication")
        if known and not snapshot.has_kind(wanted) and not _same_name_elsewhere(snapshot, trigger):
            yield _auth_kind_missing(wanted)  # absent because it was not collected, perhaps
            continue
        yield _authref_finding(ctx, trigger)


def _same_name_elsewhere(snapshot: Snapshot, trigger: Trigger) -> bool:
    return any(o.name == trigger.auth_name for kind in ("TriggerAuthentication", "ClusterTriggerAuthentication")
               for o in snapshot.of_kind(kind))


def _auth_kind_missing(kind: str) -> MissingInput:
    scope = " -A" if kind == "TriggerAuthentication" else ""
    return MissingInput(f"the {kind} objects", f"kubectl get {kind.lower()}{scope} -o yaml > "
                        f"kubernetes/{kind.lower()}s.yaml", "to resolve the triggers' authenticationRef")


def _authref_finding(ctx: CheckContext, trigger: Trigger) -> Finding:
    snapshot = ctx.snapshot
    name = trigger.auth_name or ""
    namespace = trigger.owner.namespace
    cluster_auth = snapshot.get("ClusterTriggerAuthentication", "", name)
    local = snapshot.get("TriggerAuthentication", namespace, name)
    elsewhere = [o for o in snapshot.of_kind("TriggerAuthentication") if o.name == name and o.namespace != namespace]
    kind_path = f"/spec/triggers/{trigger.index}/authenticationRef/kind"
    written = trigger.auth_kind if trigger.auth_kind_written else "(not set: TriggerAuthentication)"
    detail = (f"{trigger.ref} references {trigger.auth_kind} `{name}`, which "
              + (f"does not exist in namespace {namespace}" if trigger.auth_kind == "TriggerAuthentication"
                 else "does not exist") + ". ")
    commands: list[str] = []
    if cluster_auth is not None and trigger.auth_kind != "ClusterTriggerAuthentication":
        detail += (f"A ClusterTriggerAuthentication `{name}` exists, but without `kind: "
                   "ClusterTriggerAuthentication` KEDA looks for a namespaced TriggerAuthentication. ")
        commands.append(_patch(ctx, trigger, [{"op": "add", "path": kind_path,
                                               "value": "ClusterTriggerAuthentication"}]))
    elif local is not None:
        detail += f"A TriggerAuthentication `{name}` exists in {namespace}: drop or correct `kind`. "
        commands.append(_patch(ctx, trigger, [{"op": "remove", "path": kind_path}]))
    elif elsewhere:
        other = elsewhere[0]
        detail += (f"A TriggerAuthentication `{name}` exists in namespace {other.namespace}; TriggerAuthentications "
                   "are namespaced and must sit beside the ScaledObject. ")
        commands.append(_copy_command(other, namespace))
    detail += ("KEDA logs `error getting triggerAuth` and runs the scaler with no authentication "
               "(provider none), e.g. `no connection setting given`.")
    azure = trigger.type in facts.AZURE_SCALERS
    return ctx.finding(
        detail, severity=Severity.CRITICAL if azure else Severity.WARNING,
        objects=[trigger.owner.ref, *(o.ref for o in elsewhere[:3])],
        evidence=[Evidence(trigger.owner.ref, f"{trigger.path}.authenticationRef",
                           f"an existing TriggerAuthentication in {namespace} or a ClusterTriggerAuthentication "
                           "with kind set", f"name={name}, kind={written}")],
        commands=commands)


def _copy_command(source: K8sObject, namespace: str) -> str:
    jq = ("del(.metadata.uid, .metadata.resourceVersion, .metadata.creationTimestamp, .metadata.managedFields)"
          f" | .metadata.namespace = \"{namespace}\"")
    return (f"kubectl get triggerauthentication {shlex.quote(source.name)} -n {shlex.quote(source.namespace)} "
            f"-o json | jq {shlex.quote(jq)} | kubectl apply -f -")


# -- eventhub-storage-auth-fallback ---------------------------------------------------------------------
def _eventhub_gaps(trigger: Trigger) -> list[tuple[str, str, str]]:
    """(metadata key, expected, actual) for what KEDA's Event Hub scaler needs with azure-workload."""
    gaps = []
    for key in ("eventHubNamespace", "eventHubName"):
        if not (trigger.meta(key) or trigger.meta(key + "FromEnv")):
            gaps.append((key, "set", "(not set)"))
    return gaps


@check("eventhub-storage-auth-fallback", title="Event Hub checkpoints are not read with the workload identity",
       stage=Stage.TRIGGER, severity=Severity.CRITICAL, needs=(),
       fixes=("manual-fix-trigger-metadata", "role-assignment-create"),
       docs=(EH_DOC, "https://github.com/kedacore/keda/pull/3573"))
def eventhub_storage_fallback(ctx: CheckContext) -> CheckResult:
    """With azure-workload, checkpoints need storageAccountName; a storage connection string wins if present."""
    for trigger in ctx.chain.wi_triggers:
        if trigger.type != EH:
            continue
        account = trigger.meta("storageAccountName")
        connection = eventhub_storage_connection(trigger)
        gaps = _eventhub_gaps(trigger)
        if account and not connection and not gaps:
            continue
        evidence = [Evidence(trigger.owner.ref, f"{trigger.path}.metadata.{k}", e, a) for k, e, a in gaps]
        evidence.append(Evidence(trigger.owner.ref, f"{trigger.path}.metadata.storageAccountName",
                                 "the checkpoint storage account", shown(account)))
        if connection:
            evidence.append(Evidence(trigger.owner.ref, connection, "not set with workload identity", "set"))
        broken = bool(gaps) or (not account and not connection)
        yield ctx.finding(_eventhub_detail(trigger, account, connection, gaps), objects=[trigger.owner.ref],
                          evidence=evidence, severity=Severity.CRITICAL if broken else Severity.WARNING,
                          commands=_eventhub_commands(ctx, trigger, account))


def _eventhub_detail(trigger: Trigger, account: str | None, connection: str | None,
                     gaps: list[tuple[str, str, str]]) -> str:
    parts = [f"{trigger.ref} authenticates with workload identity."]
    if gaps:
        missing = ", ".join(k for k, _, _ in gaps)
        parts.append(f"It lacks {missing}: KEDA fails with `no event hub namespace string given` / "
                     "`no event hub name string given`.")
    if not account and not connection:
        parts.append("It has no `storageAccountName`, so checkpoints cannot be read with the identity: KEDA "
                     "fails with `no storage connection string or storage account name for pod identity based "
                     "authentication given`.")
    elif not account:
        parts.append(f"It has no `storageAccountName`, so KEDA falls back to the storage connection string "
                     f"from {connection} for checkpoints instead of the identity.")
    elif connection:
        parts.append(f"A storage connection string is also set ({connection}); KEDA prefers it over the "
                     "identity for checkpoint blobs, so a stale or missing connection string breaks scaling "
                     "even though the identity has access.")
    parts.append("The identity needs Azure Event Hubs Data Receiver on the hub and Storage Blob Data Reader on "
                 "the checkpoint account.")
    return " ".join(parts)


def _eventhub_commands(ctx: CheckContext, trigger: Trigger, account: str | None) -> list[str]:
    ops: list[dict[str, Any]] = []
    if not account:
        ops.append({"op": "add", "path": _meta_path(trigger, "storageAccountName"), "value": "<storage-account>"})
    for key in ("storageConnectionFromEnv", "storageConnection"):
        if trigger.meta(key):
            ops.append({"op": "remove", "path": _meta_path(trigger, key)})
    commands = [_patch(ctx, trigger, ops)] if ops else []
    eff = ctx.chain.effective_identity(trigger)
    if eff is None or eff.identity is None:
        return commands
    principal = eff.identity.principal_id
    for target in ctx.chain.targets(trigger):
        if target.required_scope and _lacks_role(ctx.snapshot, principal, target):
            commands.append(ctx.command("az-role-assignment-create", principal_id=principal,
                                        role_guid=target.capability.grant.guid, scope=target.required_scope))
    return commands


def _lacks_role(snapshot: Snapshot, principal: str, target: Target) -> bool:
    """A quick built-in-role test, only to decide whether a grant belongs in this fix (RBAC checks judge)."""
    scope = target.required_scope or ""
    wanted = {r.guid for r in target.capability.sufficient}
    return not any(ra.role_guid in wanted and scope_covers(ra.scope, scope)
                   for ra in snapshot.role_assignments_of(principal))


# -- expect-workload-identity-reuse ---------------------------------------------------------------------
_T_FIC = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"


@check("expect-workload-identity-reuse", title="KEDA is expected to reuse the scaled workload's identity",
       stage=Stage.IDENTITY, severity=Severity.CRITICAL, needs=(), fixes=("fic-create",),
       docs=("https://github.com/kedacore/keda/issues/4219", "https://github.com/kedacore/keda/issues/5630",
             AUTH_DOC))
def expect_workload_identity_reuse(ctx: CheckContext) -> CheckResult:
    """identityId is the workload's identity, federated only with the workload's ServiceAccount."""
    chain = ctx.chain
    install = chain.primary
    if install is None:
        return
    seen: set[tuple[str, str]] = set()
    for trigger in chain.wi_triggers:
        identity_id = as_str(trigger.pod_identity.get("identityId"))
        workload = scaled_workload(ctx.snapshot, trigger.owner)
        if not identity_id or workload is None or trigger.auth is None:
            continue
        if (workload.client_id or "").lower() != identity_id.lower():
            continue
        key = (trigger.auth.ref, workload.sa_ref)
        if key in seen:
            continue
        seen.add(key)
        yield from _reuse(ctx, chain, trigger, workload, identity_id)


def _reuse(ctx: CheckContext, chain: Chain, trigger: Trigger, workload: Workload, client_id: str
           ) -> Iterator[Finding | MissingInput]:
    install = chain.primary
    identity = ctx.snapshot.identity_by_client_id(client_id)
    if install is None or identity is None or trigger.auth is None:
        return  # an unknown identity is reported by the identity checks
    if not ctx.snapshot.has_arm_type(_T_FIC):
        yield MissingInput(f"the federated credentials of identity {identity.name}",
                           f"az identity federated-credential list -g {shlex.quote(identity.resource_group)} "
                           f"--identity-name {shlex.quote(identity.name)} -o json",
                           "to see whether KEDA's ServiceAccount is federated with the workload's identity")
        return
    fics = ctx.snapshot.fics_of(identity.id)
    if any(f.subject == install.subject for f in fics):
        return
    subjects = ", ".join(sorted({f.subject for f in fics})) or "none"
    issuer = (chain.aks.issuer_url if chain.aks and chain.aks.issuer_url else None) or next(
        (f.issuer for f in fics if f.issuer), "<cluster OIDC issuer URL>")
    detail = (f"{trigger.auth.ref} sets identityId {client_id}, the identity {identity.name} that "
              f"{workload.sa_ref} (used by {workload.ref}) is annotated with. KEDA never uses the scaled "
              f"workload's ServiceAccount token: it always presents its own ({install.subject}) — "
              "`identityOwner: workload` exists only for AWS. The identity is federated only with "
              f"{subjects}, so Entra rejects KEDA's token (AADSTS70021). Federate KEDA's ServiceAccount with "
              "this identity, or grant KEDA's own identity the role instead.")
    yield ctx.finding(
        detail, objects=[trigger.auth.ref, workload.sa_ref, f"azure:{identity.id}"],
        evidence=[Evidence(trigger.auth.ref, "spec.podIdentity.identityId", "an identity federated with "
                           f"{install.subject}", client_id),
                  Evidence(workload.sa_ref, f"metadata.annotations[{facts.WI_CLIENT_ID}]", "(any)", client_id),
                  Evidence(f"azure:{identity.id}", "federatedIdentityCredentials[].subject", install.subject,
                           subjects)],
        commands=[ctx.command("az-fic-create", fic_name=install.service_account_name,
                              identity_name=identity.name, resource_group=identity.resource_group, issuer=issuer,
                              subject=install.subject, audience=facts.TOKEN_AUDIENCE)])

