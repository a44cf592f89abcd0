"""The cluster's OIDC issuer, as Entra sees it (failure modes 13 and 16)."""

from __future__ import annotations

import shlex

from bot.diagnosis.chain import Chain
from bot.diagnosis.checks.federation import (
    AKS_OIDC_DOC,
    AWI_TROUBLESHOOTING,
    INTERNAL_ISSUER,
    Verdict,
    fic_name,
    fic_ref,
    judged,
)
from bot.diagnosis.findings import Evidence, Severity, Stage
from bot.diagnosis.registry import CheckContext, CheckResult, check
from bot.snapshot import AksCluster, FederatedCredential


def _symptoms(chain: Chain, *needles: str) -> list[Evidence]:
    """Observed operator lines and Warning events holding every needle (case-insensitive), as evidence."""
    wanted = [n.lower() for n in needles]
    expected = "no line with " + " and ".join(needles)
    return [Evidence(line.where, "message", expected, line.text.strip()[:300]) for line in chain.observed_lines
            if all(n in line.text.lower() for n in wanted)][:3]


def _internal_issuer_fics(ctx: CheckContext) -> list[FederatedCredential]:
    """KEDA's own credentials that name the in-cluster issuer: they were made from a token Entra cannot verify."""
    found = []
    for item in judged(ctx):
        if isinstance(item, Verdict):
            subject = item.expected.subject
            found += [f for f in item.fics if f.subject == subject and f.issuer.startswith(INTERNAL_ISSUER)]
    return found


def _oidc_disabled_evidence(aks: AksCluster) -> list[Evidence]:
    ref = f"azure:{aks.resource.id}"
    return [Evidence(ref, "properties.oidcIssuerProfile.enabled", "true",
                     "(not set)" if aks.oidc_enabled is None else str(aks.oidc_enabled).lower()),
            Evidence(ref, "properties.oidcIssuerProfile.issuerURL", "https://<region>.oic.prod-aks.azure.com/...",
                     aks.issuer_url or "(not set)")]


def _oidc_commands(ctx: CheckContext, aks: AksCluster | None) -> list[str]:
    commands = []
    if aks is not None:
        commands += [ctx.command("az-aks-update", resource_group=aks.resource_group, cluster=aks.name,
                                 flags=["--enable-oidc-issuer"]),
                     f"az aks show -g {shlex.quote(aks.resource_group)} -n {shlex.quote(aks.name)} "
                     "--query oidcIssuerProfile.issuerUrl -o tsv"]
    for item in judged(ctx):
        if isinstance(item, Verdict):
            commands.append(ctx.command(
                "az-fic-create", fic_name=fic_name(item, aks.name if aks else None), identity_name=item.identity.name,
                resource_group=item.identity.resource_group, issuer="<issuer printed above>",
                subject=item.expected.subject, audience=item.expected.audience))
    return commands + [ctx.command("kubectl-rollout-restart", namespace=i.namespace, name=i.name)
                       for i in ctx.chain.installs]


@check("oidc-issuer-not-enabled", title="The cluster has no public OIDC issuer",
       stage=Stage.CLUSTER, severity=Severity.CRITICAL, needs=(),
       fixes=("manual-enable-oidc-issuer", "fic-create", "operator-restart"),
       docs=(AKS_OIDC_DOC, "https://github.com/Azure/azure-workload-identity/issues/616"))
def oidc_issuer_not_enabled(ctx: CheckContext) -> CheckResult:
    """Tokens come from https://kubernetes.default.svc.cluster.local, which Entra cannot verify."""
    chain = ctx.chain
    if not chain.wi_in_use:
        return
    aks = chain.aks
    disabled = aks is not None and (aks.oidc_enabled is False or not aks.issuer_url)
    evidence = _oidc_disabled_evidence(aks) if aks is not None and disabled else []
    objects = [f"azure:{aks.resource.id}"] if aks is not None and disabled else []
    if aks is None or disabled:
        # Without the cluster's own word, a KEDA credential or a token naming the in-cluster issuer tells.
        for fic in _internal_issuer_fics(ctx):
            evidence.append(Evidence(fic_ref(fic), "properties.issuer", "the cluster's public OIDC issuer URL",
                                     fic.issuer))
            objects.append(fic_ref(fic))
        evidence += _symptoms(chain, "AADSTS", "kubernetes.default.svc")
    if not evidence:
        return
    yield ctx.finding(
        "KEDA's ServiceAccount tokens are not issued by a public OIDC issuer"
        + (f": AKS cluster {aks.name} has its OIDC issuer disabled" if aks is not None and disabled else "")
        + ". Entra cannot fetch the signing keys of `https://kubernetes.default.svc.cluster.local`, so no token "
          "exchange can succeed (AADSTS70021 naming that issuer). Enable the OIDC issuer, recreate the federated "
          "credentials with the new issuer URL, then restart the operator so it gets tokens from the new issuer.",
        objects=objects, evidence=evidence, commands=_oidc_commands(ctx, aks))


@check("oidc-endpoint-unreachable", title="Entra cannot reach the cluster's OIDC discovery endpoint",
       stage=Stage.FEDERATION, severity=Severity.CRITICAL, needs=(),
       fixes=("manual-publish-oidc",), docs=(AWI_TROUBLESHOOTING,))
def oidc_endpoint_unreachable(ctx: CheckContext) -> CheckResult:
    """Only decidable from its symptom: AADSTS90061 in the operator log or a warning event."""
    chain = ctx.chain
    if not chain.wi_in_use:
        return
    evidence = _symptoms(chain, "AADSTS90061")
    if not evidence:
        return
    aks = chain.aks
    issuer = (aks.issuer_url if aks else None) or "<issuer>"
    base = issuer.rstrip("/")
    commands = [f"curl -sS {shlex.quote(base + path)}" for path in ("/.well-known/openid-configuration",
                                                                      "/openid/v1/jwks")]
    if aks is not None:
        commands.append(ctx.command("az-aks-update", resource_group=aks.resource_group, cluster=aks.name, flags=[]))
    yield ctx.finding(
        f"Entra answered AADSTS90061: it could not fetch the OIDC discovery document or the signing keys of "
        f"issuer `{issuer}`, so it cannot verify KEDA's token. Check from outside the cluster that both URLs "
        "below answer; on AKS reconcile the cluster (and open a support case if that does not help), on a "
        "self-managed cluster publish the discovery document and JWKS.",
        objects=[f"azure:{aks.resource.id}"] if aks else [],
        evidence=evidence, commands=commands)
