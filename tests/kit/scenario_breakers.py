"""One breaker per failure mode a keda-auth fix can repair: each breaks one link of a healthy `Scenario`
through the public APIs (the Kubernetes client, the Azure management clients, ARM REST), as a person or a
pipeline would, so that a live check reports that failure mode.

Where a breaker needs a second identity or namespace to break its link (an override identity, another
principal), that extra part is healthy and settled, so the one broken link is the only thing wrong.
Natural consequences that the checks also report are listed in `CONSEQUENCES`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.kit.scenario import (
    TOKEN_AUDIENCE,
    WI_CLIENT_ID,
    WI_TENANT_ID,
    WI_TOKEN_EXPIRATION,
    WI_USE_LABEL,
    ManagedIdentity,
    Scenario,
)
from tests.kit.seed import container_env

SB_DATA_RECEIVER = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"
SB_DATA_OWNER = "090c5cfd-751d-490a-894a-3ce6f1109419"
OTHER_NAMESPACE = "keda"  # where the Helm chart installs KEDA: the usual wrong FIC subject


def _env_lacks(name: str) -> Callable[[Any], None]:
    def check(pod: Any) -> None:
        assert name not in container_env(pod), f"{name} still injected"

    return check


def _env_is(name: str, value: str) -> Callable[[Any], None]:
    def check(pod: Any) -> None:
        assert container_env(pod).get(name) == value, f"{name} is {container_env(pod).get(name)}"

    return check


def ready_identity(sc: Scenario, prefix: str, *, federated: bool, granted: bool) -> ManagedIdentity:
    """A second identity, federated with KEDA's ServiceAccount and/or Data Owner on the namespace, settled."""
    identity = sc.add_identity(prefix)
    if federated:
        sc.federate(identity)
    if granted:
        sc.grant(identity.principal_id)
    sc.settle()
    return identity


# -- the operator pod and its ServiceAccount
def pod_label_missing(sc: Scenario) -> None:
    """The pod template loses `azure.workload.identity/use`: the new pod is not mutated."""
    sc.patch_operator({"spec": {"template": {"metadata": {"labels": {WI_USE_LABEL: None}}}}})
    sc.wait_for_operator(_env_lacks("AZURE_FEDERATED_TOKEN_FILE"))


def sa_clientid_missing(sc: Scenario) -> None:
    """The SA loses its client-id annotation, and the restarted pod gets no AZURE_CLIENT_ID."""
    sc.patch_service_account({WI_CLIENT_ID: None})
    sc.restart_operator()
    sc.wait_for_operator(_env_lacks("AZURE_CLIENT_ID"))


def pod_stale_not_restarted(sc: Scenario) -> None:
    """The SA is pointed at another (working) identity; the running pod still has the old AZURE_CLIENT_ID."""
    successor = ready_identity(sc, "kat-next", federated=True, granted=True)
    sc.patch_service_account({WI_CLIENT_ID: successor.client_id})


def env_hardcoded_stale(sc: Scenario) -> None:
    """The Deployment hard-codes the clientId of a previous identity (still working); the webhook never
    overrides it, so the SA annotation is ignored."""
    previous = ready_identity(sc, "kat-prev", federated=True, granted=True)
    sc.set_operator_env({"AZURE_CLIENT_ID": previous.client_id})
    sc.wait_for_operator(_env_is("AZURE_CLIENT_ID", previous.client_id))


def token_expiration_invalid(sc: Scenario) -> None:
    """A token expiration of 100 s: the webhook would refuse the next operator pod (the current one runs on)."""
    sc.patch_service_account({WI_TOKEN_EXPIRATION: "100"})


def tenant_mismatch(sc: Scenario) -> None:
    """The SA names another tenant; the restarted pod asks that tenant for a token of this tenant's identity."""
    other = str(uuid.uuid4())
    sc.patch_service_account({WI_TENANT_ID: other})
    sc.restart_operator()
    sc.wait_for_operator(_env_is("AZURE_TENANT_ID", other))


# -- federation
def fic_missing_keda_sa(sc: Scenario) -> None:
    sc.unfederate(sc.identity, sc.fic_name)


def fic_subject_wrong(sc: Scenario) -> None:
    """The FIC trusts KEDA's ServiceAccount in another namespace (the Helm chart's `keda`)."""
    sc.federate(sc.identity, sc.fic_name, subject=f"system:serviceaccount:{OTHER_NAMESPACE}:{sc.service_account}")


def fic_issuer_mismatch(sc: Scenario) -> None:
    """The FIC's issuer differs from the cluster's by the trailing slash only."""
    issuer = sc.issuer[:-1] if sc.issuer.endswith("/") else sc.issuer + "/"
    sc.federate(sc.identity, sc.fic_name, issuer=issuer)


def fic_audience_mismatch(sc: Scenario) -> None:
    sc.federate(sc.identity, sc.fic_name, audiences=[TOKEN_AUDIENCE + "2"])


def fic_missing_override_identity(sc: Scenario) -> None:
    """identityId names a second identity that holds the role but trusts no token of KEDA's."""
    override = ready_identity(sc, "kat-override", federated=False, granted=True)
    sc.patch_trigger_auth({"podIdentity": {"provider": "azure-workload", "identityId": override.client_id}})


# -- RBAC
def rbac_role_missing(sc: Scenario) -> None:
    sc.revoke(sc.role_assignment_id)


def rbac_role_insufficient_sb(sc: Scenario) -> None:
    """Data Owner becomes Data Receiver, which cannot read queue runtime properties."""
    sc.revoke(sc.role_assignment_id)
    sc.grant(sc.identity.principal_id, SB_DATA_RECEIVER)
    sc.settle()


def rbac_wrong_principal(sc: Scenario) -> None:
    """Data Owner on the namespace goes to another identity (the workload's, say) instead of KEDA's."""
    sc.revoke(sc.role_assignment_id)
    ready_identity(sc, "kat-workload", federated=False, granted=True)


def rbac_wrong_scope(sc: Scenario) -> None:
    """KEDA's identity holds Data Owner on another Service Bus namespace, not on the trigger's."""
    sc.revoke(sc.role_assignment_id)
    other = sc.add_sb_namespace(f"{sc.sb_namespace}-other", sc.queue)
    sc.grant(sc.identity.principal_id, scope=other)
    sc.settle()


# -- the KEDA objects
def identityid_not_clientid(sc: Scenario) -> None:
    """identityId holds the identity's principalId (objectId), as `az identity show` also prints."""
    sc.patch_trigger_auth({"podIdentity": {"provider": "azure-workload", "identityId": sc.identity.principal_id}})


def authref_unresolved(sc: Scenario) -> None:
    sc.patch_trigger({"authenticationRef": {"name": sc.trigger_auth + "-typo"}})


def sb_namespace_fqdn(sc: Scenario) -> None:
    """The trigger names the namespace by its host name instead of its short name."""
    sc.patch_trigger({}, {"namespace": f"{sc.sb_namespace}.servicebus.windows.net"})


def sb_namespace_missing(sc: Scenario) -> None:
    sc.patch_trigger({}, {"namespace": None})


# -- the network
def egress_timeout(sc: Scenario) -> None:
    """The operator logs token requests to Entra timing out (simulator only: a real cluster has no API to write a
    pod's log, and blocking egress is not this kit's business)."""
    sim = sc.kube.require_sim("operator log lines are written with KubeSim.write_log")
    pod = sc.operator_pod()
    authority = container_env(pod).get("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/").rstrip("/")
    tenant = container_env(pod).get("AZURE_TENANT_ID", sc.azure.tenant_id)
    stamp = sc.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    line = (f'{stamp}\tERROR\tazure_servicebus_scaler\terror getting service bus entity length\t'
            f'{{"type": "ScaledObject", "namespace": "{sc.namespace}", "name": "{sc.scaled_object}", "error": '
            '"ChainedTokenCredential: failed to acquire a token.\\nAttempted credentials:\\n\\t'
            f'WorkloadIdentityCredential: Post \\"{authority}/{tenant}/oauth2/v2.0/token\\": context deadline '
            'exceeded (Client.Timeout exceeded while awaiting headers)"}')
    sim.write_log(sc.namespace, pod.metadata.name, sc.operator_container, [line, line])


BREAKERS: dict[str, Callable[[Scenario], None]] = {
    "wi-pod-label-missing": pod_label_missing,
    "wi-sa-clientid-missing": sa_clientid_missing,
    "wi-pod-stale-not-restarted": pod_stale_not_restarted,
    "wi-env-hardcoded-stale": env_hardcoded_stale,
    "wi-token-expiration-invalid": token_expiration_invalid,
    "tenant-mismatch": tenant_mismatch,
    "fic-missing-keda-sa": fic_missing_keda_sa,
    "fic-subject-wrong-namespace-or-sa": fic_subject_wrong,
    "fic-issuer-mismatch": fic_issuer_mismatch,
    "fic-audience-mismatch": fic_audience_mismatch,
    "fic-missing-override-identity": fic_missing_override_identity,
    "rbac-role-missing": rbac_role_missing,
    "rbac-role-insufficient-sb": rbac_role_insufficient_sb,
    "rbac-wrong-principal-or-scope": rbac_wrong_principal,
    "identityid-not-clientid": identityid_not_clientid,
    "authref-unresolved": authref_unresolved,
    "sb-namespace-metadata": sb_namespace_fqdn,
    "egress-or-timeout-to-entra": egress_timeout,
}

# Other ways to break the same link: name -> (failure-mode id, breaker).
VARIANTS: dict[str, tuple[str, Callable[[Scenario], None]]] = {
    "rbac-wrong-scope": ("rbac-wrong-principal-or-scope", rbac_wrong_scope),
    "sb-namespace-missing": ("sb-namespace-metadata", sb_namespace_missing),
}

# Warning or critical findings that follow from a breaker's link and nothing else: none today, every
# breaker's finding stands alone. (identityid-not-clientid also adds an info-level input-missing.)
CONSEQUENCES: dict[str, frozenset[str]] = {}
