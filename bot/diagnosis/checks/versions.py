"""KEDA version-dependent breakage of TriggerAuthentications (failure modes 28-32, and the K8s matrix)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.diagnosis import facts
from bot.diagnosis.chain import Chain
from bot.diagnosis.checks.identity import POD_IDENTITY_PATHS, nested
from bot.diagnosis.findings import Evidence, Severity, Stage
from bot.diagnosis.registry import CheckContext, CheckResult, check
from bot.diagnosis.version import Version
from bot.snapshot import K8sObject
from bot.snapshot.frozen import as_mapping, as_seq, as_str, dig

CHANGELOG = "https://github.com/kedacore/keda/blob/main/CHANGELOG.md"
CLUSTER_DOC = "https://keda.sh/docs/latest/operate/cluster/"
_CRD_NAMES = {"TriggerAuthentication": "triggerauthentications.keda.sh",
              "ClusterTriggerAuthentication": "clustertriggerauthentications.keda.sh"}


def keda_version(chain: Chain) -> tuple[Version | None, str]:
    """The version of the install that serves metrics (it reconciles the TriggerAuths), else the CRD label."""
    install = chain.primary
    if install is not None and install.version is not None:
        return install.version, install.version_source
    for name in ("scaledobjects.keda.sh", *_CRD_NAMES.values()):
        crd = chain.snapshot.get("CustomResourceDefinition", "", name)
        label = as_str(crd.labels.get("app.kubernetes.io/version")) if crd else None
        version = Version.parse(label)
        if version is not None:
            return version, f"CRD {name} label app.kubernetes.io/version={label}"
    return None, "unknown"


@dataclass(frozen=True)
class Block:
    """One pod identity block of one (Cluster)TriggerAuthentication."""

    auth: K8sObject
    path: tuple[str, ...]
    raw: Any

    @property
    def field(self) -> str:
        return "spec." + ".".join(self.path)

    @property
    def provider(self) -> str | None:
        return as_str(as_mapping(self.raw).get("provider"))


def blocks(chain: Chain) -> Iterator[Block]:
    for auth in chain.auth_objects:
        for path in POD_IDENTITY_PATHS:
            raw = dig(auth.spec, *path)
            if isinstance(raw, Mapping):
                yield Block(auth, path, raw)


def _version_evidence(chain: Chain, version: Version | None, source: str, expected: str) -> Evidence:
    install = chain.primary
    where = install.deployment.ref if install is not None and install.version is not None else "KEDA"
    return Evidence(where, f"version ({source})", expected, str(version) if version else "(unknown)")


def _patch(ctx: CheckContext, auth: K8sObject, patch_type: str, patch: Any) -> str:
    return ctx.command("kubectl-patch", namespace=auth.namespace, kind=auth.kind.lower(), name=auth.name,
                       patch_type=patch_type, patch=patch)


def crd_provider_enum(chain: Chain, kind: str, path: tuple[str, ...]) -> tuple[str, ...] | None:
    """The provider enum the API server validates against; None without the CRD or without an enum."""
    crd = chain.snapshot.get("CustomResourceDefinition", "", _CRD_NAMES.get(kind, ""))
    if crd is None:
        return None
    versions = [as_mapping(v) for v in as_seq(crd.spec.get("versions"))]
    versions.sort(key=lambda v: v.get("storage") is not True)
    for version in versions:
        node: Any = dig(version, "schema", "openAPIV3Schema", "properties", "spec")
        for step in (*path, "provider"):
            node = dig(node, "properties", step)
        enum = as_seq(as_mapping(node).get("enum"))
        if node is not None:
            return tuple(str(e) for e in enum) if enum else None
    return None


# -- 28. provider-azure-removed

def _azure_removed(chain: Chain, block: Block, version: Version | None) -> bool | None:
    if version is not None:
        return version >= Version(2, 15)
    enum = crd_provider_enum(chain, block.auth.kind, block.path)
    if enum is not None:
        return "azure" not in enum
    return None


@check("provider-azure-removed", title="TriggerAuthentication uses AAD Pod Identity (provider: azure)",
       stage=Stage.VERSION, severity=Severity.CRITICAL, needs=(), fixes=("manual-migrate-pod-identity",),
       docs=(CHANGELOG, "https://github.com/kedacore/keda-docs/pull/1479",
             "https://learn.microsoft.com/azure/aks/keda-about"))
def provider_azure_removed(ctx: CheckContext) -> CheckResult:
    """AAD Pod Identity was deprecated, then removed in KEDA 2.15: `provider: azure` no longer authenticates."""
    version, source = keda_version(ctx.chain)
    for block in blocks(ctx.chain):
        if block.provider != "azure":
            continue
        removed = _azure_removed(ctx.chain, block, version)
        if removed:
            detail = (f"{block.auth.ref} {block.field}.provider is `azure` (AAD Pod Identity), which KEDA removed "
                      f"in 2.15; this KEDA ({version or 'version from its CRD'}) cannot authenticate with it.")
        else:
            detail = (f"{block.auth.ref} {block.field}.provider is `azure`: AAD Pod Identity is deprecated and "
                      "archived (IMDS timeouts, `Identity not found`), and KEDA 2.15 removes it. Migrate to "
                      "`azure-workload` before upgrading.")
        patch = nested(block.path, {"provider": "azure-workload"})
        yield ctx.finding(
            detail, severity=Severity.CRITICAL if removed else Severity.WARNING, objects=[block.auth.ref],
            evidence=[Evidence(block.auth.ref, f"{block.field}.provider", "azure-workload", "azure"),
                      _version_evidence(ctx.chain, version, source, "< 2.15 for provider azure")],
            commands=[_patch(ctx, block.auth, "merge", patch)])


# -- 29. identityid-empty-string

@check("identityid-empty-string", title="identityId is an empty string",
       stage=Stage.VERSION, severity=Severity.CRITICAL, needs=(), fixes=("triggerauth-identityid-remove-empty",),
       docs=("https://github.com/kedacore/keda/issues/5109", "https://github.com/kedacore/keda/pull/4696"))
def identityid_empty(ctx: CheckContext) -> CheckResult:
    """From KEDA 2.12 identityId is a pointer and `""` is rejected; older KEDA persisted it happily."""
    version, source = keda_version(ctx.chain)
    for block in blocks(ctx.chain):
        raw = as_mapping(block.raw)
        if "identityId" not in raw or raw.get("identityId") != "":
            continue
        rejected = version is None or version >= Version(2, 12)
        detail = (f"{block.auth.ref} has `{block.field}.identityId: \"\"`. "
                  + ("KEDA 2.12+ rejects it: `IdentityID of PodIdentity should not be empty`, so the trigger "
                     "gets no credential." if rejected else
                     f"KEDA {version} accepts it, but upgrading to 2.12 or later will reject it."))
        json_path = "/spec/" + "/".join(block.path) + "/identityId"
        yield ctx.finding(
            detail, severity=Severity.CRITICAL if rejected else Severity.WARNING, objects=[block.auth.ref],
            evidence=[Evidence(block.auth.ref, f"{block.field}.identityId", "absent, or a clientId", '"" (empty)'),
                      _version_evidence(ctx.chain, version, source, "any (rejected from 2.12)")],
            commands=[_patch(ctx, block.auth, "json", [{"op": "remove", "path": json_path}])],
            fix_inputs=[ctx.fix("triggerauth-identityid-remove-empty", kind=block.auth.kind,
                                namespace=block.auth.namespace, name=block.auth.name, path=".".join(block.path))])


# -- 30. crd-enum-mismatch-none

def _none_rejected(chain: Chain, block: Block, version: Version | None) -> tuple[bool, Evidence] | None:
    enum = crd_provider_enum(chain, block.auth.kind, block.path)
    crd = _CRD_NAMES[block.auth.kind]
    if enum is not None:
        return "none" not in enum, Evidence(f"CustomResourceDefinition/{crd}",
                                            f"openAPIV3Schema {block.field}.provider.enum",
                                            "includes none", ", ".join(enum))
    if chain.snapshot.get("CustomResourceDefinition", "", crd) is not None:
        return None  # a CRD without an enum (2.12) accepts any string
    if version is None:
        return None
    return version.minor_key == (2, 13), Evidence("KEDA version", "version", "not 2.13.x", str(version))


@check("crd-enum-mismatch-none", title="KEDA 2.13 CRD rejects provider: none",
       stage=Stage.VERSION, severity=Severity.CRITICAL, needs=(), fixes=("manual-upgrade-keda",),
       docs=("https://github.com/kedacore/keda/issues/5838", "https://github.com/kedacore/keda/pull/5593"))
def crd_enum_none(ctx: CheckContext) -> CheckResult:
    """The 2.13.x CRD enum leaves out `none`: every status update of such a TriggerAuthentication fails."""
    version, _ = keda_version(ctx.chain)
    for block in blocks(ctx.chain):
        if block.provider != "none" or block.auth.kind not in _CRD_NAMES:
            continue
        decided = _none_rejected(ctx.chain, block, version)
        if decided is None or not decided[0]:
            continue
        yield ctx.finding(
            f"{block.auth.ref} sets `{block.field}.provider: none`, which the installed KEDA "
            f"{version or ''} CRD does not allow: `Failed to update TriggerAuthenticationStatus ... Unsupported "
            "value: \"none\"`. Upgrade KEDA and its CRDs to 2.14+, or drop the explicit provider.",
            objects=[block.auth.ref],
            evidence=[Evidence(block.auth.ref, f"{block.field}.provider", "(not set) or a provider in the enum",
                               "none"), decided[1]],
            commands=[_patch(ctx, block.auth, "json", [{"op": "remove", "path": "/spec/" + "/".join(block.path)
                                                        + "/provider"}])])


# -- 31. keyvault-podidentity-location

@check("keyvault-podidentity-location", title="azureKeyVault has no podIdentity of its own",
       stage=Stage.VERSION, severity=Severity.CRITICAL, needs=(), fixes=("triggerauth-keyvault-podidentity",),
       docs=("https://keda.sh/docs/latest/authentication-providers/azure-key-vault/",
             "https://github.com/kedacore/keda/issues/4010"))
def keyvault_location(ctx: CheckContext) -> CheckResult:
    """Since 2.9 Key Vault reads azureKeyVault.podIdentity only; spec.podIdentity does not apply to it."""
    version, source = keda_version(ctx.chain)
    if version is not None and version < Version(2, 9):
        return
    for auth in ctx.chain.auth_objects:
        vault = as_mapping(auth.spec.get("azureKeyVault"))
        if not vault or vault.get("podIdentity") or vault.get("credentials"):
            continue
        outer = as_mapping(auth.spec.get("podIdentity"))
        leaf: dict[str, Any] = {"provider": "azure-workload"}
        if outer.get("provider") == "azure-workload" and as_str(outer.get("identityId")):
            leaf["identityId"] = outer["identityId"]
        yield ctx.finding(
            f"{auth.ref} reads secrets from Azure Key Vault but has neither `spec.azureKeyVault.podIdentity` nor "
            "`spec.azureKeyVault.credentials`. Since KEDA 2.9 the vault ignores `spec.podIdentity`: "
            "`clientID, tenantID and clientSecret are expected when not using a pod identity provider`"
            " (2.9.0 panics).",
            objects=[auth.ref],
            evidence=[Evidence(auth.ref, "spec.azureKeyVault.podIdentity", "{provider: azure-workload}", "(not set)"),
                      _version_evidence(ctx.chain, version, source, ">= 2.9")],
            commands=[_patch(ctx, auth, "merge", {"spec": {"azureKeyVault": {"podIdentity": leaf}}})],
            fix_inputs=[ctx.fix("triggerauth-keyvault-podidentity", kind=auth.kind, namespace=auth.namespace,
                                name=auth.name, identity_id=as_str(leaf.get("identityId")) or "")])


# -- 32. keda-2.9.x-regressions

@check("keda-2.9.x-regressions", title="KEDA 2.9.1/2.9.2 Azure credential-chain regressions",
       stage=Stage.VERSION, severity=Severity.CRITICAL, needs=(), fixes=("manual-upgrade-keda",),
       docs=("https://github.com/kedacore/keda/issues/4026", "https://github.com/kedacore/keda/issues/4123"))
def keda_29_regressions(ctx: CheckContext) -> CheckResult:
    """2.9.1 broke aad-pod-identity (AzureCLICredential in the chain); 2.9.2 broke Service Bus with WI."""
    azure_used = ctx.chain.wi_in_use or any(b.provider == "azure" for b in blocks(ctx.chain))
    for install in ctx.chain.installs:
        version = install.version
        if version not in (Version(2, 9, 1), Version(2, 9, 2)):
            continue
        yield ctx.finding(
            f"KEDA in {install.namespace} is {version}, which has the Azure credential-chain regressions "
            "fixed in 2.9.3/2.10 (`AzureCLICredential: fork/exec /bin/sh`, Service Bus failing with workload "
            "identity). Upgrade KEDA, preferably to a supported 2.1x release.",
            severity=Severity.CRITICAL if azure_used else Severity.WARNING, objects=[install.deployment.ref],
            evidence=[Evidence(install.deployment.ref, install.version_source, ">= 2.9.3", str(version))])


# -- KEDA vs Kubernetes support matrix (failure-modes.md A1)

@check("keda-k8s-version-unsupported", title="KEDA version not supported on this Kubernetes version",
       stage=Stage.VERSION, severity=Severity.WARNING, needs=(), fixes=("manual-upgrade-keda",),
       docs=(CLUSTER_DOC,))
def keda_k8s_unsupported(ctx: CheckContext) -> CheckResult:
    """KEDA tests each release against three Kubernetes minors; outside them behaviour is untested."""
    k8s, k8s_source = ctx.chain.kubernetes_version
    if k8s is None:
        return
    for install in ctx.chain.installs:
        version = install.version
        supported = facts.KEDA_K8S_SUPPORT.get(version.minor_key) if version else None
        if version is None or supported is None:
            continue
        low, high = supported
        if low <= k8s.minor_key <= high:
            continue
        span = f"v{low[0]}.{low[1]} - v{high[0]}.{high[1]}"
        yield ctx.finding(
            f"KEDA {version} in {install.namespace} ({install.version_source}) supports Kubernetes {span}, but the "
            f"cluster runs {k8s} ({k8s_source}). This pairing is untested; move to a KEDA release whose "
            "support range covers this Kubernetes version.",
            objects=[install.deployment.ref],
            evidence=[Evidence(install.deployment.ref, install.version_source, f"Kubernetes {span}",
                               f"Kubernetes {k8s} ({k8s_source})")])
