"""Federation of KEDA's ServiceAccount with each identity it presents (failure modes 9-16).

KEDA always exchanges its *own* ServiceAccount token, for the default identity and for every
`identityId` override alike. So each presented identity needs one federated credential (FIC) whose
issuer is the cluster's OIDC issuer (exact string), whose subject is KEDA's ServiceAccount (exact,
case-sensitive) and whose audiences hold the operator token's audience. Every presented identity is
judged once, and the one id that names what is nearest to right is reported for it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.diagnosis import facts
from bot.diagnosis.chain import Chain, EffectiveIdentity, KedaInstall, Trigger
from bot.diagnosis.checks.common import identity_lookup, token_volume
from bot.diagnosis.findings import Evidence, FixInput, MissingInput, Severity, Stage
from bot.diagnosis.registry import CheckContext, CheckResult, check
from bot.snapshot import FederatedCredential, Identity
from bot.snapshot.frozen import as_str, dig
from bot.snapshot.timeutil import format_age, iso

FIC_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
INTERNAL_ISSUER = "https://kubernetes.default.svc"  # what tokens carry when no public OIDC issuer is set
SA_SUBJECT_PREFIX = "system:serviceaccount:"
MAX_FICS = 20  # per identity (failure-modes.md A5)
ISSUER_PLACEHOLDER = "<issuer>"
_PROPAGATION = timedelta(seconds=facts.FIC_PROPAGATION_SECONDS)

MISSING_KEDA_SA = "fic-missing-keda-sa"
MISSING_OVERRIDE = "fic-missing-override-identity"
SUBJECT_WRONG = "fic-subject-wrong-namespace-or-sa"
ISSUER_MISMATCH = "fic-issuer-mismatch"
AUDIENCE_MISMATCH = "fic-audience-mismatch"
PROPAGATION = "fic-propagation-delay"

KEDA_WI_DOC = "https://keda.sh/docs/latest/authentication-providers/azure-ad-workload-identity/"
AWI_TROUBLESHOOTING = "https://azure.github.io/azure-workload-identity/docs/troubleshooting.html"
AWI_FIC_DOC = "https://azure.github.io/azure-workload-identity/docs/topics/federated-identity-credential.html"
AWI_FAQ = "https://azure.github.io/azure-workload-identity/docs/faq.html"
AKS_OIDC_DOC = "https://learn.microsoft.com/azure/aks/use-oidc-issuer"
AKS_KEDA_WI = "https://learn.microsoft.com/azure/aks/keda-workload-identity"


@dataclass(frozen=True, slots=True)
class _Expected:
    """The FIC that would let KEDA's token through; issuer is None when the cluster's is unknown."""

    issuer: str | None
    subject: str
    audience: str
    audience_source: str

    def subject_ok(self, fic: FederatedCredential) -> bool:
        return fic.subject == self.subject

    def issuer_ok(self, fic: FederatedCredential) -> bool:
        return self.issuer is None or fic.issuer == self.issuer

    def audience_ok(self, fic: FederatedCredential) -> bool:
        return self.audience in fic.audiences

    def matches(self, fic: FederatedCredential) -> bool:
        return self.subject_ok(fic) and self.issuer_ok(fic) and self.audience_ok(fic)

    def miss_kind(self, fic: FederatedCredential) -> str | None:
        """Which near miss this FIC is; None when it does not resemble KEDA's FIC at all."""
        if self.subject_ok(fic):
            return AUDIENCE_MISMATCH if self.issuer_ok(fic) else ISSUER_MISMATCH
        if self.issuer_ok(fic) and fic.subject.lower().startswith(SA_SUBJECT_PREFIX):
            return SUBJECT_WRONG
        return None

    def nearness(self, fic: FederatedCredential) -> tuple[bool, int, bool]:
        right = self.subject_ok(fic) + self.issuer_ok(fic) + self.audience_ok(fic)
        return self.miss_kind(fic) is not None, right, self.subject_ok(fic)


@dataclass(frozen=True)
class Verdict:
    """How one presented identity is federated: `id` is None when correctly."""

    eff: EffectiveIdentity
    identity: Identity
    expected: _Expected
    fics: tuple[FederatedCredential, ...]
    id: str | None
    fic: FederatedCredential | None  # the matching FIC, or the nearest miss


# -- judging


def _expected(chain: Chain, install: KedaInstall) -> _Expected:
    aks = chain.aks
    audience, source = facts.TOKEN_AUDIENCE, "the Workload Identity webhook's default token audience"
    pod = install.running_pods[0] if install.running_pods else None
    volume = token_volume(pod) if pod else None
    if pod and volume and volume[1]:
        # A webhook configured with a custom audience projects that one; the FIC must name it.
        audience, source = volume[1], f"{pod.ref} projected token volume {volume[0]}"
    return _Expected((aks.issuer_url or None) if aks else None, install.subject, audience, source)


def _settling(fic: FederatedCredential, now: datetime | None) -> bool:
    """Created so recently that Entra may not know it yet; an undated FIC counts as settled."""
    created = fic.created
    return now is not None and created is not None and now - created < _PROPAGATION


def _judge(chain: Chain, eff: EffectiveIdentity, identity: Identity, exp: _Expected) -> Verdict:
    fics = chain.snapshot.fics_of(identity.id)
    matching = [f for f in fics if exp.matches(f)]
    if matching:
        settled = [f for f in matching if not _settling(f, chain.snapshot.now)]
        if settled:
            return Verdict(eff, identity, exp, fics, None, settled[0])
        newest = max(matching, key=lambda f: f.created.timestamp() if f.created else 0.0)
        return Verdict(eff, identity, exp, fics, PROPAGATION, newest)
    nearest = max(fics, key=exp.nearness) if fics else None
    kind = exp.miss_kind(nearest) if nearest else None
    if kind is None:
        return Verdict(eff, identity, exp, fics, MISSING_OVERRIDE if eff.override else MISSING_KEDA_SA, None)
    return Verdict(eff, identity, exp, fics, kind, nearest)


def judged(ctx: CheckContext) -> Iterator[Verdict | MissingInput]:
    """One verdict per identity KEDA presents, or what to add to the snapshot to judge it."""
    chain = ctx.chain
    install = chain.primary
    if not chain.wi_in_use or install is None:
        return
    exp = _expected(chain, install)
    snapshot = ctx.snapshot
    for eff in chain.effective_identities:
        identity = eff.identity
        if not eff.client_id:
            continue
        if identity is None:
            yield identity_lookup(eff.client_id, f"to check its federated credentials ({eff.source} on "
                                                 f"{eff.source_ref}); save the output under azure/")
        elif not snapshot.complete(FIC_TYPE, identity.id):
            yield MissingInput(f"the federated credentials of identity {identity.name}",
                               f"az identity federated-credential list -g {shlex.quote(identity.resource_group)} "
                               f"--identity-name {shlex.quote(identity.name)} -o json",
                               "to see whether it trusts KEDA's ServiceAccount; save the output under azure/")
        else:
            yield _judge(chain, eff, identity, exp)


# -- reporting


def _identity_users(chain: Chain, client_id: str) -> list[Trigger]:
    """Triggers that authenticate (scaler or Key Vault secret) as this identity."""
    users = []
    for trigger in chain.triggers:
        purposes = ["scaler"] if trigger.uses_workload_identity else []
        if trigger.auth and dig(trigger.auth.spec, "azureKeyVault", "podIdentity", "provider") == "azure-workload":
            purposes.append("keyvault")
        effs = [chain.effective_identity(trigger, purpose) for purpose in purposes]
        if any(e and e.client_id and e.client_id.lower() == client_id.lower() for e in effs):
            users.append(trigger)
    return users


def fic_name(verdict: Verdict, cluster: str | None) -> str:
    """A name not yet taken: reusing one would overwrite a credential that may serve something else."""
    taken = {f.name.lower() for f in verdict.fics}
    candidates = ["keda-operator", *([f"keda-operator-{cluster}"] if cluster else [])]
    candidates += [f"keda-operator-{n}" for n in range(2, MAX_FICS + 2)]
    return next((c for c in candidates if c.lower() not in taken), f"keda-operator-{len(taken) + 2}")


def _create_command(ctx: CheckContext, verdict: Verdict) -> str:
    aks = ctx.chain.aks
    return ctx.command("az-fic-create", fic_name=fic_name(verdict, aks.name if aks else None),
                       identity_name=verdict.identity.name, resource_group=verdict.identity.resource_group,
                       issuer=verdict.expected.issuer or ISSUER_PLACEHOLDER, subject=verdict.expected.subject,
                       audience=verdict.expected.audience)


def _create_fix(ctx: CheckContext, verdict: Verdict) -> list[FixInput]:
    """Create the FIC KEDA needs, or correct the one that differs only in audience: Entra refuses a second
    credential with the same issuer and subject. Without the cluster's issuer there is nothing to create."""
    exp, aks = verdict.expected, ctx.chain.aks
    if not exp.issuer:
        return []
    near = verdict.fic
    same_pair = near is not None and near.issuer == exp.issuer and near.subject == exp.subject
    name = near.name if same_pair and near is not None else fic_name(verdict, aks.name if aks else None)
    return [ctx.fix("fic-create", identity_id=verdict.identity.id, name=name, issuer=exp.issuer,
                    subject=exp.subject, audience=exp.audience)]


def _aks_show_input(ctx: CheckContext) -> MissingInput:
    cluster = as_str(dig(ctx.snapshot.manifest, "cluster", "name")) or "<cluster>"
    return MissingInput("the AKS cluster (its OIDC issuer URL)",
                        f"az aks show -g <resource-group> -n {shlex.quote(cluster)} -o json",
                        "to compare federated credential issuers with the cluster's exact issuer URL")


def _presented(verdict: Verdict) -> str:
    eff = verdict.eff
    return (f"KEDA presents identity {verdict.identity.name} (clientId {eff.client_id}, from the "
            f"{eff.source} on {eff.source_ref}, {eff.source_field})")


def fic_ref(fic: FederatedCredential) -> str:
    return f"azure:{fic.resource.id}"


Describe = Callable[[Verdict], tuple[str, list[Evidence]]]


def _report(ctx: CheckContext, wanted: str, describe: Describe, *, override: bool | None = None) -> CheckResult:
    """One finding per identity judged `wanted`, with its fix; critical only if a trigger uses it now."""
    for item in judged(ctx):
        if isinstance(item, MissingInput):
            yield item
            continue
        if item.id != wanted or override not in (None, item.eff.override):
            continue
        detail, evidence = describe(item)
        users = _identity_users(ctx.chain, item.identity.client_id)
        if users:
            detail += " Triggers failing because of it: " + ", ".join(t.ref for t in users[:5]) + "."
        else:
            detail += " No trigger authenticates as it right now, but the next one that does will fail."
        if len(item.fics) >= MAX_FICS:
            detail += (f" The identity already has {len(item.fics)} federated credentials, the maximum of "
                       f"{MAX_FICS}: delete or update one (the mismatched one, if it serves nothing else) first.")
        objects = [item.eff.source_ref, f"azure:{item.identity.id}", *([fic_ref(item.fic)] if item.fic else [])]
        yield ctx.finding(detail, severity=Severity.CRITICAL if users else Severity.WARNING,
                          objects=objects + [t.owner.ref for t in users], evidence=evidence,
                          commands=[_create_command(ctx, item)], fix_inputs=_create_fix(ctx, item))
        if ctx.chain.aks is None:
            yield _aks_show_input(ctx)  # the fix above had to leave the issuer as a placeholder


def _describe_missing(verdict: Verdict) -> tuple[str, list[Evidence]]:
    exp = verdict.expected
    role = "the identityId override" if verdict.eff.override else "the default identity"
    count = f"none of its {len(verdict.fics)} federated credential(s)" if verdict.fics else "no federated credential"
    detail = (f"{_presented(verdict)} as {role}, but {count} "
              f"trusts KEDA's ServiceAccount token (subject `{exp.subject}`, issuer "
              f"`{exp.issuer or 'the cluster OIDC issuer'}`). KEDA exchanges its own token, never the scaled "
              "workload's, so Entra rejects it: AADSTS70021/700213"
              + (", or AADSTS70025 since it has no federated credentials at all." if not verdict.fics else "."))
    if verdict.eff.override:
        detail += (" An identityId override changes which identity KEDA asks for, not which token it presents: "
                   "every overridden identity needs its own federated credential for KEDA's ServiceAccount.")
    subjects = sorted({f.subject for f in verdict.fics})
    return detail, [Evidence(f"azure:{verdict.identity.id}", "federatedIdentityCredentials[].properties.subject",
                             exp.subject, ", ".join(subjects) if subjects else "(no federated credentials)")]


@check(MISSING_KEDA_SA, title="KEDA's identity is not federated with KEDA's ServiceAccount",
       stage=Stage.FEDERATION, severity=Severity.CRITICAL, needs=("Deployment",), fixes=("fic-create",),
       docs=(KEDA_WI_DOC, "https://github.com/kedacore/keda/issues/4219", AKS_KEDA_WI))
def missing_keda_sa(ctx: CheckContext) -> CheckResult:
    """The default identity has no FIC resembling system:serviceaccount:<keda-ns>:<keda-sa>."""
    return _report(ctx, MISSING_KEDA_SA, _describe_missing, override=False)


@check(MISSING_OVERRIDE, title="An identityId override is not federated with KEDA's ServiceAccount",
       stage=Stage.FEDERATION, severity=Severity.CRITICAL, needs=("Deployment",), fixes=("fic-create",),
       docs=(KEDA_WI_DOC, "https://github.com/kedacore/keda/issues/5491", AWI_FIC_DOC))
def missing_override(ctx: CheckContext) -> CheckResult:
    """A TriggerAuthentication identityId names an identity with no FIC for KEDA's ServiceAccount."""
    return _report(ctx, MISSING_OVERRIDE, _describe_missing, override=True)


def _subject_reason(fic_subject: str, expected: str) -> str:
    install_ns, install_sa = expected[len(SA_SUBJECT_PREFIX):].split(":", 1)
    ns, _, sa = fic_subject[len(SA_SUBJECT_PREFIX):].partition(":")
    if fic_subject.lower() == expected.lower():
        return "The subjects differ only in letter case, and Entra compares them case-sensitively (AADSTS7002138)."
    if sa == install_sa and ns != install_ns:
        addon = " (the AKS KEDA add-on runs in kube-system)" if "kube-system" in (ns, install_ns) else ""
        return f"It names namespace `{ns}` but KEDA runs in `{install_ns}`{addon}."
    if ns == install_ns:
        return f"It names ServiceAccount `{sa}` but the operator runs as `{install_sa}` (a renamed ServiceAccount?)."
    return ("It belongs to another ServiceAccount, likely the scaled workload's; KEDA never uses the workload's "
            "token, only its own.")


def _describe_subject(verdict: Verdict) -> tuple[str, list[Evidence]]:
    fic, subject = verdict.fic, verdict.expected.subject
    assert fic is not None  # a near miss always names its FIC
    return (f"{_presented(verdict)}. Its federated credential `{fic.name}` trusts subject `{fic.subject}`, but "
            f"KEDA's token carries `{subject}`. {_subject_reason(fic.subject, subject)} Entra rejects the exchange "
            "(AADSTS70021/700213); add a credential with KEDA's exact subject and keep the existing one if "
            "something else uses it.", [Evidence(fic_ref(fic), "properties.subject", subject, fic.subject)])


@check(SUBJECT_WRONG, title="The federated credential names another namespace or ServiceAccount",
       stage=Stage.FEDERATION, severity=Severity.CRITICAL, needs=("Deployment",), fixes=("fic-create",),
       docs=(KEDA_WI_DOC, "https://github.com/Azure/AKS/issues/3616", AKS_KEDA_WI))
def subject_wrong(ctx: CheckContext) -> CheckResult:
    """The FIC with the cluster's issuer trusts a subject other than KEDA's exact ServiceAccount."""
    return _report(ctx, SUBJECT_WRONG, _describe_subject)


def _issuer_reason(fic_issuer: str, cluster_issuer: str) -> str:
    if fic_issuer.rstrip("/") == cluster_issuer.rstrip("/"):
        return "They differ only by the trailing `/`, and Entra compares issuers as exact strings."
    if fic_issuer.startswith(INTERNAL_ISSUER):
        return ("That is the in-cluster issuer used before the OIDC issuer was enabled; the credential was created "
                "from a token of that time.")
    return ("It belongs to another cluster, or to this one before it was recreated (the issuer holds a new GUID "
            "per cluster).")


def _describe_issuer(verdict: Verdict) -> tuple[str, list[Evidence]]:
    fic, issuer = verdict.fic, verdict.expected.issuer or ""
    assert fic is not None  # a near miss always names its FIC
    detail = (f"{_presented(verdict)}. Its federated credential `{fic.name}` names KEDA's subject but issuer "
              f"`{fic.issuer}`, while the cluster signs tokens as `{issuer}` (AKS oidcIssuerProfile.issuerURL). "
              f"{_issuer_reason(fic.issuer, issuer)} Entra rejects the exchange (AADSTS700211).")
    if not verdict.expected.audience_ok(fic):
        detail += f" Its audiences also lack `{verdict.expected.audience}`."
    return detail, [Evidence(fic_ref(fic), "properties.issuer", issuer, fic.issuer)]


@check(ISSUER_MISMATCH, title="The federated credential's issuer is not the cluster's OIDC issuer",
       stage=Stage.FEDERATION, severity=Severity.CRITICAL, needs=("Deployment",), fixes=("fic-create",),
       docs=(AWI_TROUBLESHOOTING, "https://github.com/Azure/azure-workload-identity/issues/1200", AKS_OIDC_DOC))
def issuer_mismatch(ctx: CheckContext) -> CheckResult:
    """KEDA's subject is federated, but with an issuer that is not the AKS issuer URL, byte for byte."""
    yield from _report(ctx, ISSUER_MISMATCH, _describe_issuer)
    if ctx.chain.aks is None and any(isinstance(i, Verdict) and i.fic for i in judged(ctx)):
        yield _aks_show_input(ctx)  # without the cluster, a FIC "matched" on subject and audience only


def _describe_audience(verdict: Verdict) -> tuple[str, list[Evidence]]:
    fic, exp = verdict.fic, verdict.expected
    assert fic is not None  # a near miss always names its FIC
    actual = ", ".join(fic.audiences) if fic.audiences else "(none)"
    return (f"{_presented(verdict)}. Its federated credential `{fic.name}` matches KEDA's issuer and subject, but "
            f"its audiences are [{actual}] while KEDA's token is issued for `{exp.audience}` ({exp.audience_source})."
            " Entra rejects the exchange (AADSTS700212).",
            [Evidence(fic_ref(fic), "properties.audiences", exp.audience, actual)])


@check(AUDIENCE_MISMATCH, title="The federated credential's audience is not the token's audience",
       stage=Stage.FEDERATION, severity=Severity.CRITICAL, needs=("Deployment",), fixes=("fic-create",),
       docs=(AWI_FIC_DOC, "https://learn.microsoft.com/azure/aks/workload-identity-deploy-cluster"))
def audience_mismatch(ctx: CheckContext) -> CheckResult:
    """Issuer and subject are right, but the FIC's audiences lack the operator token's audience."""
    return _report(ctx, AUDIENCE_MISMATCH, _describe_audience)


@check(PROPAGATION, title="The federated credential is too new to be trusted yet",
       stage=Stage.FEDERATION, severity=Severity.WARNING, needs=("Deployment",),
       fixes=("manual-wait-propagation",), docs=(AWI_FAQ,))
def propagation_delay(ctx: CheckContext) -> CheckResult:
    """A correct FIC created less than 5 minutes before the snapshot: errors until Entra has it."""
    now = ctx.snapshot.now
    for item in judged(ctx):
        if isinstance(item, MissingInput):
            yield item
        elif item.id == PROPAGATION and item.fic and item.fic.created and now:
            fic, created = item.fic, item.fic.created
            yield ctx.finding(
                f"{_presented(item)}. Its federated credential `{fic.name}` is correct but was created at "
                f"{iso(created)}, {format_age(now - created)} before the snapshot (taken as {iso(now)}, from "
                f"{ctx.snapshot.now_source}). Entra may reject tokens for a few minutes after a credential is "
                f"created (AADSTS70021/70025); those errors should stop by {iso(created + _PROPAGATION)} without "
                "any change. Re-check then before changing anything.",
                objects=[item.eff.source_ref, f"azure:{item.identity.id}", fic_ref(fic)],
                evidence=[Evidence(fic_ref(fic), "systemData.createdAt", f"before {iso(now - _PROPAGATION)}",
                                   iso(created))])
