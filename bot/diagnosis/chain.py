"""The authentication chain, derived once from a Snapshot and shared by every check.

KEDA install(s) -> operator pod -> triggers and their TriggerAuthentications -> the effective identity
of each trigger -> that identity's federated credentials and role assignments on the trigger's target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from bot.diagnosis import facts
from bot.diagnosis.targets import Target, targets_for
from bot.diagnosis.version import Version, image_repository, image_tag
from bot.snapshot import AksCluster, Identity, K8sObject, Snapshot
from bot.snapshot.frozen import as_mapping, as_seq, as_str, dig

KEDA_KINDS = ("ScaledObject", "ScaledJob")


@dataclass(frozen=True, slots=True)
class EnvVar:
    name: str
    value: str | None  # None when it comes from valueFrom
    from_ref: bool


def container_env(container: Mapping[str, Any]) -> dict[str, EnvVar]:
    env: dict[str, EnvVar] = {}
    for item in as_seq(container.get("env")):
        entry = as_mapping(item)
        name = as_str(entry.get("name"))
        if name:
            env[name] = EnvVar(name, as_str(entry.get("value")), "valueFrom" in entry)
    return env


def _is_keda_image(image: str) -> bool:
    return image_repository(image).rsplit("/", 1)[-1] == "keda"


def is_keda_operator(deployment: Mapping[str, Any]) -> bool:
    """Named keda-operator, or running an image whose repository is .../keda (the Helm chart, the plain
    manifests and the AKS add-on all do one or the other)."""
    if dig(deployment, "metadata", "name") == "keda-operator":
        return True
    pod_spec = as_mapping(dig(deployment, "spec", "template", "spec"))
    return any(_is_keda_image(as_str(as_mapping(c).get("image")) or "") for c in as_seq(pod_spec.get("containers")))


def operator_container(pod_spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    containers = [as_mapping(c) for c in as_seq(pod_spec.get("containers"))]
    for container in containers:
        if container.get("name") == "keda-operator":
            return container
    for container in containers:
        if _is_keda_image(as_str(container.get("image")) or ""):
            return container
    return containers[0] if containers else None


@dataclass(frozen=True)
class KedaInstall:
    deployment: K8sObject
    service_account: K8sObject | None
    pods: tuple[K8sObject, ...]
    version: Version | None
    version_source: str
    serves_metrics: bool | None

    @property
    def namespace(self) -> str:
        return self.deployment.namespace

    @property
    def name(self) -> str:
        return self.deployment.name

    @property
    def template(self) -> Mapping[str, Any]:
        return as_mapping(self.deployment.spec.get("template"))

    @property
    def template_labels(self) -> Mapping[str, Any]:
        return as_mapping(dig(self.template, "metadata", "labels"))

    @property
    def template_annotations(self) -> Mapping[str, Any]:
        return as_mapping(dig(self.template, "metadata", "annotations"))

    @property
    def pod_spec(self) -> Mapping[str, Any]:
        return as_mapping(self.template.get("spec"))

    @property
    def service_account_name(self) -> str:
        spec = self.pod_spec
        return as_str(spec.get("serviceAccountName")) or as_str(spec.get("serviceAccount")) or "default"

    @property
    def subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account_name}"

    @property
    def template_container(self) -> Mapping[str, Any]:
        return operator_container(self.pod_spec) or {}

    @property
    def is_aks_addon(self) -> bool:
        return self.namespace == "kube-system"

    @property
    def running_pods(self) -> tuple[K8sObject, ...]:
        return tuple(p for p in self.pods if not p.metadata.get("deletionTimestamp")
                     and p.status.get("phase") in (None, "Running", "Pending"))

    @property
    def sa_annotations(self) -> Mapping[str, Any]:
        return self.service_account.annotations if self.service_account else {}


@dataclass(frozen=True)
class Trigger:
    owner: K8sObject  # ScaledObject or ScaledJob
    index: int
    type: str
    metadata: Mapping[str, str]
    auth_name: str | None
    auth_kind: str  # as written, defaulted to TriggerAuthentication
    auth_kind_written: bool
    auth: K8sObject | None

    @property
    def ref(self) -> str:
        return f"{self.owner.ref} trigger[{self.index}] ({self.type})"

    @property
    def path(self) -> str:
        return f"spec.triggers[{self.index}]"

    @property
    def pod_identity(self) -> Mapping[str, Any]:
        return as_mapping(self.auth.spec.get("podIdentity")) if self.auth else {}

    @property
    def provider(self) -> str | None:
        return as_str(self.pod_identity.get("provider"))

    @property
    def uses_workload_identity(self) -> bool:
        return self.provider == "azure-workload" and self.type in facts.AZURE_SCALERS

    def meta(self, key: str) -> str | None:
        value = self.metadata.get(key)
        return value if isinstance(value, str) and value != "" else None

    def meta_true(self, key: str) -> bool:
        return (self.meta(key) or "").lower() == "true"


@dataclass(frozen=True, slots=True)
class Line:
    """One observed operator log line, Warning event or failing ScaledObject condition."""

    where: str
    text: str


@dataclass(frozen=True, slots=True)
class Scope:
    """Limit a diagnosis to one namespace or one ScaledObject/ScaledJob; cluster-wide checks still run."""

    namespace: str | None = None
    name: str | None = None

    def admits(self, obj: K8sObject) -> bool:
        if self.namespace and obj.namespace and obj.namespace != self.namespace:
            return False
        return not (self.name and obj.kind in KEDA_KINDS and obj.name != self.name)


@dataclass(frozen=True)
class EffectiveIdentity:
    """Which identity KEDA presents for one purpose of one trigger, and where that came from."""

    client_id: str | None
    source: str  # human: "TriggerAuthentication identityId"
    source_ref: str  # object
    source_field: str
    identity: Identity | None
    override: bool  # set by identityId rather than inherited from the operator

    @property
    def label(self) -> str:
        if self.identity is not None:
            return f"{self.identity.name} (clientId {self.client_id})"
        return f"clientId {self.client_id}" if self.client_id else "no identity"


class Chain:
    """Derived facts over one Snapshot. Cached per property: compute once, share across checks."""

    def __init__(self, snapshot: Snapshot, scope: Scope | None = None) -> None:
        self.snapshot = snapshot
        self.scope = scope or Scope()
        self._pod_env: dict[str, dict[str, EnvVar] | None] = {}
        self._default_identity: dict[str, EffectiveIdentity] = {}
        self._effective: dict[tuple[str, int, str], EffectiveIdentity | None] = {}

    # -- KEDA installs
    @cached_property
    def installs(self) -> tuple[KedaInstall, ...]:
        snap = self.snapshot
        apiservice = snap.get("APIService", "", facts.EXTERNAL_METRICS_APISERVICE)
        metrics_ns = as_str(dig(apiservice.raw, "spec", "service", "namespace")) if apiservice else None
        found: list[KedaInstall] = []
        for deploy in snap.of_kind("Deployment"):
            if not is_keda_operator(deploy.raw):
                continue
            spec = as_mapping(dig(deploy.raw, "spec", "template", "spec"))
            sa_name = as_str(spec.get("serviceAccountName")) or as_str(spec.get("serviceAccount")) or "default"
            version, source = self._keda_version(deploy)
            found.append(KedaInstall(
                deployment=deploy,
                service_account=snap.get("ServiceAccount", deploy.namespace, sa_name),
                pods=self._pods_of(deploy),
                version=version,
                version_source=source,
                serves_metrics=(metrics_ns == deploy.namespace) if metrics_ns else None,
            ))
        # The install that serves external metrics is the one that matters; list it first.
        found.sort(key=lambda i: (i.serves_metrics is not True, i.namespace != "keda", i.namespace))
        return tuple(found)

    @property
    def primary(self) -> KedaInstall | None:
        return self.installs[0] if self.installs else None

    def _pods_of(self, deploy: K8sObject) -> tuple[K8sObject, ...]:
        selector = as_mapping(dig(deploy.raw, "spec", "selector", "matchLabels"))
        if not selector:
            return ()
        pods = [
            p for p in self.snapshot.of_kind("Pod")
            if p.namespace == deploy.namespace and all(p.labels.get(k) == v for k, v in selector.items())
        ]
        pods.sort(key=lambda p: (p.created is None, p.created), reverse=True)
        return tuple(pods)

    def _keda_version(self, deploy: K8sObject) -> tuple[Version | None, str]:
        container = operator_container(as_mapping(dig(deploy.raw, "spec", "template", "spec"))) or {}
        image = as_str(container.get("image")) or ""
        tag = image_tag(image)
        version = Version.parse(tag)
        if version is not None:
            return version, f"operator image {image}"
        crd = self.snapshot.get("CustomResourceDefinition", "", "scaledobjects.keda.sh")
        if crd is not None:
            label = as_str(crd.labels.get("app.kubernetes.io/version"))
            version = Version.parse(label)
            if version is not None:
                return version, f"CRD scaledobjects.keda.sh label app.kubernetes.io/version={label}"
        chart = as_str(deploy.labels.get("helm.sh/chart"))
        version = Version.parse(chart)
        if version is not None:
            return version, f"Deployment label helm.sh/chart={chart}"
        return None, "unknown"

    # -- the cluster
    @cached_property
    def aks(self) -> AksCluster | None:
        clusters = self.snapshot.clusters
        if len(clusters) <= 1:
            return clusters[0] if clusters else None
        wanted = as_str(dig(self.snapshot.manifest, "cluster", "name"))
        for cluster in clusters:
            if wanted and cluster.name.lower() == wanted.lower():
                return cluster
        return clusters[0]

    @cached_property
    def kubernetes_version(self) -> tuple[Version | None, str]:
        server = as_str(dig(self.snapshot.manifest, "cluster", "server_version"))
        if Version.parse(server):
            return Version.parse(server), "manifest.json cluster.server_version"
        if self.aks and Version.parse(self.aks.kubernetes_version):
            return Version.parse(self.aks.kubernetes_version), f"AKS {self.aks.name} kubernetesVersion"
        for node in self.snapshot.of_kind("Node"):
            kubelet = as_str(dig(node.raw, "status", "nodeInfo", "kubeletVersion"))
            if Version.parse(kubelet):
                return Version.parse(kubelet), f"Node/{node.name} kubeletVersion"
        return None, "unknown"

    @cached_property
    def webhook_configs(self) -> tuple[K8sObject, ...]:
        """MutatingWebhookConfigurations that carry the Azure Workload Identity webhook."""
        found = []
        for mwc in self.snapshot.of_kind("MutatingWebhookConfiguration"):
            names = {as_str(as_mapping(w).get("name")) for w in as_seq(mwc.raw.get("webhooks"))}
            if mwc.name == facts.WEBHOOK_CONFIG_NAME or facts.WEBHOOK_NAME in names:
                found.append(mwc)
        return tuple(found)

    # -- triggers
    @cached_property
    def triggers(self) -> tuple[Trigger, ...]:
        found: list[Trigger] = []
        for kind in KEDA_KINDS:
            for owner in self.snapshot.of_kind(kind):
                if not self.scope.admits(owner):
                    continue
                for index, raw in enumerate(as_seq(owner.spec.get("triggers"))):
                    found.append(self._trigger(owner, index, as_mapping(raw)))
        return tuple(found)

    def _trigger(self, owner: K8sObject, index: int, raw: Mapping[str, Any]) -> Trigger:
        ref = as_mapping(raw.get("authenticationRef"))
        name = as_str(ref.get("name"))
        kind_written = as_str(ref.get("kind"))
        kind = kind_written or "TriggerAuthentication"
        auth = None
        if name:
            if kind == "ClusterTriggerAuthentication":
                auth = self.snapshot.get("ClusterTriggerAuthentication", "", name)
            elif kind == "TriggerAuthentication":
                auth = self.snapshot.get("TriggerAuthentication", owner.namespace, name)
        metadata = {str(k): str(v) if v is not None else "" for k, v in as_mapping(raw.get("metadata")).items()}
        return Trigger(owner, index, as_str(raw.get("type")) or "", metadata, name, kind,
                       kind_written is not None, auth)

    @cached_property
    def wi_triggers(self) -> tuple[Trigger, ...]:
        return tuple(t for t in self.triggers if t.uses_workload_identity)

    @cached_property
    def auth_objects(self) -> tuple[K8sObject, ...]:
        namespaced = tuple(a for a in self.snapshot.of_kind("TriggerAuthentication") if self.scope.admits(a))
        return namespaced + self.snapshot.of_kind("ClusterTriggerAuthentication")

    @cached_property
    def wi_in_use(self) -> bool:
        """Whether anything relies on KEDA's workload identity (so its plumbing matters)."""
        if self.wi_triggers:
            return True
        return any(
            dig(a.spec, "podIdentity", "provider") == "azure-workload"
            or dig(a.spec, "azureKeyVault", "podIdentity", "provider") == "azure-workload"
            for a in self.auth_objects
        )

    @cached_property
    def observed_lines(self) -> tuple[Line, ...]:
        """Operator log lines, Warning events and failing KEDA conditions: what the symptoms are read from."""
        found: list[Line] = []
        install_namespaces = {i.namespace for i in self.installs}
        for log in self.snapshot.logs:
            if log.namespace in install_namespaces or "keda" in log.pod:
                found += [Line(f"logs/{log.namespace}/{log.pod}", line) for line in log.lines if line.strip()]
        for event in self.snapshot.of_kind("Event"):
            message = as_str(event.raw.get("message")) or as_str(event.raw.get("note")) or ""
            if event.raw.get("type") == "Normal" or not message:
                continue
            involved = as_mapping(event.raw.get("involvedObject") or event.raw.get("regarding"))
            where = (f"Event {event.raw.get('reason', '')} on {involved.get('kind', '?')}/"
                     f"{involved.get('namespace') or event.namespace}/{involved.get('name', '?')}")
            found.append(Line(where, message))
        for obj in self.snapshot.of_kind("ScaledObject") + self.snapshot.of_kind("ScaledJob"):
            for cond in as_seq(dig(obj.raw, "status", "conditions")):
                condition = as_mapping(cond)
                text = as_str(condition.get("message"))
                if text and condition.get("status") == "False":
                    found.append(Line(f"{obj.ref} condition {condition.get('type')}", text))
        return tuple(found)

    # -- the operator as running
    def pod_env(self, install: KedaInstall) -> dict[str, EnvVar] | None:
        """Env of the operator container in the newest running pod; None when no pod was collected."""
        key = install.deployment.ref
        if key not in self._pod_env:
            pods = install.running_pods
            container = (operator_container(as_mapping(pods[0].spec)) or {}) if pods else None
            self._pod_env[key] = container_env(container) if container is not None else None
        return self._pod_env[key]

    def default_identity(self, install: KedaInstall) -> EffectiveIdentity:
        key = install.deployment.ref
        if key not in self._default_identity:
            self._default_identity[key] = self._compute_default_identity(install)
        return self._default_identity[key]

    def _compute_default_identity(self, install: KedaInstall) -> EffectiveIdentity:
        env = self.pod_env(install)
        if env is not None and env.get("AZURE_CLIENT_ID") and env["AZURE_CLIENT_ID"].value:
            client_id = env["AZURE_CLIENT_ID"].value
            pod = install.running_pods[0]
            return self._resolved(client_id, "operator pod AZURE_CLIENT_ID", pod.ref,
                                  "spec.containers[keda-operator].env.AZURE_CLIENT_ID", override=False)
        annotation = as_str(install.sa_annotations.get(facts.WI_CLIENT_ID))
        sa_ref = install.service_account.ref if install.service_account else (
            f"ServiceAccount/{install.namespace}/{install.service_account_name}")
        if annotation:
            return self._resolved(annotation, "ServiceAccount annotation", sa_ref,
                                  f"metadata.annotations[{facts.WI_CLIENT_ID}]", override=False)
        return EffectiveIdentity(None, "none (no identityId, no AZURE_CLIENT_ID, no SA annotation)",
                                 sa_ref, f"metadata.annotations[{facts.WI_CLIENT_ID}]", None, False)

    def effective_identity(self, trigger: Trigger, purpose: str = "scaler") -> EffectiveIdentity | None:
        """purpose "scaler" reads spec.podIdentity; "keyvault" reads spec.azureKeyVault.podIdentity."""
        key = (trigger.owner.ref, trigger.index, purpose)
        if key not in self._effective:
            self._effective[key] = self._compute_effective_identity(trigger, purpose)
        return self._effective[key]

    def _compute_effective_identity(self, trigger: Trigger, purpose: str) -> EffectiveIdentity | None:
        if trigger.auth is None:
            return None
        block = trigger.pod_identity if purpose == "scaler" else as_mapping(
            dig(trigger.auth.spec, "azureKeyVault", "podIdentity"))
        identity_id = as_str(block.get("identityId"))
        if identity_id:
            field = ("spec.podIdentity.identityId" if purpose == "scaler"
                     else "spec.azureKeyVault.podIdentity.identityId")
            return self._resolved(identity_id, f"{trigger.auth.kind} identityId", trigger.auth.ref, field,
                                  override=True)
        install = self.primary
        return self.default_identity(install) if install else None

    def _resolved(self, client_id: str, source: str, ref: str, field: str, *, override: bool
                  ) -> EffectiveIdentity:
        identity = self.snapshot.identity_by_client_id(client_id)
        return EffectiveIdentity(client_id, source, ref, field, identity, override)

    @cached_property
    def effective_identities(self) -> tuple[EffectiveIdentity, ...]:
        """Each distinct identity KEDA will present (default and overrides), once."""
        seen: dict[str, EffectiveIdentity] = {}
        install = self.primary
        if install is not None and self.wi_in_use:
            default = self.default_identity(install)
            if default.client_id:
                seen[default.client_id.lower()] = default
        for trigger in self.wi_triggers:
            eff = self.effective_identity(trigger)
            if eff and eff.client_id:
                seen.setdefault(eff.client_id.lower(), eff)
        for auth in self.auth_objects:
            for path in (("podIdentity",), ("azureKeyVault", "podIdentity")):
                block = as_mapping(dig(auth.spec, *path))
                cid = as_str(block.get("identityId"))
                if block.get("provider") == "azure-workload" and cid:
                    field = "spec." + ".".join(path) + ".identityId"
                    seen.setdefault(cid.lower(), self._resolved(cid, f"{auth.kind} identityId", auth.ref,
                                                                field, override=True))
        return tuple(seen.values())

    def targets(self, trigger: Trigger) -> tuple[Target, ...]:
        return targets_for(self.snapshot, trigger.type, trigger.metadata)
