"""Remediation ids with what each one changes. Ids are referenced by findings and never renamed."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Risk(IntEnum):
    """Lower is safer; approval policy is set per tier."""

    MANUAL = 0
    RESTART = 1
    PATCH = 2
    AZURE_RBAC = 3


@dataclass(frozen=True, slots=True)
class Remediation:
    id: str
    title: str
    risk: Risk
    automated: bool


_ALL = (
    Remediation("operator-pod-label", "Label the keda-operator pod template for Workload Identity", Risk.PATCH, True),
    Remediation("sa-annotate-client-id", "Annotate KEDA's ServiceAccount with the identity's clientId",
                Risk.PATCH, True),
    Remediation("sa-annotate-tenant-id", "Annotate KEDA's ServiceAccount with the identity's tenant",
                Risk.PATCH, True),
    Remediation("sa-annotate-token-expiration", "Set a valid token expiration on KEDA's ServiceAccount",
                Risk.PATCH, True),
    Remediation("operator-restart", "Restart the keda-operator so the webhook mutates a new pod",
                Risk.RESTART, True),
    Remediation("operator-remove-hardcoded-env", "Remove hard-coded AZURE_* env from the keda-operator",
                Risk.PATCH, True),
    Remediation("operator-http-timeout", "Raise KEDA_HTTP_DEFAULT_TIMEOUT on the keda-operator", Risk.PATCH, True),
    Remediation("fic-create", "Federate KEDA's ServiceAccount with the identity it uses", Risk.AZURE_RBAC, True),
    Remediation("role-assignment-create", "Grant the effective identity the data role on the target",
                Risk.AZURE_RBAC, True),
    Remediation("triggerauth-identityid-clientid", "Point identityId at the identity's clientId", Risk.PATCH, True),
    Remediation("triggerauth-identityid-remove-empty", "Remove the empty identityId", Risk.PATCH, True),
    Remediation("triggerauth-keyvault-podidentity", "Move Key Vault pod identity to azureKeyVault.podIdentity",
                Risk.PATCH, True),
    Remediation("scaledobject-authref", "Fix the trigger's authenticationRef", Risk.PATCH, True),
    Remediation("scaledobject-sb-namespace", "Set the Service Bus namespace short name on the trigger",
                Risk.PATCH, True),
    Remediation("manual-enable-workload-identity", "Enable Workload Identity (webhook) on the cluster",
                Risk.MANUAL, False),
    Remediation("manual-enable-oidc-issuer", "Enable the cluster's OIDC issuer", Risk.MANUAL, False),
    Remediation("manual-restore-webhook", "Restore the Workload Identity webhook", Risk.MANUAL, False),
    Remediation("manual-kube-system-webhook", "Let the webhook mutate kube-system, or move KEDA out",
                Risk.MANUAL, False),
    Remediation("manual-publish-oidc", "Make the OIDC discovery document reachable by Entra", Risk.MANUAL, False),
    Remediation("manual-wait-propagation", "Wait for Entra/RBAC propagation, then re-check", Risk.MANUAL, False),
    Remediation("manual-upgrade-keda", "Upgrade KEDA (and its CRDs)", Risk.MANUAL, False),
    Remediation("manual-migrate-pod-identity", "Migrate from AAD Pod Identity to Workload Identity",
                Risk.MANUAL, False),
    Remediation("manual-network-egress", "Allow egress to Entra ID", Risk.MANUAL, False),
    Remediation("manual-fix-trigger-metadata", "Correct the trigger metadata", Risk.MANUAL, False),
    Remediation("manual-single-keda-install", "Keep one KEDA installation", Risk.MANUAL, False),
    Remediation("manual-sovereign-cloud", "Align the trigger cloud and the authority host", Risk.MANUAL, False),
    Remediation("manual-tenant", "Align the tenant of the identity and KEDA", Risk.MANUAL, False),
    Remediation("manual-recreated-identity", "Re-point everything at the recreated identity", Risk.MANUAL, False),
)

CATALOGUE: dict[str, Remediation] = {r.id: r for r in _ALL}


def get(remediation_id: str) -> Remediation:
    try:
        return CATALOGUE[remediation_id]
    except KeyError:
        raise KeyError(f"unknown remediation id: {remediation_id}") from None
