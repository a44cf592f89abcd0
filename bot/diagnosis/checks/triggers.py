"""Trigger metadata and authenticationRef resolution (failure modes 25-27, 34, 36)."""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Iterator
from typing import Any

from bot.diagnosis import facts
from bot.diagnosis.chain import Chain, Trigger
from bot.diagnosis.checks.common import shown
from bot.diagnosis.checks.trigger_meta import (
    AUTH_DOC,
    EH,
    EH_DOC,
    Workload,
    eventhub_storage_connection,
    meta_path,
    patch_command,
    scaled_workload,
    trigger_fix,
)
from bot.diagnosis.findings import Evidence, Finding, FixInput, MissingInput, Severity, Stage
from bot.diagnosis.registry import CheckContext, CheckResult, check
from bot.diagnosis.targets import Target, scope_covers
from bot.snapshot import K8sObject, Snapshot
from bot.snapshot.frozen import as_str


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
    fix_inputs: list[FixInput] = []
    close = difflib.get_close_matches(name, [o.name for o in snapshot.of_kind("TriggerAuthentication")
                                             if o.namespace == namespace], n=1, cutoff=0.6)
    if cluster_auth is not None and trigger.auth_kind != "ClusterTriggerAuthentication":
        detail += (f"A ClusterTriggerAuthentication `{name}` exists, but without `kind: "
                   "ClusterTriggerAuthentication` KEDA looks for a namespaced TriggerAuthentication. ")
        commands.append(patch_command(ctx, trigger, [{"op": "add", "path": kind_path,
                                               "value": "ClusterTriggerAuthentication"}]))
        fix_inputs.append(trigger_fix(ctx, "scaledobject-authref", trigger, ref_kind="ClusterTriggerAuthentication",
                                      ref_name=name))
    elif local is not None:
        detail += f"A TriggerAuthentication `{name}` exists in {namespace}: drop or correct `kind`. "
        commands.append(patch_command(ctx, trigger, [{"op": "remove", "path": kind_path}]))
        fix_inputs.append(trigger_fix(ctx, "scaledobject-authref", trigger, ref_kind="", ref_name=name))
    elif elsewhere:
        other = elsewhere[0]
        detail += (f"A TriggerAuthentication `{name}` exists in namespace {other.namespace}; TriggerAuthentications "
                   "are namespaced and must sit beside the ScaledObject. ")
        commands.append(_copy_command(other, namespace))
    elif close and trigger.auth_kind == "TriggerAuthentication":
        detail += f"TriggerAuthentication `{close[0]}` exists in {namespace}: a misspelt name? "
        commands.append(patch_command(ctx, trigger, [{"op": "replace", "path": kind_path.rsplit("/", 1)[0] + "/name",
                                                      "value": close[0]}]))
        fix_inputs.append(trigger_fix(ctx, "scaledobject-authref", trigger,
                                      ref_kind=trigger.auth_kind if trigger.auth_kind_written else "",
                                      ref_name=close[0]))
    detail += ("KEDA logs `error getting triggerAuth` and runs the scaler with no authentication "
               "(provider none), e.g. `no connection setting given`.")
    azure = trigger.type in facts.AZURE_SCALERS
    return ctx.finding(
        detail, severity=Severity.CRITICAL if azure else Severity.WARNING,
        objects=[trigger.owner.ref, *(o.ref for o in elsewhere[:3])],
        evidence=[Evidence(trigger.owner.ref, f"{trigger.path}.authenticationRef",
                           f"an existing TriggerAuthentication in {namespace} or a ClusterTriggerAuthentication "
                           "with kind set", f"name={name}, kind={written}")],
        commands=commands, fix_inputs=fix_inputs)


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
        ops.append({"op": "add", "path": meta_path(trigger, "storageAccountName"), "value": "<storage-account>"})
    for key in ("storageConnectionFromEnv", "storageConnection"):
        if trigger.meta(key):
            ops.append({"op": "remove", "path": meta_path(trigger, key)})
    commands = [patch_command(ctx, trigger, ops)] if ops else []
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
    if not ctx.snapshot.complete(_T_FIC, identity.id):
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
