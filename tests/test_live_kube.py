"""The live Kubernetes reader, through the real `kubernetes` client against the API-server simulator.

What is asserted is what a user would notice: which context and server were used, what was collected,
what was reported missing and with which RBAC rule, how many requests it took, and how long it waited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from bot.errors import InputError
from bot.live.collection import KubeResult
from bot.live.kube_collect import collect_kubernetes
from bot.live.kube_config import KubeConnection, connect
from bot.live.kube_reader import KindNotServed, KubeReader, ListDenied, ListFailed
from tests.kit.fixtures import document
from tests.kit.kubesim import KubeSim
from tests.kit.seed import ensure_awi_webhook, install_keda_operator, operator_pods
from tests.kit.sim.server import RecordedRequest
from tests.kit.sim.tls import authority
from tests.kit.targets import Kube

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "5f0f5c2e-1b1a-4c55-9a55-0f2b4c1d9e01"


# -- helpers
@pytest.fixture
def sim(kube: Kube) -> KubeSim:
    return kube.require_sim("fault injection and the request log")


@pytest.fixture
def connection(sim: KubeSim, tmp_path: Path) -> Iterator[KubeConnection]:
    conn = connect(sim.write_kubeconfig(tmp_path / "kubeconfig"), pool_size=4)
    yield conn
    conn.close()


class Waits(list[float]):
    """An injectable `sleep` that records how long the reader wanted to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def reader_for(connection: KubeConnection, *, page_size: int = 500, attempts: int = 3, backoff: float = 0.01,
               max_backoff: float = 0.05, timeout: tuple[float, float] = (2.0, 2.0)) -> tuple[KubeReader, Waits]:
    """A reader with small backoffs and timeouts, whose waits are recorded instead of slept."""
    waits = Waits()
    reader = KubeReader(connection.api_client, page_size=page_size, attempts=attempts, backoff=backoff,
                        max_backoff=max_backoff, timeout=timeout, sleep=waits)
    return reader, waits


def in_namespace(kube: Kube, namespace: str) -> Kube:
    if namespace not in {n.metadata.name for n in kube.core.list_namespace().items}:
        kube.core.create_namespace({"metadata": {"name": namespace}})
    return Kube(kube.client, namespace, kube.sim)


def install_keda_crds(kube: Kube) -> None:
    for plural in ("scaledobjects", "scaledjobs", "triggerauthentications", "clustertriggerauthentications"):
        kube.extensions.create_custom_resource_definition(
            document(f"keda/crds/2.20.2/keda.sh_{plural}.yaml", "CustomResourceDefinition"))


def install_keda(kube: Kube, namespace: str = "keda") -> Kube:
    target = in_namespace(kube, namespace)
    install_keda_operator(target, CLIENT_ID, TENANT)
    return target


def scaled_object(kube: Kube, name: str) -> None:
    kube.custom.create_namespaced_custom_object("keda.sh", "v1alpha1", kube.namespace, "triggerauthentications", {
        "apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication", "metadata": {"name": f"{name}-auth"},
        "spec": {"podIdentity": {"provider": "azure-workload"}}})
    kube.custom.create_namespaced_custom_object("keda.sh", "v1alpha1", kube.namespace, "scaledobjects", {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": name},
        "spec": {"scaleTargetRef": {"name": name}, "triggers": [{
            "type": "azure-servicebus", "metadata": {"queueName": "orders", "namespace": "sb-orders"},
            "authenticationRef": {"name": f"{name}-auth"}}]}})


def warning_event(kube: Kube, name: str) -> None:
    kube.core.create_namespaced_event(kube.namespace, {
        "metadata": {"name": name}, "type": "Warning", "reason": "KEDAScalerFailed",
        "message": "sources must contain at least one TokenCredential",
        "involvedObject": {"kind": "ScaledObject", "namespace": kube.namespace, "name": "orders"}})


def healthy_cluster(kube: Kube) -> Kube:
    """The AWI webhook, KEDA's CRDs and one operator in `keda`: the shape most clusters have."""
    ensure_awi_webhook(kube, TENANT)
    install_keda_crds(kube)
    return install_keda(kube)


def collect(reader: KubeReader, connection: KubeConnection, *, namespace: str | None = None,
            progress: Callable[[int, int, str], None] | None = None, workers: int = 4, log_lines: int = 500,
            log_age_seconds: int = 3600) -> KubeResult:
    """Collect with as many workers as the `connection` fixture has pooled connections."""
    return collect_kubernetes(reader, context=connection.context, server=connection.server, namespace=namespace,
                              progress=progress, workers=workers, log_lines=log_lines,
                              log_age_seconds=log_age_seconds)


def requests_after(sim: KubeSim, mark: int) -> list[RecordedRequest]:
    return list(sim.server.requests)[mark:]


def names(result: KubeResult, kind: str) -> set[str]:
    return {f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}" for o in result.objects.get(kind, [])}


# -- connecting
def _two_context_kubeconfig(sim: KubeSim, path: Path) -> Path:
    config = sim.kubeconfig("kubesim")
    config["clusters"].append({"name": "elsewhere", "cluster": {"server": "https://127.0.0.1:9"}})
    config["contexts"].append({"name": "elsewhere", "context": {"cluster": "elsewhere", "user": "kubesim-admin"}})
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_kubeconfig_current_context_or_a_named_one(sim: KubeSim, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    default_before = client.Configuration._default
    path = _two_context_kubeconfig(sim, tmp_path / "config")
    current = connect(path)
    assert (current.context, current.server) == ("kubesim", sim.url)
    reader = KubeReader(current.api_client)
    assert reader.get_json("/version")["gitVersion"] == "v1.34.2"
    assert reader.list("apps", "v1", "deployments").items == []
    current.close()

    named = connect(path, "elsewhere")
    assert (named.context, named.server) == ("elsewhere", "https://127.0.0.1:9")
    named.close()

    # No explicit path: KUBECONFIG (a path list), else ~/.kube/config.
    from_env = connect(environ={"KUBECONFIG": f"{tmp_path / 'missing'}:{path}"})
    assert from_env.context == "kubesim"
    from_env.close()
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    sim.write_kubeconfig(home / ".kube" / "config", context="from-home")
    monkeypatch.setenv("HOME", str(home))
    from_home = connect(environ={})
    assert (from_home.context, from_home.server) == ("from-home", sim.url)
    from_home.close()
    assert client.Configuration._default is default_before  # the package-wide default is never touched


def test_kubeconfig_problems_are_clear_input_errors(sim: KubeSim, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = _two_context_kubeconfig(sim, tmp_path / "config")
    with pytest.raises(InputError, match=r"context 'prod' is not in kubeconfig .*available contexts: elsewhere, "
                                         r"kubesim"):
        connect(path, "prod")
    with pytest.raises(InputError, match=r"kubeconfig not found: .*nowhere"):
        connect(tmp_path / "nowhere")
    monkeypatch.setenv("HOME", str(tmp_path / "empty-home"))
    with pytest.raises(InputError, match=r"no kubeconfig found .*KUBERNETES_SERVICE_HOST is not set"):
        connect(environ={})
    with pytest.raises(InputError, match=r"no kubeconfig found .*KUBECONFIG=.*missing"):
        connect(environ={"KUBECONFIG": str(tmp_path / "missing")})
    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n  - name: a\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"kubeconfig .*broken cannot be used"):
        connect(broken)
    no_current = sim.kubeconfig()
    del no_current["current-context"]
    (tmp_path / "no-current").write_text(yaml.safe_dump(no_current), encoding="utf-8")
    with pytest.raises(InputError, match=r"no current-context; pass --context \(available contexts: kubesim\)"):
        connect(tmp_path / "no-current")


def test_in_cluster_config_when_no_kubeconfig_exists(kube: Kube, sim: KubeSim, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    token = tmp_path / "token"
    token.write_text(sim.token, encoding="utf-8")
    environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(sim.server.port)}
    conn = connect(environ=environ, token_file=str(token), ca_file=str(authority().ca_path))
    assert (conn.context, conn.server) == ("in-cluster", sim.url)
    install_keda(kube)
    listed = KubeReader(conn.api_client).list("apps", "v1", "deployments", namespace="keda")
    assert [d["metadata"]["name"] for d in listed.items] == ["keda-operator"]
    conn.close()

    with pytest.raises(InputError, match=r"in-cluster configuration cannot be used .*token file does not exist"):
        connect(environ=environ, token_file=str(tmp_path / "absent"), ca_file=str(authority().ca_path))
    with pytest.raises(InputError, match=r"--context prod needs a kubeconfig"):
        connect(None, "prod", environ=environ, token_file=str(token), ca_file=str(authority().ca_path))


# -- the reader
def test_lists_are_paginated_and_items_carry_kind_and_api_version(kube: Kube, sim: KubeSim,
                                                                  connection: KubeConnection) -> None:
    for index in range(7):
        kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": f"cm-{index}"}})
    reader, _ = reader_for(connection, page_size=3)
    mark = len(sim.server.requests)
    listed = reader.list("", "v1", "configmaps", namespace=kube.namespace)
    assert sorted(i["metadata"]["name"] for i in listed.items) == sorted(
        ["kube-root-ca.crt", *(f"cm-{i}" for i in range(7))])
    assert {(i["kind"], i["apiVersion"]) for i in listed.items} == {("ConfigMap", "v1")}
    calls = requests_after(sim, mark)
    assert listed.pages == len(calls) == 3 == reader.requests
    assert [c.query["limit"] for c in calls] == [["3"]] * 3
    assert ["continue" in c.query for c in calls] == [False, True, True]
    first = reader.list("", "v1", "configmaps", namespace=kube.namespace, single_page=True, limit=2)
    assert (len(first.items), first.pages) == (2, 1)


def test_an_expired_continue_token_restarts_the_list_once(kube: Kube, sim: KubeSim,
                                                          connection: KubeConnection) -> None:
    for index in range(5):
        kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": f"cm-{index}"}})
    reader, _ = reader_for(connection, page_size=2)
    compactions: list[str] = []

    def compact_once(item: dict[str, Any]) -> bool:
        if not compactions:  # the server compacts while the first page is being read, and life goes on
            compactions.append(item["metadata"]["name"])
            sim.compact()
            kube.core.create_namespaced_config_map("default", {"metadata": {"name": "written-meanwhile"}})
        return True

    listed = reader.list("", "v1", "configmaps", namespace=kube.namespace, keep=compact_once)
    assert len(listed.items) == 6 and len({i["metadata"]["name"] for i in listed.items}) == 6
    assert listed.pages == 4  # one page, the 410, then three pages from the start
    assert reader.requests == 5

    def compact_always(_: dict[str, Any]) -> bool:
        sim.compact()
        return True

    with pytest.raises(ListFailed, match=r"410 Gone"):
        reader.list("", "v1", "configmaps", namespace=kube.namespace, keep=compact_always)


def test_denied_missing_and_failing_reads_raise_what_happened(sim: KubeSim, connection: KubeConnection) -> None:
    reader, waits = reader_for(connection)
    sim.faults.add(method="GET", path=r"^/api/v1/nodes$", status=403, times=None,
                   message='nodes is forbidden: User "bot" cannot list resource "nodes"')
    with pytest.raises(ListDenied) as denied:
        reader.list("", "v1", "nodes")
    assert denied.value.status == 403 and denied.value.message.startswith("nodes is forbidden")
    assert denied.value.reason == '403 Forbidden: nodes is forbidden: User "bot" cannot list resource "nodes"'
    with pytest.raises(KindNotServed):
        reader.list("keda.sh", "v1alpha1", "scaledobjects")
    assert reader.requests == 2 and waits == []  # neither is retried
    dropped = sim.faults.add(method="GET", path=r"^/version$", drop=True, times=None)
    with pytest.raises(ListFailed, match=r"connection failed \(\w+\) after 3 attempts"):
        reader.get_json("/version")
    assert dropped.fired == 3 == reader.requests - 2  # no retries hidden underneath in urllib3


def test_throttling_is_retried_honouring_retry_after_capped(sim: KubeSim, connection: KubeConnection) -> None:
    reader, waits = reader_for(connection, max_backoff=1.5)
    sim.faults.add(method="GET", path=r"^/apis/apps/v1/deployments$", status=429, retry_after=1, times=1)
    sim.faults.add(method="GET", path=r"^/apis/apps/v1/deployments$", status=429, retry_after=30, times=1)
    listed = reader.list("apps", "v1", "deployments")
    assert listed.pages == 1 and reader.requests == 3
    assert waits == [1.0, 1.5]  # what the server asked for, but never more than max_backoff


def test_server_errors_back_off_then_succeed_or_give_up(sim: KubeSim, connection: KubeConnection) -> None:
    reader, waits = reader_for(connection, attempts=4, backoff=0.01, max_backoff=1.0)
    sim.faults.add(method="GET", path=r"^/apis/apps/v1/deployments$", status=500, times=2)
    assert reader.list("apps", "v1", "deployments").pages == 1
    assert waits == [0.01, 0.02] and reader.requests == 3
    waits.clear()
    sim.faults.add(method="GET", path=r"^/api/v1/nodes$", status=503, times=None)
    with pytest.raises(ListFailed) as failed:
        reader.list("", "v1", "nodes")
    assert failed.value.reason.startswith("503 after 4 attempts: The server is currently unable")
    assert waits == [0.01, 0.02, 0.04] and reader.requests == 7


def test_a_hung_request_times_out_and_is_retried(sim: KubeSim, connection: KubeConnection) -> None:
    reader, _ = reader_for(connection, attempts=2, timeout=(2.0, 0.5))
    hung = sim.faults.add(method="GET", path=r"^/apis/apps/v1/deployments$", hang=True, times=1)
    assert reader.list("apps", "v1", "deployments").pages == 1
    assert hung.fired == 1 and reader.requests == 2
    sim.faults.add(method="GET", path=r"^/api/v1/nodes$", hang=True, times=None)
    with pytest.raises(ListFailed, match=r"^timed out after 2 attempts$"):
        reader.list("", "v1", "nodes")


# -- collecting
def test_collects_every_kind_the_checks_read_within_the_request_budget(kube: Kube, sim: KubeSim,
                                                                       connection: KubeConnection) -> None:
    keda = healthy_cluster(kube)
    apps = in_namespace(kube, "apps")
    for index in range(5):
        scaled_object(apps, f"orders-{index}")
    warning_event(apps, "orders-failed")
    reader, _ = reader_for(connection, page_size=2)
    mark = len(sim.server.requests)
    result = collect(reader, connection)
    calls = requests_after(sim, mark)

    assert result.gaps == []
    assert {"Deployment", "Pod", "ServiceAccount", "Event", "ConfigMap", "Endpoints", "Node",
            "MutatingWebhookConfiguration", "APIService", "CustomResourceDefinition", "ScaledObject", "ScaledJob",
            "TriggerAuthentication", "ClusterTriggerAuthentication"} == result.collected
    assert len(result.objects["ScaledObject"]) == 5 and len(result.objects["TriggerAuthentication"]) == 5
    assert result.pages["ScaledObject"] == 3
    assert "keda/keda-operator" in names(result, "Deployment")
    assert names(result, "ConfigMap") == {"azure-workload-identity-system/azure-wi-webhook-config"}
    assert {o["kind"] for o in result.objects["CustomResourceDefinition"]} == {"CustomResourceDefinition"}
    assert all(n.endswith(".keda.sh") for n in names(result, "CustomResourceDefinition"))
    assert names(result, "Event") == {"apps/orders-failed"}
    assert [p["metadata"]["name"] for p in result.objects["Pod"]] == [p.metadata.name for p in operator_pods(keda)]
    assert (result.context, result.server, result.server_version) == ("kubesim", sim.url, "v1.34.2")
    assert result.issuer == sim.issuer.issuer

    lists = [c for c in calls if c.path not in ("/version", "/.well-known/openid-configuration")
             and not c.path.endswith("/log")]
    assert len(lists) <= sum(result.pages.values())  # one request per page: never a GET per object
    assert result.requests == len(calls) == reader.requests
    assert all(c.method == "GET" and "limit" in c.query for c in lists)
    assert not any("/secrets" in c.path or "/replicasets" in c.path for c in calls)


def test_finds_two_keda_installs_and_tails_the_newest_operator_pods(kube: Kube, sim: KubeSim,
                                                                   connection: KubeConnection) -> None:
    keda = healthy_cluster(kube)
    addon = install_keda(kube, "kube-system")  # the AKS add-on
    keda.apps.patch_namespaced_deployment_scale("keda-operator", "keda", {"spec": {"replicas": 3}})
    now = sim.clock.now()
    for target in (keda, addon):
        for pod in operator_pods(target):
            sim.write_log(target.namespace, pod.metadata.name, "keda-operator", ["an hour and more ago"],
                          at=now - 4000)
            sim.write_log(target.namespace, pod.metadata.name, "keda-operator",
                          [f"{pod.metadata.name} line {i}" for i in range(30)])
    reader, _ = reader_for(connection)
    result = collect(reader, connection, log_lines=10, log_age_seconds=3600)

    assert {"keda/keda-operator", "kube-system/keda-operator"} <= names(result, "Deployment")
    assert {p.split("/")[0] for p in names(result, "Pod")} == {"keda", "kube-system"}
    by_namespace = {ns: [t for t in result.logs if t.namespace == ns] for ns in ("keda", "kube-system")}
    assert len(by_namespace["keda"]) == 2 and len(by_namespace["kube-system"]) == 1  # at most 2 per install
    for tail in result.logs:
        assert tail.container == "keda-operator"
        assert tail.lines == tuple(f"{tail.pod} line {i}" for i in range(20, 30))  # tail and age bounded
    assert result.gaps == []


def test_scoped_collection_lists_keda_resources_in_that_namespace_only(kube: Kube, sim: KubeSim,
                                                                       connection: KubeConnection) -> None:
    keda = healthy_cluster(kube)
    apps, other = in_namespace(kube, "apps"), in_namespace(kube, "other")
    scaled_object(apps, "orders")
    scaled_object(other, "invoices")
    warning_event(apps, "in-scope")
    warning_event(keda, "from-keda")
    warning_event(other, "out-of-scope")
    reader, _ = reader_for(connection)
    mark = len(sim.server.requests)
    result = collect(reader, connection, namespace="apps")

    assert names(result, "ScaledObject") == {"apps/orders"}
    assert names(result, "TriggerAuthentication") == {"apps/orders-auth"}
    assert names(result, "Event") == {"apps/in-scope", "keda/from-keda"}
    paths = {c.path for c in requests_after(sim, mark)}
    assert "/apis/keda.sh/v1alpha1/scaledobjects" not in paths
    assert "/apis/keda.sh/v1alpha1/triggerauthentications" not in paths
    assert "/api/v1/events" not in paths
    assert {"/apis/keda.sh/v1alpha1/namespaces/apps/scaledobjects", "/api/v1/namespaces/keda/events",
            "/apis/apps/v1/deployments", "/apis/keda.sh/v1alpha1/clustertriggerauthentications"} <= paths


def test_keda_kinds_not_served_are_collected_as_none(kube: Kube, connection: KubeConnection) -> None:
    install_keda(kube)  # an operator, but no CRDs
    reader, _ = reader_for(connection)
    result = collect(reader, connection)
    assert {"ScaledObject", "ScaledJob", "TriggerAuthentication", "ClusterTriggerAuthentication"} <= result.collected
    assert "ScaledObject" not in result.objects and result.gaps == []


def test_a_denied_list_becomes_a_gap_naming_the_rbac_rule(kube: Kube, sim: KubeSim,
                                                          connection: KubeConnection) -> None:
    healthy_cluster(kube)
    message = ('deployments.apps is forbidden: User "system:serviceaccount:ops:keda-auth" cannot list resource '
               '"deployments" in API group "apps" at the cluster scope')
    sim.faults.add(method="GET", path=r"^/apis/apps/v1/deployments$", status=403, message=message, times=None)
    reader, _ = reader_for(connection)
    mark = len(sim.server.requests)
    result = collect(reader, connection)

    [gap] = result.gaps
    assert gap.kind == "Deployment" and gap.source == "kubernetes"
    assert gap.grant == 'RBAC rule: apiGroups ["apps"], resources ["deployments"], verbs ["list"] cluster-wide ' \
                       "(ClusterRole)"
    assert gap.reason == f"403 Forbidden: {message}"
    assert gap.what == "Deployments (apps/v1) in all namespaces"
    assert "Deployment" not in result.objects and "Deployment" not in result.collected
    # Without Deployments nobody knows where KEDA runs, so its Pods are not claimed to be "none" either.
    assert "Pod" not in result.collected and "Pod" not in result.objects
    assert {"ScaledObject", "MutatingWebhookConfiguration", "ConfigMap", "Event", "Node"} <= result.collected
    denied = [c for c in requests_after(sim, mark) if c.path == "/apis/apps/v1/deployments"]
    assert len(denied) == 1  # a 403 is not retried


def test_a_namespaced_failure_drops_the_kinds_partial_data(kube: Kube, sim: KubeSim,
                                                           connection: KubeConnection) -> None:
    healthy_cluster(kube)
    install_keda(kube, "kube-system")
    sim.faults.add(method="GET", path=r"^/api/v1/namespaces/kube-system/pods$", status=500, times=None)
    reader, _ = reader_for(connection)
    result = collect(reader, connection)

    [gap] = result.gaps
    assert gap.grant == 'RBAC rule: apiGroups [""], resources ["pods"], verbs ["list"] in namespace kube-system (Role)'
    assert gap.reason.startswith("500 after 3 attempts")
    assert "Pod" not in result.objects and "Pod" not in result.collected  # keda's pods were read, but dropped
    assert "ServiceAccount" in result.collected and result.logs == []


def test_refused_credentials_say_how_to_refresh_them(kube: Kube, sim: KubeSim, connection: KubeConnection) -> None:
    healthy_cluster(kube)
    sim.faults.add(method="GET", path=r"^/apis/keda\.sh/", status=401, message="Unauthorized", times=None)
    reader, _ = reader_for(connection)
    result = collect(reader, connection)
    assert {g.kind for g in result.gaps} == {"ScaledObject", "ScaledJob", "TriggerAuthentication",
                                             "ClusterTriggerAuthentication"}
    assert all("az aks get-credentials" in g.grant and "kubelogin" in g.grant for g in result.gaps)
    assert all(g.reason == "401 Unauthorized: Unauthorized" for g in result.gaps)
    assert "ScaledObject" not in result.collected and "Deployment" in result.collected


def test_throttled_and_flaky_lists_still_collect(kube: Kube, sim: KubeSim, connection: KubeConnection) -> None:
    healthy_cluster(kube)
    sim.faults.add(method="GET", path=r"^/apis/apps/v1/deployments$", status=429, retry_after=0.5, times=1)
    sim.faults.add(method="GET", path=r"^/apis/keda\.sh/v1alpha1/scaledobjects$", status=500, times=2)
    reader, waits = reader_for(connection, max_backoff=1.0)
    result = collect(reader, connection)
    assert result.gaps == [] and {"Deployment", "ScaledObject"} <= result.collected
    assert sorted(waits) == [0.01, 0.02, 0.5]


def test_timeouts_and_log_failures_become_gaps_not_errors(kube: Kube, sim: KubeSim,
                                                          connection: KubeConnection) -> None:
    healthy_cluster(kube)
    sim.faults.add(method="GET", path=r"^/api/v1/nodes$", hang=True, times=None)
    sim.faults.add(method="GET", path=r"/pods/[^/]+/log$", status=503, times=None)
    sim.faults.add(method="GET", path=r"^/version$", status=500, times=None)
    reader, _ = reader_for(connection, attempts=2, timeout=(2.0, 0.5))
    result = collect(reader, connection)

    gaps = {g.kind: g for g in result.gaps}
    assert set(gaps) == {"Node", "Pod/log"}
    assert gaps["Node"].reason == "timed out after 2 attempts"
    assert gaps["Pod/log"].grant == ('RBAC rule: apiGroups [""], resources ["pods/log"], verbs ["get"] '
                                     "in namespace keda (Role)")
    assert gaps["Pod/log"].what.startswith("logs of Pod keda/keda-operator-")
    assert "Node" not in result.collected and result.logs == []
    assert result.server_version is None and "Deployment" in result.collected


def _progress_recorder() -> tuple[list[tuple[int, int, str]], Callable[[int, int, str], None]]:
    seen: list[tuple[int, int, str]] = []
    return seen, lambda done, total, label: seen.append((done, total, label))


def test_progress_reports_every_finished_read(kube: Kube, connection: KubeConnection) -> None:
    healthy_cluster(kube)
    reader, _ = reader_for(connection)
    seen, progress = _progress_recorder()
    collect(reader, connection, progress=progress, workers=3)
    assert [done for done, _, _ in seen] == list(range(1, len(seen) + 1))
    assert seen[-1][1] == len(seen) and all(done <= total for done, total, _ in seen)
    labels = {label for _, _, label in seen}
    assert "Deployments (apps/v1) in all namespaces" in labels
    assert "Pods (v1) in namespace keda" in labels
    assert any(label.startswith("logs of keda/keda-operator-") for label in labels)
