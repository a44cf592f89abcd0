"""What the installed permissions let keda-auth do: each Kubernetes read the checks make and each write a fix
makes, asked of the API server itself (SelfSubjectAccessReview), and the Azure writes asked of the ARM
permissions API. Shared by `keda-auth whoami` and `/keda-auth whoami`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.live import kube_collect as kc
from bot.live.options import LiveOptions

READS = (kc.DEPLOYMENT, kc.SERVICE_ACCOUNT, kc.EVENT, kc.NODE, kc.WEBHOOK_CONFIG, kc.CRD,
         kc.SCALED_OBJECT, kc.SCALED_JOB, kc.TRIGGER_AUTH, kc.CLUSTER_TRIGGER_AUTH)
# (group, plural, name or None for any, in the KEDA namespace?, the fixes that need it)
WRITES = (("apps", "deployments", "keda-operator", True,
           "operator-pod-label, operator-restart, operator-remove-hardcoded-env, operator-http-timeout"),
          ("", "serviceaccounts", "keda-operator", True,
           "sa-annotate-client-id, sa-annotate-tenant-id, sa-annotate-token-expiration"),
          (kc.KEDA_GROUP, "triggerauthentications", None, False,
           "triggerauth-identityid-clientid, triggerauth-identityid-remove-empty, triggerauth-keyvault-podidentity"),
          (kc.KEDA_GROUP, "scaledobjects", None, False, "scaledobject-authref, scaledobject-sb-namespace"))
AZURE_WRITES = (("Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write", "fic-create"),
                ("Microsoft.Authorization/roleAssignments/write", "role-assignment-create"),
                ("Microsoft.ManagedIdentity/userAssignedIdentities/read", "reading identities (all Azure checks)"))


@dataclass(frozen=True)
class Permission:
    allowed: bool
    what: str  # "list pods (all namespaces)"
    enables: str  # what it is for: "checks" or the fix ids


def _review(api: Any, verb: str, group: str, plural: str, namespace: str | None, name: str | None) -> bool:
    attributes = {"verb": verb, "group": group, "resource": plural}
    if namespace:
        attributes["namespace"] = namespace
    if name:
        attributes["name"] = name
    review = api.create_self_subject_access_review({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attributes}})
    return bool(review.status.allowed)


def kubernetes(api_client: Any, keda_namespace: str = "keda") -> list[Permission]:
    from kubernetes import client as k8s

    api = k8s.AuthorizationV1Api(api_client)
    found = [Permission(_review(api, "list", kind.group, kind.plural, None, None),
                        f"list {kind.plural} (all namespaces)", "checks") for kind in READS]
    # Asked exactly as the collection reads them: one APIService by name, the operator's pods and their logs in
    # KEDA's namespace. A broader question would call a least-privilege install short of rights.
    from bot.diagnosis.facts import EXTERNAL_METRICS_APISERVICE

    found.append(Permission(_review(api, "list", kc.API_SERVICE.group, kc.API_SERVICE.plural, None,
                                    EXTERNAL_METRICS_APISERVICE),
                            f"list apiservices/{EXTERNAL_METRICS_APISERVICE}", "checks"))
    found.append(Permission(_review(api, "list", "", "pods", keda_namespace, None), f"list pods in {keda_namespace}",
                            "checks"))
    found.append(Permission(_review(api, "get", "", "pods/log", keda_namespace, None),
                            f"get pods/log in {keda_namespace}", "log symptoms"))
    found.append(Permission(_review(api, "list", "", "secrets", None, None), "list secrets (never needed)",
                            "nothing: keda-auth never reads Secrets"))
    for group, plural, name, in_keda, fixes in WRITES:
        namespace = keda_namespace if in_keda else None
        where = f"{plural}/{name} in {namespace}" if name else f"{plural} (all namespaces)"
        found.append(Permission(_review(api, "patch", group, plural, namespace, name), f"patch {where}", fixes))
    return found


def azure(arm: Any, scopes: tuple[str, ...]) -> list[Permission]:
    found: list[Permission] = []
    for scope in scopes:
        missing = set(arm.missing_actions(scope, [a for a, _ in AZURE_WRITES]))
        found.extend(Permission(action not in missing, f"{action} at {scope}", enables)
                     for action, enables in AZURE_WRITES)
    return found


@dataclass(frozen=True)
class Answers:
    context: str
    kubernetes: list[Permission]
    azure: list[Permission] | None  # None: no subscription to ask about

    @property
    def complete(self) -> bool:
        """Everything a check or fix needs is granted (reading Secrets is never needed)."""
        return all(p.allowed for p in self.kubernetes + (self.azure or []) if not p.what.startswith("list secrets"))


def ask(options: LiveOptions, keda_namespace: str, credential: Any = None) -> Answers:
    """The questions of `keda-auth whoami` and `/keda-auth whoami`, asked with these options' credentials."""
    from bot.live.kube_config import connect

    connection = connect(options.kubeconfig, options.context)
    try:
        kube = kubernetes(connection.api_client, keda_namespace)
    finally:
        connection.api_client.close()
    if not (options.azure and options.subscriptions):
        return Answers(connection.context, kube, None)
    from bot.execute.arm_api import ArmApi
    from bot.live.session import default_credential

    arm = ArmApi(credential or default_credential(options), base_url=options.arm_endpoint,
                 connection_verify=options.connection_verify)
    scopes = tuple(f"/subscriptions/{s}" for s in options.subscriptions)
    try:
        return Answers(connection.context, kube, azure(arm, scopes))
    finally:
        arm.close()


def render(permissions: list[Permission], *, markdown: bool = False) -> str:
    lines = []
    for p in permissions:
        good = not p.allowed if p.what.startswith("list secrets") else p.allowed  # reading Secrets is the flaw
        if markdown:
            mark = "✅" if good else ("⚠️" if p.allowed else "❌")
        else:
            mark = "yes" if p.allowed and good else ("!!" if p.allowed else ("ok" if good else "no"))
        lines.append(f"{mark:<3} {p.what} — {p.enables}")
    return "\n".join(lines)
