"""Reaching Entra, and which KEDA the cluster actually listens to (failure modes 33 and 35)."""

from __future__ import annotations

from bot.diagnosis import facts
from bot.diagnosis.chain import KedaInstall, Line
from bot.diagnosis.checks.common import shown, template_env
from bot.diagnosis.findings import Evidence, FixInput, Severity, Stage
from bot.diagnosis.registry import CheckContext, CheckResult, check
from bot.snapshot.frozen import as_str, dig

TIMEOUT_ENV = "KEDA_HTTP_DEFAULT_TIMEOUT"
RAISED_TIMEOUT_MS = 10000
_TIMEOUT_MARKERS = ("context deadline exceeded", "client.timeout exceeded")
AKS_KEDA_TROUBLESHOOTING = ("https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/extensions/"
                            "troubleshoot-kubernetes-event-driven-autoscaling-add-on")


def _authority_hosts(ctx: CheckContext) -> set[str]:
    """Bare host names of every Entra authority, plus the one the operator pod was given."""
    urls = list(facts.AUTHORITY_HOSTS.values())
    install = ctx.chain.primary
    env = ctx.chain.pod_env(install) if install else None
    var = env.get("AZURE_AUTHORITY_HOST") if env else None
    if var is not None and var.value:
        urls.append(var.value)
    return {u.split("://", 1)[-1].split("/", 1)[0].lower() for u in urls if u}


def _timeouts_to_entra(ctx: CheckContext) -> list[tuple[Line, str]]:
    """(line, authority host it names) for every timeout towards Entra."""
    hosts = sorted(_authority_hosts(ctx))
    found = []
    for line in ctx.chain.observed_lines:
        lower = line.text.lower()
        host = next((h for h in hosts if h in lower), None)
        if host and any(m in lower for m in _TIMEOUT_MARKERS):
            found.append((line, host))
    return found


def _excerpt(text: str, host: str) -> str:
    """The part of a long log line around the host, so the evidence shows what timed out."""
    at = text.lower().find(host)
    start = max(0, at - 80)
    return ("..." if start else "") + text[start:at + 220].strip()


def _install_of(ctx: CheckContext, lines: list[Line]) -> KedaInstall | None:
    """The install whose logs show the timeouts (log sources are `logs/<namespace>/<pod>`), else the primary."""
    for install in ctx.chain.installs:
        if any(line.where.startswith(f"logs/{install.namespace}/") for line in lines):
            return install
    return ctx.chain.primary


def _timeout_ms(install: KedaInstall) -> tuple[int, str | None]:
    """Effective KEDA HTTP timeout; an empty or unparsable value means KEDA's 3 s default."""
    var = template_env(install).get(TIMEOUT_ENV)
    value = var.value if var else None
    text = (value or "").strip()
    return (int(text) if text.isdigit() else facts.KEDA_DEFAULT_HTTP_TIMEOUT_MS), value


@check("egress-or-timeout-to-entra", title="Token requests to Entra time out",
       stage=Stage.NETWORK, severity=Severity.CRITICAL, needs=(),
       fixes=("manual-network-egress", "operator-http-timeout"),
       docs=("https://keda.sh/docs/latest/operate/cluster/#http-timeouts",
             "https://learn.microsoft.com/azure/aks/outbound-rules-control-egress",
             "https://github.com/kedacore/keda/issues/4123"))
def egress_timeout(ctx: CheckContext) -> CheckResult:
    """`context deadline exceeded` towards login.microsoftonline.com: blocked egress or KEDA's 3 s timeout."""
    matches = _timeouts_to_entra(ctx)
    if not matches:
        return
    lines = [line for line, _ in matches]
    hosts = sorted({host for _, host in matches})
    install = _install_of(ctx, lines)
    evidence = [Evidence(line.where, "message", f"a token from {host}", _excerpt(line.text, host))
                for line, host in matches[-3:]]
    commands: list[str] = []
    fixes: list[str] = ["manual-network-egress"]
    fix_inputs: list[FixInput] = []
    objects: list[str] = []
    if install is not None:
        timeout, written = _timeout_ms(install)
        env = template_env(install)
        proxies = [f"{n}={shown(env[n].value)}" for n in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY") if n in env]
        evidence.append(Evidence(install.deployment.ref, f"env {TIMEOUT_ENV}", f">= {RAISED_TIMEOUT_MS} ms",
                                 f"{shown(written)} (effective {timeout} ms)"))
        if proxies:
            evidence.append(Evidence(install.deployment.ref, "env proxy settings",
                                     "login.microsoftonline.com reachable through the proxy", ", ".join(proxies)))
        if timeout < RAISED_TIMEOUT_MS:
            container = as_str(install.template_container.get("name")) or ""
            commands.append(ctx.command("kubectl-set-env", namespace=install.namespace, name=install.name,
                                        container=container, unset=[],
                                        set=[{"name": TIMEOUT_ENV, "value": str(RAISED_TIMEOUT_MS)}]))
            fixes.append("operator-http-timeout")
            fix_inputs.append(ctx.fix("operator-http-timeout", namespace=install.namespace, deployment=install.name,
                                      container=container, value=str(RAISED_TIMEOUT_MS)))
        objects.append(install.deployment.ref)
    yield ctx.finding(
        f"{len(lines)} operator log line(s) or event(s) show requests to the Entra authority timing out "
        f"(`context deadline exceeded` / `Client.Timeout exceeded`). Egress to {', '.join(hosts)} is "
        "blocked or slow (firewall, proxy, private cluster), or KEDA's HTTP timeout is too short. Allow the "
        "AKS required outbound rules and raise KEDA_HTTP_DEFAULT_TIMEOUT.",
        objects=objects, evidence=evidence, commands=commands, fixes=fixes, fix_inputs=fix_inputs)


def _wi_configured(install: KedaInstall) -> bool:
    labelled = install.template_labels.get(facts.WI_USE_LABEL) == "true"
    client = as_str(install.sa_annotations.get(facts.WI_CLIENT_ID)) or (
        template_env(install).get("AZURE_CLIENT_ID") is not None)
    return labelled and bool(client)


def _metrics_namespace(ctx: CheckContext) -> str | None:
    apiservice = ctx.snapshot.get("APIService", "", facts.EXTERNAL_METRICS_APISERVICE)
    return as_str(dig(apiservice.raw, "spec", "service", "namespace")) if apiservice else None


@check("multiple-keda-installs", title="More than one KEDA installation",
       stage=Stage.CLUSTER, severity=Severity.WARNING, needs=(), fixes=("manual-single-keda-install",),
       docs=("https://learn.microsoft.com/azure/aks/keda-about", AKS_KEDA_TROUBLESHOOTING))
def multiple_installs(ctx: CheckContext) -> CheckResult:
    """Only one external metrics server can be registered; WI set up on the other KEDA does nothing."""
    installs = ctx.chain.installs
    aks = ctx.chain.aks
    addon = aks is not None and aks.keda_addon_enabled is True
    self_installed = [i for i in installs if not i.is_aks_addon]
    addon_extra = addon and self_installed and not any(i.is_aks_addon for i in installs)
    if len(installs) < 2 and not addon_extra:
        return
    metrics_ns = _metrics_namespace(ctx)
    evidence = [Evidence(i.deployment.ref, "Workload Identity (pod label + client-id)", "configured on the one "
                         "serving metrics", ("configured" if _wi_configured(i) else "not configured")
                         + (", serves metrics" if i.serves_metrics else "")) for i in installs]
    if aks is not None and addon:
        evidence.append(Evidence(f"azure:{aks.resource.id}", "properties.workloadAutoScalerProfile.keda.enabled",
                                 "false while KEDA is self-installed", "true"))
    evidence.append(Evidence(f"APIService/{facts.EXTERNAL_METRICS_APISERVICE}", "spec.service.namespace",
                             "the namespace of the one KEDA you configure", shown(metrics_ns)))
    serving = next((i for i in installs if i.serves_metrics), None)
    configured_elsewhere = [i for i in installs if i is not serving and _wi_configured(i)]
    addon_serves = metrics_ns == "kube-system" and serving is None and addon
    broken = (serving is not None and not _wi_configured(serving) and bool(configured_elsewhere)) or (
        addon_serves and bool(configured_elsewhere))
    where = ", ".join(i.namespace for i in installs) + (" + the AKS add-on (kube-system)" if addon_extra else "")
    detail = (f"KEDA is installed more than once ({where}). Only one can serve external metrics; the "
              f"APIService points at {metrics_ns or 'an unknown namespace'}.")
    if broken:
        detail += (" Workload Identity is configured on " + ", ".join(i.namespace for i in configured_elsewhere)
                   + ", not on the KEDA that serves metrics, so its configuration is never used.")
    yield ctx.finding(detail, severity=Severity.CRITICAL if broken else Severity.WARNING,
                      objects=[i.deployment.ref for i in installs] + ([f"azure:{aks.resource.id}"] if addon_extra
                                                                       and aks else []),
                      evidence=evidence)
