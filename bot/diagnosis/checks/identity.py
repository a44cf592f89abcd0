"""Which identity KEDA presents, and whether Entra can find it (failure modes 17-20)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bot.diagnosis import facts
from bot.diagnosis.chain import KedaInstall, Trigger
from bot.diagnosis.checks.common import relevant_installs, shown
from bot.diagnosis.checks.rbac import Grant, grant_of
from bot.diagnosis.findings import Evidence, Finding, FixInput, MissingInput, Severity, Stage
from bot.diagnosis.registry import CheckContext, CheckResult, check
from bot.snapshot import Identity, K8sObject, Snapshot
from bot.snapshot.frozen import as_mapping, as_str, dig
from bot.snapshot.timeutil import iso

KEDA_WI_DOC = "https://keda.sh/docs/latest/authentication-providers/azure-ad-workload-identity/"
AKS_KEDA_WI = "https://learn.microsoft.com/azure/aks/keda-workload-identity"
RBAC_TROUBLESHOOTING = "https://learn.microsoft.com/azure/role-based-access-control/troubleshooting"
T_IDENTITY = "Microsoft.ManagedIdentity/userAssignedIdentities"
T_SB_NAMESPACE = "Microsoft.ServiceBus/namespaces"
_GUID = re.compile(r"^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$", re.IGNORECASE)
# Both blocks carry a provider and an identityId; Key Vault has its own since KEDA 2.9.
POD_IDENTITY_PATHS: tuple[tuple[str, ...], ...] = (("podIdentity",), ("azureKeyVault", "podIdentity"))
_AZURE_PROVIDERS = ("azure-workload", "azure")


def is_guid(value: str) -> bool:
    return bool(_GUID.match(value.strip()))


def nested(path: tuple[str, ...], leaf: dict[str, Any]) -> dict[str, Any]:
    """{"spec": {path[0]: {... leaf}}}: the merge patch that sets leaf inside a pod identity block."""
    value: dict[str, Any] = leaf
    for key in reversed(path):
        value = {key: value}
    return {"spec": value}


@dataclass(frozen=True)
class IdRef:
    """A place where a clientId is written: the SA annotation, or an identityId in a (Cluster)TriggerAuth."""

    value: str
    source: str
    field: str
    install: KedaInstall | None = None
    auth: K8sObject | None = None
    path: tuple[str, ...] = ()


def identity_refs(ctx: CheckContext) -> Iterator[IdRef]:
    for install in relevant_installs(ctx.chain):
        value = as_str(install.sa_annotations.get(facts.WI_CLIENT_ID))
        if value and install.service_account is not None:
            yield IdRef(value.strip(), install.service_account.ref, f"metadata.annotations[{facts.WI_CLIENT_ID}]",
                        install=install)
    for auth in ctx.chain.auth_objects:
        for path in POD_IDENTITY_PATHS:
            block = as_mapping(dig(auth.spec, *path))
            value = as_str(block.get("identityId"))
            if value and value.strip() and block.get("provider") in _AZURE_PROVIDERS:
                yield IdRef(value.strip(), auth.ref, "spec." + ".".join(path) + ".identityId", auth=auth, path=path)


def repoint_commands(ctx: CheckContext, ref: IdRef, client_id: str) -> list[str]:
    """Write client_id where ref was read; the SA path also needs a restart (the webhook mutates on create)."""
    if ref.auth is not None:
        return [ctx.command("kubectl-patch", namespace=ref.auth.namespace, kind=ref.auth.kind.lower(),
                            name=ref.auth.name, patch_type="merge",
                            patch=nested(ref.path, {"identityId": client_id}))]
    install = ref.install
    if install is None:
        return []
    return [ctx.command("kubectl-annotate", namespace=install.namespace, kind="serviceaccount",
                        name=install.service_account_name, key=facts.WI_CLIENT_ID, value=client_id),
            ctx.command("kubectl-rollout-restart", namespace=install.namespace, name=install.name)]


def repoint_fix_inputs(ctx: CheckContext, ref: IdRef, client_id: str) -> list[FixInput]:
    if ref.auth is not None:
        return [ctx.fix("triggerauth-identityid-clientid", kind=ref.auth.kind, namespace=ref.auth.namespace,
                        name=ref.auth.name, path=".".join(ref.path), client_id=client_id)]
    install = ref.install
    if install is None:
        return []
    return [ctx.fix("sa-annotate-client-id", namespace=install.namespace,
                    service_account=install.service_account_name, client_id=client_id),
            ctx.fix("operator-restart", namespace=install.namespace, deployment=install.name)]


def repoint_fixes(ref: IdRef) -> tuple[str, ...]:
    if ref.auth is not None:
        return ("triggerauth-identityid-clientid",)
    return ("sa-annotate-client-id", "operator-restart")


def identity_by_name(snapshot: Snapshot, name: str) -> Identity | None:
    matches = [i for i in snapshot.identities if i.name.lower() == name.lower()]
    return matches[0] if len(matches) == 1 else None


def identity_by_resource_id(snapshot: Snapshot, resource_id: str) -> Identity | None:
    wanted = resource_id.rstrip("/").lower()
    for identity in snapshot.identities:
        if identity.id.rstrip("/").lower() == wanted:
            return identity
    return identity_by_name(snapshot, wanted.rsplit("/", 1)[-1])


# -- 17. identityid-not-clientid

def _misused(snapshot: Snapshot, value: str) -> tuple[str, Identity | None] | None:
    """(what the value really is, the identity it names) when it is not a clientId; None when it may be one."""
    if is_guid(value):
        by_principal = snapshot.identity_by_principal_id(value)
        if by_principal is not None and snapshot.identity_by_client_id(value) is None:
            return "the principalId (objectId)", by_principal
        return None
    if "/userassignedidentities/" in value.lower():
        return "the resource id", identity_by_resource_id(snapshot, value)
    named = identity_by_name(snapshot, value)
    return ("the name", named) if named is not None else ("not a GUID, so not a clientId", None)


@check("identityid-not-clientid", title="identityId or client-id holds a principalId, resource id or name",
       stage=Stage.IDENTITY, severity=Severity.CRITICAL, needs=(),
       fixes=("triggerauth-identityid-clientid", "sa-annotate-client-id", "operator-restart"),
       docs=(KEDA_WI_DOC, AKS_KEDA_WI, "https://github.com/kedacore/keda/issues/5824"))
def identityid_not_clientid(ctx: CheckContext) -> CheckResult:
    """KEDA hands the value to azidentity as ClientID; anything else gives AADSTS700016."""
    snapshot = ctx.snapshot
    collected = snapshot.complete(T_IDENTITY)
    for ref in identity_refs(ctx):
        if snapshot.identity_by_client_id(ref.value) is not None:
            continue
        misuse = _misused(snapshot, ref.value)
        if misuse is None:
            if not collected:
                yield MissingInput(f"the managed identity behind {ref.value}",
                                   ctx.command("az-identity-show", client_id=ref.value) + " > azure/identities.json",
                                   f"to tell whether {ref.source} {ref.field} is a clientId or a principalId")
            continue
        what, identity = misuse
        client_id = identity.client_id if identity is not None and identity.client_id else None
        detail = (f"{ref.source} sets {ref.field} to {ref.value!r}, which is {what}"
                  + (f" of identity {identity.name}" if identity is not None else "")
                  + ". KEDA passes it to Entra as the client ID, so the token request fails with "
                    "`AADSTS700016: Application with identifier ... was not found in the directory`.")
        expected = client_id or "the identity's clientId (a GUID)"
        objects = [ref.source] + ([f"azure:{identity.id}"] if identity is not None else [])
        yield ctx.finding(
            detail, objects=objects, fixes=repoint_fixes(ref),
            evidence=[Evidence(ref.source, ref.field, expected, ref.value)],
            commands=repoint_commands(ctx, ref, client_id) if client_id else
            [ctx.command("az-identity-show", client_id=ref.value)],
            fix_inputs=repoint_fix_inputs(ctx, ref, client_id) if client_id else [])


# -- 18. identity-recreated-drift

def _federated_with_keda(ctx: CheckContext, install: KedaInstall | None) -> list[Identity]:
    if install is None:
        return []
    return [i for i in ctx.snapshot.identities
            if any(f.subject == install.subject for f in ctx.snapshot.fics_of(i.id))]


def _stale_reference(ctx: CheckContext, ref: IdRef, in_use: set[str]) -> Iterator[Finding]:
    """The clientId resolves to nothing, while the one identity federated with KEDA's SA has another."""
    snapshot = ctx.snapshot
    if not is_guid(ref.value) or snapshot.identity_by_client_id(ref.value) or snapshot.identity_by_principal_id(
            ref.value):
        return
    candidates = _federated_with_keda(ctx, ref.install or ctx.chain.primary)
    if len(candidates) != 1 or candidates[0].client_id.lower() in in_use:
        # No unique successor, or it is referenced elsewhere already: more likely an identity missing from
        # the bundle than a recreation.
        return
    new = candidates[0]
    created = new.resource.created
    yield ctx.finding(
        f"{ref.source} {ref.field} is {ref.value}, but no managed identity has that clientId any more. "
        f"Identity {new.name}, federated with KEDA's ServiceAccount, now has clientId {new.client_id}"
        + (f" and was created {iso(created)}" if created else "")
        + ": it looks deleted and recreated (for example by an IaC run), leaving the old clientId behind.",
        objects=[ref.source, f"azure:{new.id}"], fixes=(*repoint_fixes(ref), "manual-recreated-identity"),
        evidence=[Evidence(ref.source, ref.field, f"{new.client_id} (clientId of {new.name})", ref.value),
                  Evidence(f"azure:{new.id}", "systemData.createdAt", "before the reference was written",
                           iso(created) if created else "(unknown)")],
        commands=repoint_commands(ctx, ref, new.client_id),
        fix_inputs=repoint_fix_inputs(ctx, ref, new.client_id))


def _covers(scope: str, resource_id: str) -> bool:
    scope_l, rid = scope.rstrip("/").lower(), resource_id.rstrip("/").lower()
    return rid == scope_l or rid.startswith(scope_l + "/")


def _orphaned_assignments(ctx: CheckContext, identity: Identity, trigger: Trigger) -> Iterator[Finding]:
    """Role assignments on the trigger's target made before the identity existed, for a principal now gone."""
    snapshot = ctx.snapshot
    created = identity.resource.created
    if created is None:
        return
    for target in ctx.chain.targets(trigger):
        scope = target.required_scope
        if scope is None:
            continue
        if any(_covers(ra.scope, scope) for ra in snapshot.role_assignments_of(identity.principal_id)):
            continue  # the new principal already holds a role there
        for ra in snapshot.role_assignments:
            ra_created = ra.created
            if ra_created is None or ra_created >= created:
                continue  # only an assignment older than the identity cannot have been made for it
            # Only a role that was for KEDA's access counts: an admin's Owner at the subscription also names
            # a principal this snapshot does not know, and is no sign of a recreated identity.
            orphan = (snapshot.identity_by_principal_id(ra.principal_id) is None
                      and ra.principal_type in ("ServicePrincipal", "") and _covers(ra.scope, scope)
                      and grant_of(snapshot, ra.role_guid, target.capability) in (Grant.SUFFICIENT,
                                                                                   Grant.INSUFFICIENT))
            if not orphan:
                continue
            role = facts.BUILTIN_ROLES.get(ra.role_guid)
            yield ctx.finding(
                f"Identity {identity.name} (principalId {identity.principal_id}) was created {iso(created)}, "
                f"after the role assignment on {target.display} that still names principal {ra.principal_id} "
                f"(created {iso(ra_created)}), which no longer resolves (\"Identity not found\"). The identity "
                "was recreated: its new principal has no role there.",
                objects=[f"azure:{identity.id}", f"azure:{ra.resource.id}"],
                fixes=("role-assignment-create", "manual-recreated-identity"),
                evidence=[Evidence(f"azure:{ra.resource.id}", "principalId", identity.principal_id,
                                   f"{ra.principal_id} (not found)"),
                          Evidence(f"azure:{identity.id}", "systemData.createdAt",
                                   f"before {iso(ra_created)}", iso(created))],
                commands=[ctx.command("az-role-assignment-create", principal_id=identity.principal_id,
                                      role_guid=role.guid if role else ra.role_guid, scope=ra.scope)],
                fix_inputs=[ctx.fix("role-assignment-create", principal_id=identity.principal_id,
                                    role_guid=role.guid if role else ra.role_guid, scope=ra.scope)])
            return


@check("identity-recreated-drift", title="The managed identity was recreated; references still use the old one",
       stage=Stage.IDENTITY, severity=Severity.CRITICAL, needs=(),
       fixes=("manual-recreated-identity", "sa-annotate-client-id", "triggerauth-identityid-clientid",
              "role-assignment-create", "operator-restart"),
       docs=(RBAC_TROUBLESHOOTING, "https://github.com/kedacore/keda/issues/4597"))
def identity_recreated(ctx: CheckContext) -> CheckResult:
    """A recreated UAMI gets new clientId/principalId: annotations, identityIds and roles go stale."""
    if not ctx.snapshot.complete(T_IDENTITY):
        return
    refs = list(identity_refs(ctx))
    in_use = {r.value.lower() for r in refs}
    for ref in refs:
        yield from _stale_reference(ctx, ref, in_use)
    seen: set[tuple[str, str]] = set()
    for trigger in ctx.chain.wi_triggers:
        eff = ctx.chain.effective_identity(trigger)
        if eff is None or eff.identity is None:
            continue
        key = (eff.identity.id.lower(), trigger.owner.ref)
        if key not in seen:
            seen.add(key)
            yield from _orphaned_assignments(ctx, eff.identity, trigger)


# -- 19. tenant-mismatch

@dataclass(frozen=True)
class TenantSource:
    value: str
    ref: str
    field: str
    kind: str  # "pod", "serviceaccount", "configmap" or "triggerauth"


def _webhook_tenant(snapshot: Snapshot) -> TenantSource | None:
    for cm in snapshot.of_kind("ConfigMap"):
        if cm.name != facts.WEBHOOK_CONFIGMAP:
            continue
        value = as_str(as_mapping(cm.raw.get("data")).get("AZURE_TENANT_ID"))
        if value and "${" not in value:  # the plain manifest ships an unsubstituted envsubst placeholder
            return TenantSource(value.strip(), cm.ref, "data.AZURE_TENANT_ID", "configmap")
    return None


def default_tenant(ctx: CheckContext, install: KedaInstall) -> TenantSource | None:
    """The tenant the operator runs with: pod env, else what the webhook would inject (SA, then ConfigMap)."""
    env = ctx.chain.pod_env(install)
    if env is not None and env.get("AZURE_TENANT_ID") and env["AZURE_TENANT_ID"].value:
        return TenantSource(env["AZURE_TENANT_ID"].value or "", install.running_pods[0].ref,
                            "spec.containers[keda-operator].env.AZURE_TENANT_ID", "pod")
    annotation = as_str(install.sa_annotations.get(facts.WI_TENANT_ID))
    if annotation and install.service_account is not None:
        return TenantSource(annotation.strip(), install.service_account.ref,
                            f"metadata.annotations[{facts.WI_TENANT_ID}]", "serviceaccount")
    return _webhook_tenant(ctx.snapshot)


def _tenant_finding(ctx: CheckContext, identity: Identity, used: TenantSource, via: str,
                    install: KedaInstall, auth: K8sObject | None, path: tuple[str, ...]) -> Finding:
    detail = (f"{via} resolves to identity {identity.name} in tenant {identity.tenant_id}, but KEDA requests its "
              f"token from tenant {used.value} ({used.kind} {used.ref}). Entra answers `AADSTS700016` "
              "(application not found in the directory) or `AADSTS90002` (tenant not found).")
    if auth is not None:
        # An override identity in another tenant needs identityTenantId; the SA annotation serves the default.
        version = install.version
        if version is not None and version.minor_key < (2, 14):
            detail += f" identityTenantId needs KEDA 2.14 or later (this is {version})."
        commands = [ctx.command("kubectl-patch", namespace=auth.namespace, kind=auth.kind.lower(), name=auth.name,
                                patch_type="merge", patch=nested(path, {"identityTenantId": identity.tenant_id}))]
        fixes: tuple[str, ...] = ("manual-tenant",)
    else:
        commands = [ctx.command("kubectl-annotate", namespace=install.namespace, kind="serviceaccount",
                                name=install.service_account_name, key=facts.WI_TENANT_ID, value=identity.tenant_id),
                    ctx.command("kubectl-rollout-restart", namespace=install.namespace, name=install.name)]
        fixes = ("sa-annotate-tenant-id", "operator-restart", "manual-tenant")
        fix_inputs = [ctx.fix("sa-annotate-tenant-id", namespace=install.namespace,
                              service_account=install.service_account_name, tenant_id=identity.tenant_id),
                      ctx.fix("operator-restart", namespace=install.namespace, deployment=install.name)]
    return ctx.finding(detail, objects=[used.ref, f"azure:{identity.id}", *([auth.ref] if auth else [])],
                       evidence=[Evidence(used.ref, used.field, f"{identity.tenant_id} (tenantId of {identity.name})",
                                          used.value)],
                       commands=commands, fixes=fixes, fix_inputs=fix_inputs if auth is None else [])


def _same_tenant(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


@check("tenant-mismatch", title="The identity lives in another tenant than KEDA asks",
       stage=Stage.IDENTITY, severity=Severity.CRITICAL, needs=(),
       fixes=("sa-annotate-tenant-id", "operator-restart", "manual-tenant"),
       docs=(KEDA_WI_DOC, "https://azure.github.io/azure-workload-identity/docs/topics/"
                          "service-account-labels-and-annotations.html"))
def tenant_mismatch(ctx: CheckContext) -> CheckResult:
    """Identity tenantId vs pod AZURE_TENANT_ID / SA annotation / webhook ConfigMap / identityTenantId."""
    chain = ctx.chain
    for install in relevant_installs(chain):
        eff = chain.default_identity(install)
        used = default_tenant(ctx, install)
        if eff.identity and eff.identity.tenant_id and used and not _same_tenant(eff.identity.tenant_id, used.value):
            yield _tenant_finding(ctx, eff.identity, used, f"KEDA's default identity ({eff.source})", install,
                                  None, ())
    primary = chain.primary
    if primary is None:
        return
    for auth in chain.auth_objects:
        for path in POD_IDENTITY_PATHS:
            yield from _auth_tenant(ctx, primary, auth, path)


def _auth_tenant(ctx: CheckContext, install: KedaInstall, auth: K8sObject, path: tuple[str, ...]) -> Iterator[Finding]:
    block = as_mapping(dig(auth.spec, *path))
    if block.get("provider") != "azure-workload":
        return
    field = "spec." + ".".join(path)
    client_id = as_str(block.get("identityId"))
    tenant = as_str(block.get("identityTenantId"))
    if client_id and client_id.strip():
        identity = ctx.snapshot.identity_by_client_id(client_id.strip())
    elif tenant:
        identity = ctx.chain.default_identity(install).identity
    else:
        return  # the default identity with the default tenant: judged above
    if identity is None or not identity.tenant_id:
        return
    used = (TenantSource(tenant.strip(), auth.ref, f"{field}.identityTenantId", "triggerauth") if tenant
            else default_tenant(ctx, install))
    if used is None or _same_tenant(identity.tenant_id, used.value):
        return
    yield _tenant_finding(ctx, identity, used, f"{auth.ref} {field}", install, auth, path)


# -- 20. sovereign-cloud-authority-mismatch

def _norm_host(url: str) -> str:
    return url.strip().lower().rstrip("/")


def _sb_endpoint(ctx: CheckContext, trigger: Trigger) -> tuple[str, str] | None:
    """(namespace resource id, endpoint suffix) of the trigger's Service Bus namespace, when collected."""
    short = (trigger.meta("namespace") or "").split(".", 1)[0]
    if not short:
        return None
    for ns in ctx.snapshot.arm_of_type(T_SB_NAMESPACE):
        if ns.name.lower() != short.lower():
            continue
        endpoint = as_str(ns.prop("serviceBusEndpoint")) or ""
        host = endpoint.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
        if "." in host:
            return ns.id, host.split(".", 1)[1]
    return None


def _cloud_evidence(ctx: CheckContext, trigger: Trigger, key: str, authority: tuple[str, str] | None
                    ) -> list[Evidence]:
    """What disagrees with the trigger's (valid) cloud: the pod's authority host, the namespace's suffix."""
    cloud = facts.CLOUD_NAMES[key]
    evidence = []
    if key in facts.AUTHORITY_HOSTS and authority is not None:
        ref, host = authority
        if _norm_host(host) != _norm_host(facts.AUTHORITY_HOSTS[key]):
            evidence.append(Evidence(ref, "env AZURE_AUTHORITY_HOST", f"{facts.AUTHORITY_HOSTS[key]} ({cloud})", host))
    expected_suffix = trigger.meta("endpointSuffix") if key == "private" else facts.SERVICEBUS_SUFFIXES.get(key)
    endpoint = _sb_endpoint(ctx, trigger) if trigger.type == "azure-servicebus" else None
    if endpoint is not None and expected_suffix and endpoint[1] != expected_suffix.strip(".").lower():
        evidence.append(Evidence(f"azure:{endpoint[0]}", "properties.serviceBusEndpoint",
                                 f"*.{expected_suffix} (trigger cloud {cloud})", f"*.{endpoint[1]}"))
    return evidence


def _pod_authority(ctx: CheckContext) -> tuple[str, str] | None:
    install = ctx.chain.primary
    env = ctx.chain.pod_env(install) if install else None
    var = env.get("AZURE_AUTHORITY_HOST") if env else None
    if install is None or var is None or not var.value:
        return None
    return install.running_pods[0].ref, var.value


def _trigger_cloud(ctx: CheckContext, trigger: Trigger, authority: tuple[str, str] | None) -> Iterator[Finding]:
    written = trigger.meta("cloud")
    key = (written or "AzurePublicCloud").strip().lower()
    field = f"{trigger.path}.metadata.cloud"
    ref = trigger.owner.ref
    if key not in facts.CLOUD_NAMES:
        yield ctx.finding(
            f"{trigger.ref} sets cloud {written!r}: KEDA knows only " + ", ".join(facts.CLOUD_NAMES.values())
            + f" and fails with `invalid cloud environment {written}`.",
            objects=[ref], evidence=[Evidence(ref, field, " | ".join(facts.CLOUD_NAMES.values()), shown(written))])
        return
    if key == "private" and not trigger.meta("endpointSuffix"):
        yield ctx.finding(
            f"{trigger.ref} sets cloud Private without endpointSuffix: "
            "`endpointSuffix must be provided for Private cloud type`.",
            objects=[ref], evidence=[Evidence(ref, f"{trigger.path}.metadata.endpointSuffix",
                                              "the cloud's Service Bus suffix", "(not set)")])
        return
    evidence = _cloud_evidence(ctx, trigger, key, authority)
    if evidence:
        cloud = facts.CLOUD_NAMES[key]
        yield ctx.finding(
            f"{trigger.ref} targets {cloud}" + ("" if written else " (the default)")
            + ", but the rest of the chain points at another cloud. The token comes from the wrong authority "
              "or the wrong endpoint is built: `AADSTS90002`, `AADSTS500011` or DNS/401 errors.",
            objects=[ref, *(e.source for e in evidence)],
            evidence=[Evidence(ref, field, "the cloud of the identity and namespace", written or "(default)"),
                      *evidence])


@check("sovereign-cloud-authority-mismatch", title="Trigger cloud, authority host and endpoint disagree",
       stage=Stage.IDENTITY, severity=Severity.CRITICAL, needs=(), fixes=("manual-sovereign-cloud",),
       docs=("https://keda.sh/docs/latest/scalers/azure-service-bus/", KEDA_WI_DOC))
def sovereign_cloud(ctx: CheckContext) -> CheckResult:
    """Trigger `cloud` vs pod AZURE_AUTHORITY_HOST vs the namespace's serviceBusEndpoint; identityAuthorityHost."""
    authority = _pod_authority(ctx)
    warned: set[str] = set()
    for trigger in ctx.chain.wi_triggers:
        yield from _trigger_cloud(ctx, trigger, authority)
        host = as_str(trigger.pod_identity.get("identityAuthorityHost"))
        if trigger.auth is None or not host or trigger.auth.ref in warned:
            continue
        warned.add(trigger.auth.ref)
        yield ctx.finding(
            f"{trigger.auth.ref} sets identityAuthorityHost {host}, but the {trigger.type} scaler builds its "
            "credential with azidentity, which takes the authority from the operator's AZURE_AUTHORITY_HOST "
            f"({authority[1] if authority else 'not seen'}). The setting is ignored for this scaler; "
            "configure the cloud on the webhook (azure-wi-webhook-config AZURE_ENVIRONMENT) instead.",
            severity=Severity.WARNING, objects=[trigger.auth.ref, trigger.owner.ref],
            evidence=[Evidence(trigger.auth.ref, "spec.podIdentity.identityAuthorityHost",
                               "(not set; only the RabbitMQ/MSAL path reads it)", host)])
