"""The operator pod's Workload Identity injection (failure modes 1-8)."""

from __future__ import annotations

from bot.diagnosis import facts
from bot.diagnosis.chain import EnvVar, KedaInstall
from bot.diagnosis.checks.common import (
    pod_container_name,
    relevant_installs,
    shown,
    template_env,
    token_mount_path,
    token_volume,
)
from bot.diagnosis.findings import Evidence, FixInput, MissingInput, Severity, Stage
from bot.diagnosis.registry import CheckContext, CheckResult, check
from bot.snapshot.frozen import as_mapping, as_seq, as_str, dig
from bot.snapshot.timeutil import iso, parse_time

AWI_TROUBLESHOOTING = "https://azure.github.io/azure-workload-identity/docs/troubleshooting.html"
KEDA_WI_DOC = "https://keda.sh/docs/latest/authentication-providers/azure-ad-workload-identity/"
AKS_KEDA_WI = "https://learn.microsoft.com/azure/aks/keda-workload-identity"


def _restart(ctx: CheckContext, install: KedaInstall) -> str:
    return ctx.command("kubectl-rollout-restart", namespace=install.namespace, name=install.name)


def _restart_fix(ctx: CheckContext, install: KedaInstall) -> FixInput:
    return ctx.fix("operator-restart", namespace=install.namespace, deployment=install.name)


def _sa_ref(install: KedaInstall) -> str:
    return f"ServiceAccount/{install.namespace}/{install.service_account_name}"


@check("wi-pod-label-missing", title="Operator pod template lacks the Workload Identity label",
       stage=Stage.INJECTION, severity=Severity.CRITICAL, needs=("Deployment",),
       fixes=("operator-pod-label",),
       docs=(AWI_TROUBLESHOOTING, "https://github.com/kedacore/charts/pull/328"))
def pod_label_missing(ctx: CheckContext) -> CheckResult:
    """The webhook (v1.0+) mutates only pods labelled azure.workload.identity/use=true."""
    for install in relevant_installs(ctx.chain):
        value = install.template_labels.get(facts.WI_USE_LABEL)
        if value == "true":
            continue
        evidence = [Evidence(install.deployment.ref, f"spec.template.metadata.labels[{facts.WI_USE_LABEL}]",
                             '"true"', shown(value))]
        env = ctx.chain.pod_env(install)
        if env is not None:
            absent = [name for name in facts.WI_ENV if name not in env]
            evidence.append(Evidence(install.running_pods[0].ref, "spec.containers[keda-operator].env",
                                     ", ".join(facts.WI_ENV), "missing " + ", ".join(absent) if absent
                                     else "present"))
        patch = {"spec": {"template": {"metadata": {"labels": {facts.WI_USE_LABEL: "true"}}}}}
        yield ctx.finding(
            f"The keda-operator pod template in namespace {install.namespace} does not carry "
            f"`{facts.WI_USE_LABEL}: \"true\"`, so the Workload Identity webhook never injects "
            "AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE or the token volume. KEDA then "
            "has no credential: `sources must contain at least one TokenCredential`.",
            objects=[install.deployment.ref], evidence=evidence,
            commands=[ctx.command("kubectl-patch", namespace=install.namespace, kind="deployment",
                                  name=install.name, patch_type="merge", patch=patch)],
            fix_inputs=[ctx.fix("operator-pod-label", namespace=install.namespace, deployment=install.name),
                        _restart_fix(ctx, install)],
        )


@check("wi-sa-clientid-missing", title="KEDA's ServiceAccount has no client-id annotation",
       stage=Stage.INJECTION, severity=Severity.CRITICAL, needs=("Deployment",),
       fixes=("sa-annotate-client-id", "operator-restart"),
       docs=(AKS_KEDA_WI, "https://github.com/Azure/AKS/issues/5243"))
def sa_clientid_missing(ctx: CheckContext) -> CheckResult:
    """Without the annotation the webhook injects no AZURE_CLIENT_ID; triggers without identityId fail."""
    chain = ctx.chain
    for install in relevant_installs(chain):
        if install.service_account is None:
            yield MissingInput(f"the ServiceAccount {install.namespace}/{install.service_account_name}",
                               f"kubectl get serviceaccount -n {install.namespace} "
                               f"{install.service_account_name} -o yaml > kubernetes/keda-sa.yaml",
                               "to read its Workload Identity annotations")
            continue
        value = as_str(install.sa_annotations.get(facts.WI_CLIENT_ID))
        if value:
            continue
        hardcoded = template_env(install).get("AZURE_CLIENT_ID")
        if hardcoded is not None and hardcoded.value:
            continue  # the Deployment sets it explicitly; wi-env-hardcoded-stale judges that
        relying = [t for t in chain.wi_triggers if not t.pod_identity.get("identityId")]
        severity = Severity.CRITICAL if relying or not chain.wi_triggers else Severity.WARNING
        candidates = [i for i in chain.snapshot.identities
                      if any(f.subject == install.subject for f in chain.snapshot.fics_of(i.id))]
        client_id = candidates[0].client_id if len(candidates) == 1 else "<clientId of KEDA's identity>"
        detail = (f"ServiceAccount {install.namespace}/{install.service_account_name} has no "
                  f"`{facts.WI_CLIENT_ID}` annotation, so the operator pod gets no AZURE_CLIENT_ID: "
                  "`no client ID specified`, then `sources must contain at least one TokenCredential`.")
        if relying:
            detail += f" {len(relying)} trigger(s) rely on the default identity: " + ", ".join(
                t.ref for t in relying[:5]) + "."
        elif chain.wi_triggers:
            detail += " Every trigger overrides the identity with identityId, so scaling works for now."
        yield ctx.finding(
            detail, severity=severity, objects=[install.service_account.ref, *(t.owner.ref for t in relying)],
            evidence=[Evidence(install.service_account.ref, f"metadata.annotations[{facts.WI_CLIENT_ID}]",
                               "the clientId of KEDA's managed identity", shown(value))],
            commands=[ctx.command("kubectl-annotate", namespace=install.namespace, kind="serviceaccount",
                                  name=install.service_account_name, key=facts.WI_CLIENT_ID,
                                  value=client_id), _restart(ctx, install)],
            fix_inputs=[ctx.fix("sa-annotate-client-id", namespace=install.namespace,
                                service_account=install.service_account_name, client_id=client_id),
                        _restart_fix(ctx, install)] if len(candidates) == 1 else [],
        )


def _annotation_changed_at(install: KedaInstall) -> str | None:
    """When the SA's annotations were last written, from managedFields."""
    sa = install.service_account
    if sa is None:
        return None
    newest = None
    for entry in as_seq(sa.metadata.get("managedFields")):
        fields = as_mapping(dig(entry, "fieldsV1", "f:metadata", "f:annotations"))
        if any(k.startswith("f:azure.workload.identity/") for k in fields):
            when = parse_time(as_mapping(entry).get("time"))
            if when and (newest is None or when > newest):
                newest = when
    return iso(newest) if newest else None


@check("wi-pod-stale-not-restarted", title="Operator pod predates its Workload Identity configuration",
       stage=Stage.INJECTION, severity=Severity.CRITICAL, needs=("Deployment", "Pod"),
       fixes=("operator-restart",),
       docs=("https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/extensions/"
             "troubleshoot-kubernetes-event-driven-autoscaling-add-on",))
def pod_stale(ctx: CheckContext) -> CheckResult:
    """The webhook mutates on CREATE only; a pod created before the label/annotation never got the env."""
    for install in relevant_installs(ctx.chain):
        if install.template_labels.get(facts.WI_USE_LABEL) != "true":
            continue  # wi-pod-label-missing is the cause; a restart alone would not help
        annotated = as_str(install.sa_annotations.get(facts.WI_CLIENT_ID))
        template = template_env(install)
        for pod in install.running_pods:
            env = ctx.chain.pod_env(install) or {}
            evidence: list[Evidence] = []
            if pod.labels.get(facts.WI_USE_LABEL) != "true":
                evidence.append(Evidence(pod.ref, f"metadata.labels[{facts.WI_USE_LABEL}]", '"true"',
                                         shown(pod.labels.get(facts.WI_USE_LABEL))))
            if "AZURE_FEDERATED_TOKEN_FILE" not in env and "AZURE_FEDERATED_TOKEN_FILE" not in template:
                evidence.append(Evidence(pod.ref, f"spec.containers[{pod_container_name(pod)}].env",
                                         "AZURE_FEDERATED_TOKEN_FILE (injected)", "missing"))
            pod_client = env.get("AZURE_CLIENT_ID")
            if annotated and "AZURE_CLIENT_ID" not in template:
                actual = pod_client.value if pod_client else None
                if actual != annotated:
                    evidence.append(Evidence(pod.ref, "env AZURE_CLIENT_ID",
                                             f"{annotated} (from the SA annotation)", shown(actual)))
            if not evidence:
                continue
            changed = _annotation_changed_at(install)
            created = pod.created
            detail = (f"Pod {pod.name} was created {iso(created) if created else 'at an unknown time'}"
                      + (f", before the ServiceAccount annotations changed at {changed}" if changed else "")
                      + ". The webhook only mutates pods at creation, so this pod runs without the "
                        "current Workload Identity settings. Restarting the operator is the fix.")
            yield ctx.finding(detail, objects=[pod.ref, install.deployment.ref], evidence=evidence,
                              commands=[_restart(ctx, install)], fix_inputs=[_restart_fix(ctx, install)])
            break  # one finding per install: the restart replaces every pod


def _webhook_namespaces(ctx: CheckContext) -> set[str]:
    namespaces = set()
    for mwc in ctx.chain.webhook_configs:
        for hook in as_seq(mwc.raw.get("webhooks")):
            ns = as_str(dig(hook, "clientConfig", "service", "namespace"))
            if ns:
                namespaces.add(ns)
    return namespaces


@check("wi-webhook-absent", title="The Azure Workload Identity webhook is not installed or enabled",
       stage=Stage.CLUSTER, severity=Severity.CRITICAL, needs=(),
       fixes=("manual-enable-workload-identity",),
       docs=("https://learn.microsoft.com/azure/aks/workload-identity-deploy-cluster",
             "https://github.com/kedacore/keda-docs/issues/1124"))
def webhook_absent(ctx: CheckContext) -> CheckResult:
    """No mutating webhook means no injection at all, whatever the labels say."""
    chain = ctx.chain
    if not chain.wi_in_use or chain.webhook_configs:
        return
    aks = chain.aks
    collected = ctx.snapshot.has_kind("MutatingWebhookConfiguration")
    aks_disabled = aks is not None and aks.workload_identity_enabled is False
    if not collected and not aks_disabled:
        yield MissingInput("the mutating webhook configurations",
                           "kubectl get mutatingwebhookconfigurations -o yaml > kubernetes/webhooks.yaml",
                           "to see whether the Workload Identity webhook is installed")
        return
    evidence = []
    if collected:
        evidence.append(Evidence("cluster", f"MutatingWebhookConfiguration/{facts.WEBHOOK_CONFIG_NAME}",
                                 f"present (webhook {facts.WEBHOOK_NAME})", "absent"))
    commands = []
    if aks is not None:
        evidence.append(Evidence(f"azure:{aks.resource.id}", "properties.securityProfile.workloadIdentity.enabled",
                                 "true", shown(aks.workload_identity_enabled)))
        commands.append(ctx.command("az-aks-update", resource_group=aks.resource_group, cluster=aks.name,
                                    flags=["--enable-oidc-issuer", "--enable-workload-identity"]))
    else:
        commands.append("helm install workload-identity-webhook azure-workload-identity/workload-identity-webhook"
                        " --namespace azure-workload-identity-system --create-namespace"
                        " --set azureTenantID=<tenant-id>")
    for install in chain.installs:
        commands.append(_restart(ctx, install))
    yield ctx.finding(
        "KEDA is configured for `azure-workload` but the cluster has no Azure Workload Identity mutating "
        "webhook" + (" and AKS reports workload identity disabled" if aks_disabled else "")
        + ": nothing injects the token or the AZURE_* variables into the operator pod.",
        objects=[f"azure:{aks.resource.id}"] if aks else [], evidence=evidence, commands=commands)


_WEBHOOK_FAILURES = ('failed calling webhook "mutation.azure-workload-identity.io"',
                     "failed calling webhook \\\"mutation.azure-workload-identity.io\\\"")


@check("wi-webhook-unavailable", title="The Workload Identity webhook is not answering",
       stage=Stage.CLUSTER, severity=Severity.CRITICAL, needs=(),
       fixes=("manual-restore-webhook",),
       docs=("https://github.com/Azure/AKS/issues/4139", AWI_TROUBLESHOOTING))
def webhook_unavailable(ctx: CheckContext) -> CheckResult:
    """FailedCreate events calling the webhook, a webhook Deployment with no ready pods, or no endpoints."""
    chain = ctx.chain
    if not chain.wi_in_use or not chain.webhook_configs:
        return
    evidence: list[Evidence] = []
    objects: list[str] = []
    for event in ctx.snapshot.of_kind("Event"):
        message = as_str(event.raw.get("message")) or as_str(event.raw.get("note")) or ""
        if "mutation.azure-workload-identity.io" in message and "fail" in message.lower():
            involved = as_mapping(event.raw.get("involvedObject") or event.raw.get("regarding"))
            ref = f"{involved.get('kind', '?')}/{involved.get('namespace', event.namespace)}/{involved.get('name')}"
            evidence.append(Evidence(ref, f"Event {event.raw.get('reason', '')}", "pods created",
                                     message[:300]))
            objects.append(ref)
    namespaces = _webhook_namespaces(ctx)
    for deploy in ctx.snapshot.of_kind("Deployment"):
        is_webhook = deploy.name.startswith("azure-wi-webhook") or deploy.labels.get(
            "azure-workload-identity.io/system") == "true"
        if deploy.namespace in namespaces and is_webhook:
            ready = deploy.status.get("readyReplicas") or 0
            if deploy.spec.get("replicas", 1) and not ready:
                evidence.append(Evidence(deploy.ref, "status.readyReplicas", ">= 1", shown(ready)))
                objects.append(deploy.ref)
    for endpoints in ctx.snapshot.of_kind("Endpoints"):
        if endpoints.name == facts.WEBHOOK_SERVICE and endpoints.namespace in namespaces:
            ready = [a for s in as_seq(endpoints.raw.get("subsets")) for a in as_seq(as_mapping(s).get("addresses"))]
            if not ready:
                evidence.append(Evidence(endpoints.ref, "subsets[].addresses", "at least one", "none"))
                objects.append(endpoints.ref)
    if not evidence:
        return
    commands = [f"kubectl -n {ns} get pods,endpoints -l azure-workload-identity.io/system=true"
                for ns in sorted(namespaces)]
    commands += [_restart(ctx, i) for i in chain.installs]
    yield ctx.finding(
        "The Azure Workload Identity webhook is failing: with `failurePolicy: Fail` new operator pods cannot "
        "be created, with the old `Ignore` policy they start without the injected credentials. Restore the "
        "webhook, then restart the operator.",
        objects=objects, evidence=evidence, commands=commands)


@check("wi-kube-system-excluded", title="AKS skips the self-managed webhook in kube-system",
       stage=Stage.CLUSTER, severity=Severity.CRITICAL, needs=("Deployment",),
       fixes=("manual-kube-system-webhook",),
       docs=("https://azure.github.io/azure-workload-identity/docs/known-issues.html",))
def kube_system_excluded(ctx: CheckContext) -> CheckResult:
    """The AKS admissions enforcer keeps custom webhooks out of kube-system unless opted out."""
    chain = ctx.chain
    is_aks = chain.aks is not None or any(
        "kubernetes.azure.com/cluster" in n.labels for n in ctx.snapshot.of_kind("Node"))
    if not is_aks:
        return
    for install in relevant_installs(chain):
        if install.namespace != "kube-system":
            continue
        for mwc in chain.webhook_configs:
            namespaces = {as_str(dig(h, "clientConfig", "service", "namespace")) for h in
                          as_seq(mwc.raw.get("webhooks"))}
            if "kube-system" in namespaces:
                continue  # the AKS-managed webhook runs in kube-system and is not excluded
            opted_out = (mwc.labels.get(facts.ADMISSIONS_ENFORCER_DISABLED) == "true"
                         or mwc.annotations.get(facts.ADMISSIONS_ENFORCER_DISABLED) == "true")
            if opted_out:
                continue
            yield ctx.finding(
                f"KEDA runs in kube-system and the Workload Identity webhook is self-managed (in "
                f"{', '.join(sorted(n for n in namespaces if n))}). AKS's admissions enforcer excludes "
                "kube-system from custom webhooks, so the operator pod is never mutated.",
                objects=[mwc.ref, install.deployment.ref],
                evidence=[Evidence(mwc.ref, f"metadata.labels[{facts.ADMISSIONS_ENFORCER_DISABLED}]", '"true"',
                                   shown(mwc.labels.get(facts.ADMISSIONS_ENFORCER_DISABLED)))],
                commands=[f"kubectl label mutatingwebhookconfiguration {mwc.name} "
                          f"{facts.ADMISSIONS_ENFORCER_DISABLED}=true --overwrite", _restart(ctx, install)])


@check("wi-env-hardcoded-stale", title="Hard-coded AZURE_* env in the operator shadows the webhook",
       stage=Stage.INJECTION, severity=Severity.CRITICAL, needs=("Deployment",),
       fixes=("operator-remove-hardcoded-env",),
       docs=("https://github.com/Azure/azure-workload-identity/blob/main/pkg/webhook/webhook.go",))
def env_hardcoded(ctx: CheckContext) -> CheckResult:
    """The webhook adds env vars only if absent; values written in the Deployment win and go stale."""
    for install in relevant_installs(ctx.chain):
        env = template_env(install)
        present = [env[n] for n in facts.WI_ENV if n in env]
        if not present:
            continue
        expected: dict[str, str | None] = {
            "AZURE_CLIENT_ID": as_str(install.sa_annotations.get(facts.WI_CLIENT_ID)),
            "AZURE_TENANT_ID": as_str(install.sa_annotations.get(facts.WI_TENANT_ID)),
        }
        pod = install.running_pods[0] if install.running_pods else None
        volume = token_volume(pod) if pod else None
        if pod and volume:
            expected["AZURE_FEDERATED_TOKEN_FILE"] = token_mount_path(pod, volume[0])
        evidence = []
        stale = False
        for var in present:
            want = expected.get(var.name)
            actual = "(valueFrom)" if var.from_ref else shown(var.value)
            if want and var.value is not None and var.value != want:
                stale = True
            evidence.append(Evidence(install.deployment.ref,
                                     f"spec.template.spec.containers[keda-operator].env[{var.name}]",
                                     f"not set (the webhook injects {want})" if want else
                                     "not set (the webhook injects it)", actual))
        names = [v.name for v in present]
        yield ctx.finding(
            "The keda-operator Deployment sets " + ", ".join(names) + " itself. The webhook never overrides "
            "an existing variable, so these values win over the ServiceAccount annotation and the injected "
            "token path" + (" — and they already disagree with it." if stale else
                            "; they will go stale on the next identity or webhook change."),
            severity=Severity.CRITICAL if stale else Severity.WARNING,
            objects=[install.deployment.ref], evidence=evidence,
            commands=[ctx.command("kubectl-set-env", namespace=install.namespace, name=install.name,
                                  container=as_str(install.template_container.get("name")) or "",
                                  set=[], unset=names)],
            fix_inputs=_hardcoded_env_fixes(ctx, install, present))


def _hardcoded_env_fixes(ctx: CheckContext, install: KedaInstall, present: list[EnvVar]) -> list[FixInput]:
    """Remove the variables; a literal clientId or tenant the ServiceAccount lacks moves to its annotation
    first, so removing the variable never leaves the operator with no identity at all."""
    fixes = []
    moved = {"AZURE_CLIENT_ID": ("sa-annotate-client-id", facts.WI_CLIENT_ID, "client_id"),
             "AZURE_TENANT_ID": ("sa-annotate-tenant-id", facts.WI_TENANT_ID, "tenant_id")}
    for var in present:
        if var.name not in moved:
            continue
        remediation, annotation, param = moved[var.name]
        if as_str(install.sa_annotations.get(annotation)):
            continue
        if var.from_ref or not var.value:
            return []  # its value is not ours to read: a person must decide
        fixes.append(ctx.fix(remediation, namespace=install.namespace,
                             service_account=install.service_account_name, **{param: var.value}))
    container = as_str(install.template_container.get("name")) or ""
    fixes.append(ctx.fix("operator-remove-hardcoded-env", namespace=install.namespace, deployment=install.name,
                         container=container, names=",".join(v.name for v in present)))
    return [*fixes, _restart_fix(ctx, install)]


@check("wi-token-expiration-invalid", title="Token expiration annotation outside 3600-86400",
       stage=Stage.INJECTION, severity=Severity.CRITICAL, needs=("Deployment",),
       fixes=("sa-annotate-token-expiration", "operator-restart"),
       docs=("https://azure.github.io/azure-workload-identity/docs/topics/service-account-labels-and-annotations.html",))
def token_expiration(ctx: CheckContext) -> CheckResult:
    """The webhook rejects pods whose token expiration is out of range: the operator cannot start."""
    low, high = facts.TOKEN_EXPIRATION_RANGE
    for install in relevant_installs(ctx.chain):
        sources = []
        if install.service_account is not None:
            sources.append((install.service_account.ref, "metadata.annotations",
                            install.sa_annotations.get(facts.WI_TOKEN_EXPIRATION)))
        sources.append((install.deployment.ref, "spec.template.metadata.annotations",
                        install.template_annotations.get(facts.WI_TOKEN_EXPIRATION)))
        for ref, path, value in sources:
            if value is None:
                continue
            text = str(value).strip()
            valid = text.isdigit() and low <= int(text) <= high
            if valid:
                continue
            yield ctx.finding(
                f"`{facts.WI_TOKEN_EXPIRATION}` is {text!r}; the webhook accepts {low}-{high} seconds and "
                f"otherwise denies the pod (`token expiration {text} not valid. Expected value to be between "
                f"{low} and {high}`), so no new operator pod can be created.",
                objects=[ref], evidence=[Evidence(ref, f"{path}[{facts.WI_TOKEN_EXPIRATION}]",
                                                  f"{low}..{high}", text)],
                commands=[ctx.command("kubectl-annotate", namespace=install.namespace,
                                      kind="serviceaccount", name=install.service_account_name,
                                      key=facts.WI_TOKEN_EXPIRATION, value="3600"),
                          _restart(ctx, install)],
                fix_inputs=[ctx.fix("sa-annotate-token-expiration", namespace=install.namespace,
                                    kind=ref.split("/", 1)[0], name=ref.rsplit("/", 1)[-1], value="3600",
                                    service_account=install.service_account_name),
                            _restart_fix(ctx, install)])
