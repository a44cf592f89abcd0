"""Log lines and Events that corroborate a finding (its symptoms), so they rank, not duplicate, causes.

A missing pod label is the root cause; `sources must contain at least one TokenCredential` in the
operator log is its symptom, shown as evidence under that finding rather than as a second problem.
"""

from __future__ import annotations

from collections.abc import Iterator

from bot.diagnosis.chain import Line

_TOKEN_CHAIN = ("sources must contain at least one TokenCredential",
                "error starting azure workload-identity token provider")
_FIC = ("AADSTS70021", "AADSTS700213", "AADSTS70025", "No matching federated identity record")

SIGNATURES: dict[str, tuple[str, ...]] = {
    "wi-pod-label-missing": (*_TOKEN_CHAIN, "no client ID specified", "no token file specified",
                             "error reading service account token"),
    "wi-sa-clientid-missing": (*_TOKEN_CHAIN, "no client ID specified"),
    "wi-pod-stale-not-restarted": (*_TOKEN_CHAIN, "no client ID specified", "AADSTS700016"),
    "wi-webhook-absent": _TOKEN_CHAIN,
    "wi-webhook-unavailable": ('failed calling webhook "mutation.azure-workload-identity.io"',
                               "no endpoints available for service", *_TOKEN_CHAIN),
    "wi-kube-system-excluded": _TOKEN_CHAIN,
    "wi-env-hardcoded-stale": ("AADSTS700016", "azure-identity-token: no such file or directory"),
    "wi-token-expiration-invalid": ("token expiration", "Expected value to be between 3600 and 86400"),
    "fic-missing-keda-sa": _FIC,
    "fic-missing-override-identity": _FIC,
    "fic-subject-wrong-namespace-or-sa": (*_FIC, "Assertion Subject"),
    "fic-issuer-mismatch": ("AADSTS700211", "AADSTS70021", "Assertion Issuer"),
    "oidc-issuer-not-enabled": ("kubernetes.default.svc.cluster.local", "AADSTS70021"),
    "fic-audience-mismatch": ("AADSTS700212",),
    "fic-propagation-delay": _FIC,
    "oidc-endpoint-unreachable": ("AADSTS90061",),
    "identityid-not-clientid": ("AADSTS700016",),
    "identity-recreated-drift": ("AADSTS700016", *_FIC),
    "tenant-mismatch": ("AADSTS700016", "AADSTS90002"),
    "sovereign-cloud-authority-mismatch": ("AADSTS90002", "AADSTS500011", "AADSTS900382"),
    "rbac-role-missing": ("Manage,EntityRead claims required", "AuthorizationPermissionMismatch",
                          "This request is not authorized to perform this operation"),
    "rbac-role-insufficient-sb": ("Manage,EntityRead claims required",),
    "rbac-wrong-principal-or-scope": ("Manage,EntityRead claims required", "AuthorizationPermissionMismatch"),
    "rbac-propagation-delay": ("Manage,EntityRead claims required", "AuthorizationPermissionMismatch"),
    "sb-namespace-metadata": ("namespace are required when using pod identity", "no such host"),
    "sb-entity-metadata": ("subscription name provided with queue name",
                           "both topic and queue name metadata provided",
                           "no subscription name provided with topic name", "doesn't exist",
                           "no service bus entity type set"),
    "authref-unresolved": ("error getting triggerAuth", "no connection setting given"),
    "provider-azure-removed": ('Unsupported value: "azure"', "169.254.169.254", "no azure identity found",
                               "Identity not found"),
    "identityid-empty-string": ("IdentityID of PodIdentity should not be empty",
                                "identityId of PodIdentity should not be empty"),
    "crd-enum-mismatch-none": ('Unsupported value: "none"', "Failed to update TriggerAuthenticationStatus"),
    "keyvault-podidentity-location": ("clientID, tenantID and clientSecret are expected",
                                      "error trying to read secret from Azure Key Vault"),
    "keda-2.9.x-regressions": ("AzureCLICredential: fork/exec /bin/sh",),
    "egress-or-timeout-to-entra": ("context deadline exceeded", "Client.Timeout exceeded"),
    "eventhub-storage-auth-fallback": ("no 'storageAccountName' provided",
                                       "no storage connection string or storage account name"),
    "multiple-keda-installs": ("timeout while waiting to establish gRPC connection",),
    "expect-workload-identity-reuse": _FIC,
}
MAX_SYMPTOMS = 3


def symptoms_for(finding_id: str, lines: tuple[Line, ...]) -> Iterator[str]:
    needles = [n.lower() for n in SIGNATURES.get(finding_id, ())]
    if not needles:
        return
    shown = 0
    seen: set[str] = set()
    for line in reversed(lines):
        lower = line.text.lower()
        if any(n in lower for n in needles):
            text = line.text.strip()
            if text in seen:
                continue
            seen.add(text)
            yield f"{line.where}: {text[:400]}"
            shown += 1
            if shown >= MAX_SYMPTOMS:
                return
