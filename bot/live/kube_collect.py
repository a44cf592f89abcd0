"""Collect what the diagnosis checks read from a cluster: one paginated list per kind, never a GET per object.

Phase 1 lists the cluster-wide kinds concurrently; phase 2 lists what lives in the namespaces phase 1 found
(the KEDA installs', the Azure Workload Identity webhook's); phase 3 tails the operator logs. A list that
fails becomes a Gap naming the RBAC rule that would allow it, and its kind is left out entirely, so that
"could not read" is never mistaken for "none exist". Secrets and ReplicaSets are never read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.diagnosis import facts
from bot.diagnosis.chain import is_keda_operator, operator_container
from bot.live.collection import Gap, KubeResult, LogTail
from bot.live.kube_reader import Item, KindNotServed, KubeReader, KubeReadError
from bot.redact import redact

Progress = Callable[[int, int, str], None]

KEDA_GROUP = "keda.sh"
LOG_KIND = "Pod/log"
VERSION_PATH = "/version"
OIDC_DISCOVERY_PATH = "/.well-known/openid-configuration"
MAX_LOGGED_PODS = 2  # per install: the newest pod, and its predecessor during a rollout


@dataclass(frozen=True)
class Kind:
    name: str
    group: str
    version: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def title(self) -> str:
        return self.name if self.name.endswith("s") else f"{self.name}s"

    @property
    def from_crd(self) -> bool:
        """KEDA's kinds: a 404 means its CRDs are not installed, so there are none."""
        return self.group == KEDA_GROUP


DEPLOYMENT = Kind("Deployment", "apps", "v1", "deployments")
POD = Kind("Pod", "", "v1", "pods")
SERVICE_ACCOUNT = Kind("ServiceAccount", "", "v1", "serviceaccounts")
EVENT = Kind("Event", "", "v1", "events")
CONFIG_MAP = Kind("ConfigMap", "", "v1", "configmaps")
ENDPOINTS = Kind("Endpoints", "", "v1", "endpoints")
NODE = Kind("Node", "", "v1", "nodes", namespaced=False)
WEBHOOK_CONFIG = Kind("MutatingWebhookConfiguration", "admissionregistration.k8s.io", "v1",
                      "mutatingwebhookconfigurations", namespaced=False)
API_SERVICE = Kind("APIService", "apiregistration.k8s.io", "v1", "apiservices", namespaced=False)
CRD = Kind("CustomResourceDefinition", "apiextensions.k8s.io", "v1", "customresourcedefinitions", namespaced=False)
SCALED_OBJECT = Kind("ScaledObject", KEDA_GROUP, "v1alpha1", "scaledobjects")
SCALED_JOB = Kind("ScaledJob", KEDA_GROUP, "v1alpha1", "scaledjobs")
TRIGGER_AUTH = Kind("TriggerAuthentication", KEDA_GROUP, "v1alpha1", "triggerauthentications")
CLUSTER_TRIGGER_AUTH = Kind("ClusterTriggerAuthentication", KEDA_GROUP, "v1alpha1", "clustertriggerauthentications",
                            namespaced=False)

CREDENTIALS_REFUSED = ("the API server refused the kubeconfig credentials (401): refresh them with "
                       "`az aks get-credentials -g RESOURCE_GROUP -n CLUSTER --overwrite-existing` and, on clusters "
                       "with Entra ID authentication, `kubelogin convert-kubeconfig -l azurecli`")


@dataclass(frozen=True)
class ListJob:
    kind: Kind
    namespace: str | None = None  # None: all namespaces (or a cluster-scoped kind)
    field_selector: str | None = None
    single_page: bool = False
    limit: int | None = None
    keep: Callable[[Item], bool] | None = None

    @property
    def what(self) -> str:
        where = ("" if not self.kind.namespaced else
                 f" in namespace {self.namespace}" if self.namespace else " in all namespaces")
        selected = f" where {self.field_selector}" if self.field_selector else ""
        return f"{self.kind.title} ({self.kind.api_version}){where}{selected}"

    @property
    def grant(self) -> str:
        rule = (f'RBAC rule: apiGroups ["{self.kind.group}"], resources ["{self.kind.plural}"], '
                'verbs ["list"]')
        if self.namespace:
            return f"{rule} in namespace {self.namespace} (Role)"
        return f"{rule} cluster-wide (ClusterRole)"


@dataclass
class _Listed:
    job: ListJob
    items: list[Item] = field(default_factory=list)
    pages: int = 0
    error: KubeReadError | None = None


@dataclass(frozen=True)
class LogTarget:
    namespace: str
    pod: str
    container: str | None


@dataclass
class _Logged:
    target: LogTarget
    lines: list[str] = field(default_factory=list)
    error: KubeReadError | None = None


@dataclass
class _Fetched:
    path: str
    data: Any = None


_Outcome = _Listed | _Logged | _Fetched
_Task = tuple[str, Callable[[], _Outcome]]  # (progress label, work for a pool thread)


@dataclass
class _KindState:
    items: list[Item] = field(default_factory=list)
    pages: int = 0
    failed: bool = False


def collect_kubernetes(reader: KubeReader, *, context: str, server: str, namespace: str | None = None,
                       progress: Progress | None = None, workers: int = 8, log_lines: int = 500,
                       log_age_seconds: int = 3600) -> KubeResult:
    """Read everything the checks need; never raises for API errors (they become `gaps`).

    `namespace` scopes the KEDA custom resources and Warning events to one namespace; cluster-level
    objects (Deployments, to find KEDA wherever it runs, webhooks, CRDs, the APIService) are read anyway.
    """
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="kube-collect") as pool:
        run = _Run(reader, KubeResult(context=context, server=server), pool, progress)
        run.phase(run.list_tasks(_cluster_jobs(namespace)) + run.fetch_tasks((VERSION_PATH, OIDC_DISCOVERY_PATH)))
        run.phase(run.list_tasks(run.namespace_jobs(namespace)))
        run.phase(run.log_tasks(run.log_targets(), log_lines, log_age_seconds))
        return run.finish()


def _cluster_jobs(namespace: str | None) -> list[ListJob]:
    return [
        ListJob(DEPLOYMENT),
        ListJob(API_SERVICE, field_selector=f"metadata.name={facts.EXTERNAL_METRICS_APISERVICE}"),
        ListJob(WEBHOOK_CONFIG),
        # Only KEDA's CRDs are read (their version label); a cluster may hold hundreds of others.
        ListJob(CRD, keep=lambda crd: str(crd.get("metadata", {}).get("name", "")).endswith(f".{KEDA_GROUP}")),
        ListJob(SCALED_OBJECT, namespace=namespace),
        ListJob(SCALED_JOB, namespace=namespace),
        ListJob(TRIGGER_AUTH, namespace=namespace),
        ListJob(CLUSTER_TRIGGER_AUTH),
        # One node says the kubelet version and whether this is AKS.
        ListJob(NODE, single_page=True, limit=1),
        ListJob(EVENT, namespace=namespace, field_selector="type=Warning"),
        # The scaled workloads' ServiceAccounts too: people expect KEDA to use the workload's identity.
        ListJob(SERVICE_ACCOUNT, namespace=namespace),
    ]


class _Run:
    """One collection's state. Pool threads only do I/O; their outcomes are merged on the calling thread,
    so the state needs no lock and `progress` is never called concurrently."""

    def __init__(self, reader: KubeReader, result: KubeResult, pool: ThreadPoolExecutor,
                 progress: Progress | None) -> None:
        self.reader = reader
        self.result = result
        self.pool = pool
        self.progress = progress
        self.kinds: dict[str, _KindState] = {}
        self.done = 0
        self.total = 0

    # -- running a phase
    def list_tasks(self, jobs: Iterable[ListJob]) -> list[_Task]:
        tasks: list[_Task] = []
        for job in jobs:
            self.kinds.setdefault(job.kind.name, _KindState())
            tasks.append((job.what, partial(self._list, job)))
        return tasks

    def fetch_tasks(self, paths: Iterable[str]) -> list[_Task]:
        return [(path, partial(self._fetch, path)) for path in paths]

    def log_tasks(self, targets: Iterable[LogTarget], lines: int, age_seconds: int) -> list[_Task]:
        return [(f"logs of {t.namespace}/{t.pod}", partial(self._log, t, lines, age_seconds)) for t in targets]

    def phase(self, tasks: list[_Task]) -> None:
        self.total += len(tasks)
        futures = {self.pool.submit(work): label for label, work in tasks}
        for future in as_completed(futures):
            self._merge(future.result())
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, self.total, futures[future])

    def _list(self, job: ListJob) -> _Outcome:
        try:
            listed = self.reader.list(job.kind.group, job.kind.version, job.kind.plural, namespace=job.namespace,
                                      field_selector=job.field_selector, single_page=job.single_page,
                                      limit=job.limit, keep=job.keep)
        except KindNotServed as exc:
            return _Listed(job) if job.kind.from_crd else _Listed(job, error=exc)
        except KubeReadError as exc:
            return _Listed(job, error=exc)
        return _Listed(job, listed.items, listed.pages)

    def _fetch(self, path: str) -> _Outcome:
        try:
            return _Fetched(path, self.reader.get_json(path))
        except KubeReadError:
            return _Fetched(path)  # both documents are optional: the version is also read from a Node

    def _log(self, target: LogTarget, lines: int, age_seconds: int) -> _Outcome:
        try:
            return _Logged(target, self.reader.pod_log(target.namespace, target.pod, target.container, lines,
                                                       age_seconds))
        except KubeReadError as exc:
            return _Logged(target, error=exc)

    def _merge(self, outcome: _Outcome) -> None:
        if isinstance(outcome, _Listed):
            state = self.kinds[outcome.job.kind.name]
            state.pages += outcome.pages
            if outcome.error is not None:
                if not state.failed:
                    state.items = []  # partial data of a failed kind would read as "these are all there are"
                state.failed = True
                self.result.gaps.append(_list_gap(outcome.job, outcome.error))
            elif not state.failed:
                state.items.extend(outcome.items)
        elif isinstance(outcome, _Logged):
            target = outcome.target
            if outcome.error is None:
                self.result.logs.append(LogTail(target.namespace, target.pod, target.container,
                                                tuple(outcome.lines)))
            else:
                self.result.gaps.append(_log_gap(target, outcome.error))
        elif isinstance(outcome.data, dict):
            if outcome.path == VERSION_PATH:
                self.result.server_version = _text(outcome.data.get("gitVersion"))
            else:
                self.result.issuer = _text(outcome.data.get("issuer"))

    # -- what phase 1 tells phase 2 and 3
    def _items(self, kind: Kind) -> list[Item] | None:
        """The kind's objects so far, or None when a list of it failed."""
        state = self.kinds.get(kind.name)
        return None if state is None or state.failed else state.items

    def keda_installs(self) -> list[Item]:
        return [d for d in self._items(DEPLOYMENT) or [] if is_keda_operator(d)]

    def namespace_jobs(self, scoped: str | None) -> list[ListJob]:
        jobs: list[ListJob] = []
        deployments = self._items(DEPLOYMENT)
        if deployments is not None:  # without Deployments, where KEDA runs is unknown: Pods stay uncollected
            keda_namespaces = {_namespace(d) for d in self.keda_installs()}
            keda_namespaces.update(_metrics_namespace(self._items(API_SERVICE) or []))
            self.kinds.setdefault(POD.name, _KindState())
            for ns in sorted(keda_namespaces):
                jobs.append(ListJob(POD, namespace=ns))
                if scoped is not None and ns != scoped:  # unscoped, phase 1 listed them cluster-wide
                    jobs.append(ListJob(SERVICE_ACCOUNT, namespace=ns))
                if scoped is not None and ns != scoped:
                    jobs.append(ListJob(EVENT, namespace=ns, field_selector="type=Warning"))
        webhook_configs = self._items(WEBHOOK_CONFIG)
        if webhook_configs is not None:
            self.kinds.setdefault(CONFIG_MAP.name, _KindState())
            self.kinds.setdefault(ENDPOINTS.name, _KindState())
            for ns in sorted(_webhook_namespaces(webhook_configs)):
                jobs += [ListJob(CONFIG_MAP, namespace=ns, field_selector=f"metadata.name={facts.WEBHOOK_CONFIGMAP}"),
                         ListJob(ENDPOINTS, namespace=ns, field_selector=f"metadata.name={facts.WEBHOOK_SERVICE}")]
        return jobs

    def log_targets(self) -> list[LogTarget]:
        pods = self._items(POD) or []
        targets: dict[LogTarget, None] = {}  # ordered, and a pod two installs select is read once
        for deploy in self.keda_installs():
            for pod in _newest_running(deploy, pods)[:MAX_LOGGED_PODS]:
                container = operator_container(pod.get("spec") or {})
                name = container.get("name") if container else None
                targets[LogTarget(_namespace(pod), str(pod["metadata"]["name"]), str(name) if name else None)] = None
        return list(targets)

    def finish(self) -> KubeResult:
        result = self.result
        for name, state in sorted(self.kinds.items()):
            if state.pages:
                result.pages[name] = state.pages
            if state.failed:
                continue
            result.collected.add(name)
            if state.items:
                result.objects[name] = state.items
        result.requests = self.reader.requests
        return result


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _namespace(obj: Item) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def _metrics_namespace(api_services: list[Item]) -> set[str]:
    found = set()
    for api_service in api_services:
        service = (api_service.get("spec") or {}).get("service") or {}
        if service.get("namespace"):
            found.add(str(service["namespace"]))
    return found


def _webhook_namespaces(configs: list[Item]) -> set[str]:
    found = set()
    for config in configs:
        webhooks = [w for w in config.get("webhooks") or [] if isinstance(w, dict)]
        named = (config.get("metadata") or {}).get("name") == facts.WEBHOOK_CONFIG_NAME
        for webhook in webhooks:
            if named or webhook.get("name") == facts.WEBHOOK_NAME:
                service = (webhook.get("clientConfig") or {}).get("service") or {}
                if service.get("namespace"):
                    found.add(str(service["namespace"]))
    return found


def _newest_running(deploy: Item, pods: list[Item]) -> list[Item]:
    selector = ((deploy.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not selector:
        return []
    namespace = _namespace(deploy)
    matching = [
        p for p in pods
        if _namespace(p) == namespace and not p["metadata"].get("deletionTimestamp")
        and (p.get("status") or {}).get("phase") == "Running"
        and all((p["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
    ]
    # RFC 3339 UTC timestamps sort as text.
    return sorted(matching, key=lambda p: str(p["metadata"].get("creationTimestamp") or ""), reverse=True)


def _list_gap(job: ListJob, error: KubeReadError) -> Gap:
    grant = CREDENTIALS_REFUSED if error.status == 401 else job.grant
    return Gap(source="kubernetes", what=job.what, grant=grant, reason=redact(error.reason),
               kind=job.kind.name)


def _log_gap(target: LogTarget, error: KubeReadError) -> Gap:
    container = f" container {target.container}" if target.container else ""
    grant = CREDENTIALS_REFUSED if error.status == 401 else (
        f'RBAC rule: apiGroups [""], resources ["pods/log"], verbs ["get"] in namespace {target.namespace} (Role)')
    return Gap(source="kubernetes", what=f"logs of Pod {target.namespace}/{target.pod}{container}", grant=grant,
               reason=redact(error.reason), kind=LOG_KIND)
