"""A healthy KEDA + Workload Identity + Service Bus chain, seeded through public APIs only, and checked live.

    with scenario(tmp_path) as sc:
        assert sc.finding_ids() == set()
        BREAKERS["fic-missing-keda-sa"](sc)        # tests/kit/scenario_breakers.py
        assert "fic-missing-keda-sa" in sc.finding_ids()

It runs on `chain_target()`: the Kubernetes and ARM + Entra simulators by default, a real AKS cluster and
subscription when KUBECONFIG and the Azure variables are set. Everything is created the way a user would:
the upstream AWI webhook and KEDA CRDs, the KEDA operator (SA + Deployment) from the upstream manifests,
a user-assigned identity with a federated credential and "Azure Service Bus Data Owner" on a Service Bus
namespace, a TriggerAuthentication and a ScaledObject. `check()` is what `keda-auth check` sees.

Time: the checks flag role assignments younger than 10 minutes and federated credentials younger than 5
(rbac-/fic-propagation-delay). On the simulators `settle()` moves both clocks past those windows (the seeding
does it once); on a real target it does nothing, and those warnings are true for a while after seeding.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.msi.models import FederatedIdentityCredential, Identity
from kubernetes.client.rest import ApiException

from bot.diagnosis.engine import Report, diagnose
from bot.diagnosis.findings import Severity
from bot.live.options import LiveOptions
from bot.live.session import collect_live
from tests.kit.azuresim.client import ArmRest
from tests.kit.fixtures import document
from tests.kit.seed import PAUSE_IMAGE, container_env, ensure_awi_webhook, install_keda_operator, operator_pods
from tests.kit.targets import Azure, Kube, chain_target, eventually

KEDA_VERSION = "2.20.2"  # the operator manifest seed.py installs
KEDA_CRDS = ("scaledobjects", "scaledjobs", "triggerauthentications", "clustertriggerauthentications")
SB_DATA_OWNER = "090c5cfd-751d-490a-894a-3ce6f1109419"
TOKEN_AUDIENCE = "api://AzureADTokenExchange"
WI_USE_LABEL = "azure.workload.identity/use"
WI_CLIENT_ID = "azure.workload.identity/client-id"
WI_TENANT_ID = "azure.workload.identity/tenant-id"
WI_TOKEN_EXPIRATION = "azure.workload.identity/service-account-token-expiration"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
SETTLE_SECONDS = 15 * 60  # past the checks' 10-minute RBAC and 5-minute FIC propagation windows
PUBLIC_ARM = "https://management.azure.com"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"


@dataclass(frozen=True)
class ManagedIdentity:
    id: str
    name: str
    client_id: str
    principal_id: str


@dataclass
class Scenario:
    kube: Kube
    azure: Azure
    kubeconfig: str
    aks_resource_id: str
    issuer: str  # the cluster's OIDC issuer URL, as AKS reports it
    location: str
    identity: ManagedIdentity  # KEDA's identity: SA annotation, FIC, role
    sb_namespace: str  # short name, as the trigger's `namespace` metadata
    sb_namespace_id: str
    queue: str
    fic_name: str
    role_assignment_id: str
    service_account: str = "keda-operator"
    operator: str = "keda-operator"  # the operator Deployment
    operator_container: str = "keda-operator"
    workload: str = "orders-processor"  # the Deployment the ScaledObject scales
    trigger_auth: str = "sb-auth"
    scaled_object: str = "orders-processor"
    created: list[str] = field(default_factory=list)  # ARM ids deleted (newest first) on a real subscription

    # -- names and clients
    @property
    def namespace(self) -> str:
        return self.kube.namespace

    @property
    def subject(self) -> str:
        """What KEDA's projected token carries as `sub`."""
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"

    @cached_property
    def msi(self) -> ManagedServiceIdentityClient:
        return ManagedServiceIdentityClient(self.azure.credential, self.azure.subscription_id,
                                            **self.azure.client_kwargs)

    @cached_property
    def rbac(self) -> AuthorizationManagementClient:
        return AuthorizationManagementClient(self.azure.credential, self.azure.subscription_id,
                                             **self.azure.client_kwargs)

    @cached_property
    def arm(self) -> ArmRest:
        return arm_rest(self.azure)

    def role_definition_id(self, guid: str) -> str:
        return f"/subscriptions/{self.azure.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{guid}"

    # -- Azure building blocks (breakers and fix tests use them too)
    def add_identity(self, prefix: str = "kat-id") -> ManagedIdentity:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        made = self.msi.user_assigned_identities.create_or_update(self.azure.resource_group, name,
                                                                  Identity(location=self.location))
        self.created.append(str(made.id))
        return ManagedIdentity(str(made.id), name, str(made.client_id), str(made.principal_id))

    def federate(self, identity: ManagedIdentity, name: str = "keda-operator", *, issuer: str | None = None,
                 subject: str | None = None, audiences: list[str] | None = None) -> str:
        """Create or replace a federated credential on `identity`; defaults trust KEDA's token."""
        # A plain dict would be sent without the `properties` wrapper ARM needs: use the model.
        self.msi.federated_identity_credentials.create_or_update(
            self.azure.resource_group, identity.name, name, FederatedIdentityCredential(
                issuer=issuer or self.issuer, subject=subject or self.subject,
                audiences=audiences or [TOKEN_AUDIENCE]))
        return name

    def unfederate(self, identity: ManagedIdentity, name: str) -> None:
        self.msi.federated_identity_credentials.delete(self.azure.resource_group, identity.name, name)

    def grant(self, principal_id: str, role_guid: str = SB_DATA_OWNER, scope: str | None = None) -> str:
        assignment = self.rbac.role_assignments.create(scope or self.sb_namespace_id, str(uuid.uuid4()),
                                                       RoleAssignmentCreateParameters(
                                                           role_definition_id=self.role_definition_id(role_guid),
                                                           principal_id=principal_id,
                                                           principal_type="ServicePrincipal"))
        self.created.append(str(assignment.id))
        return str(assignment.id)

    def revoke(self, assignment_id: str) -> None:
        self.rbac.role_assignments.delete_by_id(assignment_id)

    def add_sb_namespace(self, name: str, queue: str | None = None) -> str:
        resource_id = self.azure.scope("providers/Microsoft.ServiceBus/namespaces", name)
        self.arm.put(resource_id, {"location": self.location, "sku": {"name": "Standard", "tier": "Standard"}})
        self.created.append(resource_id)
        if queue:
            self.arm.put(f"{resource_id}/queues/{queue}", {"properties": {}})
        return resource_id

    def settle(self) -> None:
        """Let propagation windows pass: both simulator clocks jump ahead; nothing to do on a real target.

        Clients cache tokens by their own (real) clock, which does not know of the jump: after one the
        simulator would refuse them as expired, so the admin credential and the clients are made anew, as a
        client whose clock had moved on would fetch a new token."""
        sim = self.azure.sim
        if sim is not None:
            sim.advance(SETTLE_SECONDS)
            self.azure.credential = sim.admin_credential()
            if "arm" in self.__dict__:
                self.arm.close()
            for client in ("msi", "rbac", "arm"):
                self.__dict__.pop(client, None)
        if self.kube.sim is not None:
            self.kube.sim.clock.advance(SETTLE_SECONDS)

    # -- Kubernetes building blocks
    def patch_service_account(self, annotations: dict[str, str | None]) -> None:
        """Set annotations; None removes one."""
        self.kube.core.patch_namespaced_service_account(self.service_account, self.namespace,
                                                        {"metadata": {"annotations": annotations}},
                                                        _content_type=MERGE)

    def patch_operator(self, patch: dict[str, Any]) -> None:
        """A strategic merge patch of the operator Deployment (containers merge by name, as kubectl does)."""
        self.kube.apps.patch_namespaced_deployment(self.operator, self.namespace, patch, _content_type=STRATEGIC)

    def set_operator_env(self, env: dict[str, str]) -> None:
        entries = [{"name": k, "value": v} for k, v in env.items()]
        self.patch_operator({"spec": {"template": {"spec": {"containers": [
            {"name": self.operator_container, "env": entries}]}}}})

    def restart_operator(self) -> None:
        """`kubectl rollout restart`: a new pod, mutated by the webhook with today's SA annotations."""
        self.patch_operator({"spec": {"template": {"metadata": {"annotations": {
            RESTARTED_AT: datetime.now(UTC).isoformat()}}}}})

    def patch_trigger_auth(self, spec: dict[str, Any]) -> None:
        self.kube.custom.patch_namespaced_custom_object("keda.sh", "v1alpha1", self.namespace,
                                                        "triggerauthentications", self.trigger_auth,
                                                        {"spec": spec})

    def patch_trigger(self, changes: dict[str, Any], metadata: dict[str, str | None] | None = None) -> None:
        """Change the ScaledObject's only trigger (a merge patch replaces the whole list, so it is rebuilt)."""
        obj = self.kube.custom.get_namespaced_custom_object("keda.sh", "v1alpha1", self.namespace, "scaledobjects",
                                                            self.scaled_object)
        trigger = dict(obj["spec"]["triggers"][0], **changes)
        meta = dict(trigger.get("metadata") or {})
        for key, value in (metadata or {}).items():
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = value
        trigger["metadata"] = meta
        self.kube.custom.patch_namespaced_custom_object("keda.sh", "v1alpha1", self.namespace, "scaledobjects",
                                                        self.scaled_object, {"spec": {"triggers": [trigger]}})

    def operator_pod(self) -> Any:
        """The one running operator pod, once a rollout has settled."""
        return self.wait_for_operator(lambda pod: None)

    def wait_for_operator(self, check: Callable[[Any], None]) -> Any:
        """Wait until the rollout is complete (one running pod of the current template) and `check(pod)` holds."""
        def settled() -> Any:
            deploy = self.kube.apps.read_namespaced_deployment(self.operator, self.namespace)
            status = deploy.status
            assert status.observed_generation == deploy.metadata.generation, "rollout not observed yet"
            assert status.updated_replicas == deploy.spec.replicas == status.replicas, "rollout in progress"
            pods = [p for p in operator_pods(self.kube) if p.metadata.deletion_timestamp is None]
            assert len(pods) == deploy.spec.replicas == 1, f"{len(pods)} operator pods"
            assert pods[0].status.phase == "Running", pods[0].status.phase
            check(pods[0])
            return pods[0]

        return eventually(settled)

    # -- the bot's view
    def read_only_user(self, name: str, directory: Path) -> str:
        """A simulator user that may only get and list (every kind, cluster-wide); returns its kubeconfig."""
        kube_sim = self.kube.require_sim("creates a Kubernetes user")
        self.kube.rbac.create_cluster_role({"metadata": {"name": name}, "rules": [
            {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list"]}]})
        self.kube.rbac.create_cluster_role_binding({"metadata": {"name": name}, "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "User", "name": name, "apiGroup": "rbac.authorization.k8s.io"}]})
        kube_sim.add_user(name)
        return str(kube_sim.write_kubeconfig(directory / name, user=name))

    def live_options(self) -> LiveOptions:
        sim = self.azure.sim
        return LiveOptions(kubeconfig=self.kubeconfig, namespace=self.namespace,
                           subscriptions=(self.azure.subscription_id,), aks_resource_id=self.aks_resource_id,
                           arm_endpoint=sim.arm_url if sim is not None else None,
                           connection_verify=str(sim.ca_path) if sim is not None else None, workers=4)

    def now(self) -> datetime:
        """The target's time: the simulator's clock (moved by settle()), else the wall clock."""
        if self.azure.sim is not None:
            return datetime.fromtimestamp(self.azure.sim.world.clock.now(), UTC)
        return datetime.now(UTC)

    def check(self, only: list[str] | None = None) -> Report:
        """`keda-auth check` on this namespace: live collection through the official clients, then diagnosis."""
        assembled, _ = collect_live(self.live_options(), credential=self.azure.credential, now=self.now)
        return diagnose(assembled.snapshot(), only=only)

    def finding_ids(self, report: Report | None = None) -> set[str]:
        """Ids of the warning and critical findings (of `report`, or of a fresh check)."""
        report = report if report is not None else self.check()
        return {f.id for f in report.findings if f.severity >= Severity.WARNING}


def arm_rest(azure: Azure) -> ArmRest:
    """ARM REST for what no SDK here covers (Service Bus); the public cloud unless the target says otherwise."""
    kwargs: dict[str, Any] = {"base_url": PUBLIC_ARM, "connection_verify": True, **azure.client_kwargs}
    return ArmRest(azure.credential, **kwargs)


def ensure_keda_crds(kube: Kube, version: str = KEDA_VERSION) -> None:
    """The upstream keda.sh CRDs; on a real cluster the ones that already exist are left as they are."""
    for plural in KEDA_CRDS:
        crd = document(f"keda/crds/{version}/keda.sh_{plural}.yaml", "CustomResourceDefinition")
        try:
            kube.extensions.create_custom_resource_definition(crd)
        except ApiException as exc:
            if exc.status != 409 or kube.sim is not None:
                raise


def workload_deployment(name: str) -> dict[str, Any]:
    """What the ScaledObject scales: a plain Deployment, no Workload Identity of its own."""
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": PAUSE_IMAGE}]}}}}


def scaled_object(name: str, target: str, sb_namespace: str, queue: str, auth: str) -> dict[str, Any]:
    return {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": name},
            "spec": {"scaleTargetRef": {"name": target}, "minReplicaCount": 0, "maxReplicaCount": 10,
                     "triggers": [{"type": "azure-servicebus",
                                   "metadata": {"namespace": sb_namespace, "queueName": queue, "messageCount": "5"},
                                   "authenticationRef": {"name": auth}}]}}


def _cluster(azure: Azure) -> tuple[str, str, str]:
    """(resource id, OIDC issuer URL, location) of the target's AKS cluster."""
    aks = ContainerServiceClient(azure.credential, azure.subscription_id, **azure.client_kwargs)
    cluster = aks.managed_clusters.get(azure.resource_group, azure.aks_name)
    return str(cluster.id), str(cluster.oidc_issuer_profile.issuer_url), str(cluster.location)


def _injected(client_id: str) -> Callable[[Any], None]:
    def check(pod: Any) -> None:
        env = container_env(pod)
        assert env.get("AZURE_CLIENT_ID") == client_id, f"AZURE_CLIENT_ID is {env.get('AZURE_CLIENT_ID')}"
        assert env.get("AZURE_FEDERATED_TOKEN_FILE"), "no projected token"

    return check


def _seed(kube: Kube, azure: Azure, kubeconfig: str, created: list[str]) -> Scenario:
    aks_id, issuer, location = _cluster(azure)
    suffix = uuid.uuid4().hex[:8]
    sc = Scenario(kube, azure, kubeconfig, aks_id, issuer, location,
                  identity=ManagedIdentity("", "", "", ""), sb_namespace=f"kat-sb-{suffix}", sb_namespace_id="",
                  queue="orders", fic_name="keda-operator", role_assignment_id="", created=created)
    # Azure: identity, Service Bus namespace and queue, the role, the federated credential.
    sc.identity = sc.add_identity("kat-keda")
    sc.sb_namespace_id = sc.add_sb_namespace(sc.sb_namespace, sc.queue)
    sc.role_assignment_id = sc.grant(sc.identity.principal_id)
    sc.fic_name = sc.federate(sc.identity)
    # Kubernetes: the webhook, KEDA's CRDs and operator, then what it scales and how it authenticates.
    ensure_awi_webhook(kube, azure.tenant_id)
    ensure_keda_crds(kube)
    install_keda_operator(kube, sc.identity.client_id, azure.tenant_id)
    kube.apps.create_namespaced_deployment(kube.namespace, workload_deployment(sc.workload))
    kube.custom.create_namespaced_custom_object(
        "keda.sh", "v1alpha1", kube.namespace, "triggerauthentications",
        {"apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication", "metadata": {"name": sc.trigger_auth},
         "spec": {"podIdentity": {"provider": "azure-workload"}}})
    kube.custom.create_namespaced_custom_object(
        "keda.sh", "v1alpha1", kube.namespace, "scaledobjects",
        scaled_object(sc.scaled_object, sc.workload, sc.sb_namespace, sc.queue, sc.trigger_auth))
    sc.wait_for_operator(_injected(sc.identity.client_id))
    sc.settle()
    return sc


def _delete_created(azure: Azure, created: list[str]) -> None:
    """Best effort, newest first: role assignments before the identities they name."""
    arm = arm_rest(azure)
    try:
        for resource_id in reversed(created):
            with suppress(ResourceNotFoundError):
                arm.delete(resource_id)
    finally:
        arm.close()


@contextmanager
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    """A healthy chain on chain_target(); on a real subscription what it created in Azure is deleted after."""
    with chain_target() as (kube, azure):
        kubeconfig = (str(kube.sim.write_kubeconfig(tmp_path / "kubeconfig")) if kube.sim is not None
                      else os.environ["KUBECONFIG"])
        created: list[str] = []
        try:
            sc = _seed(kube, azure, kubeconfig, created)
            try:
                yield sc
            finally:
                sc.arm.close()
        finally:
            if azure.sim is None:
                _delete_created(azure, created)
        if azure.sim is not None:
            assert azure.sim.spec_violations == [], "the ARM/Entra simulator answered outside the official specs"
