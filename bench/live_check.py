"""Benchmark: a live `check` of a big cluster, against the simulators, through the official clients.

Seeds 2,000 ScaledObjects in 200 namespaces, 1,000 TriggerAuthentications and 50 identities (each with a
federated credential and a Service Bus role), then runs the live check and prints:
- Kubernetes requests (and the list pages they are made of, per kind),
- ARM requests (target: <= 3 per distinct identity + 2 per cluster),
- the wall time of `check` (collect + diagnose), and the floor: the very same HTTP requests replayed bare
  (no retries, no parsing, no diagnosis) on the same number of threads, in the same run, in the order the
  data forces (cluster-wide lists, then the KEDA namespaces' lists, then logs; then subscription-wide ARM
  lists, then per identity; pages of one list in sequence) (target: check <= 1.5 x floor).

    python bench/live_check.py [--namespaces 200] [--per-namespace 10] [--identities 50] [--workers 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import resource
import ssl
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import urllib3
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.msi.models import FederatedIdentityCredential, Identity

from bot.diagnosis.engine import diagnose
from bot.live.options import LiveOptions
from bot.live.session import collect_live
from tests.kit.azuresim import AzureSim
from tests.kit.azuresim.client import ArmRest
from tests.kit.fixtures import document
from tests.kit.kubesim import KubeSim
from tests.kit.seed import apply, ensure_awi_webhook, install_keda_operator
from tests.kit.sim.server import RecordedRequest
from tests.kit.sim.tls import authority
from tests.kit.targets import Kube

RG = "rg-bench"
CLUSTER = "aks-bench"
SB = "sb-bench"
QUEUES = 20
SB_DATA_OWNER = "090c5cfd-751d-490a-894a-3ce6f1109419"
KEDA_SUBJECT = "system:serviceaccount:keda:keda-operator"
HOUR = timedelta(hours=1)


def _seed_azure(sim: AzureSim, identities: int) -> tuple[str, list[str]]:
    """The AKS cluster, a Service Bus namespace with queues, and identities trusted by KEDA's SA."""
    from azure.mgmt.containerservice import ContainerServiceClient, models

    sub = sim.subscription_ids[0]
    admin = sim.admin_credential()
    rest = ArmRest(admin, **sim.client_kwargs())
    rest.send("PUT", f"/subscriptions/{sub}/resourceGroups/{RG}", {"location": "westeurope"})
    aks = ContainerServiceClient(admin, sub, **sim.client_kwargs())
    cluster = aks.managed_clusters.begin_create_or_update(RG, CLUSTER, models.ManagedCluster(
        location="westeurope", properties=models.ManagedClusterProperties(
            dns_prefix=CLUSTER, oidc_issuer_profile=models.ManagedClusterOIDCIssuerProfile(enabled=True),
            security_profile=models.ManagedClusterSecurityProfile(
                workload_identity=models.ManagedClusterSecurityProfileWorkloadIdentity(enabled=True))))).result()
    issuer: str = cluster.oidc_issuer_profile.issuer_url
    namespace = f"/subscriptions/{sub}/resourceGroups/{RG}/providers/Microsoft.ServiceBus/namespaces/{SB}"
    rest.put(namespace, {"location": "westeurope", "sku": {"name": "Standard"}})
    for q in range(QUEUES):
        rest.put(f"{namespace}/queues/q{q}", {"properties": {}})
    msi = ManagedServiceIdentityClient(admin, sub, **sim.client_kwargs())
    authz = AuthorizationManagementClient(admin, sub, **sim.client_kwargs())
    client_ids = []

    def one(index: int) -> str:
        name = f"id-{index:02d}"
        identity = msi.user_assigned_identities.create_or_update(RG, name, Identity(location="westeurope"))
        msi.federated_identity_credentials.create_or_update(RG, name, "keda", FederatedIdentityCredential(
            issuer=issuer, subject=KEDA_SUBJECT, audiences=["api://AzureADTokenExchange"]))
        authz.role_assignments.create(namespace, str(uuid.uuid4()), RoleAssignmentCreateParameters(
            role_definition_id=f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/"
                               f"{SB_DATA_OWNER}", principal_id=identity.principal_id,
            principal_type="ServicePrincipal"))
        return str(identity.client_id)

    with ThreadPoolExecutor(8) as pool:
        client_ids = list(pool.map(one, range(identities)))
    return issuer, client_ids


def _seed_kubernetes(kube_sim: KubeSim, tenant: str, client_ids: list[str], namespaces: int, per_ns: int) -> int:
    api = kube_sim.api_client()
    keda = Kube(api, "keda", kube_sim)
    keda.core.create_namespace({"metadata": {"name": "keda"}})
    apply(keda, [document(f"keda/crds/2.20.2/keda.sh_{plural}.yaml", "CustomResourceDefinition") for plural in (
        "scaledobjects", "scaledjobs", "triggerauthentications", "clustertriggerauthentications")])
    ensure_awi_webhook(keda, tenant)
    install_keda_operator(keda, client_ids[0], tenant)
    triggers = 0

    def namespace(n: int) -> int:
        ns = f"team-{n:03d}"
        kube = Kube(api, ns, kube_sim)
        kube.core.create_namespace({"metadata": {"name": ns}})
        auths = per_ns // 2
        for a in range(auths):
            identity = client_ids[(n * auths + a) % len(client_ids)]
            kube.custom.create_namespaced_custom_object("keda.sh", "v1alpha1", ns, "triggerauthentications", {
                "apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication", "metadata": {"name": f"auth-{a}"},
                "spec": {"podIdentity": {"provider": "azure-workload", "identityId": identity}}})
        for s in range(per_ns):
            kube.custom.create_namespaced_custom_object("keda.sh", "v1alpha1", ns, "scaledobjects", {
                "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": f"worker-{s}"},
                "spec": {"scaleTargetRef": {"name": f"worker-{s}"}, "triggers": [{
                    "type": "azure-servicebus", "authenticationRef": {"name": f"auth-{s % auths}"},
                    "metadata": {"namespace": SB, "queueName": f"q{(n + s) % QUEUES}", "messageCount": "5"}}]}})
        return per_ns

    with ThreadPoolExecutor(8) as pool:
        triggers = sum(pool.map(namespace, range(namespaces)))
    return triggers


_PAGE_TOKENS = {"continue", "$skiptoken", "$skipToken"}


def _kube_stage(request: RecordedRequest) -> int:
    """What a request must wait for: cluster-wide lists first, then the KEDA/webhook namespaces', then logs."""
    if request.path.endswith("/log"):
        return 3
    return 2 if re.search(r"^/api(s/[^/]+)?/v1/namespaces/[^/]+/", request.path) else 1


def _arm_stage(request: RecordedRequest) -> int:
    """Subscription-wide lists and the cluster first; what depends on the identities or namespaces found, next."""
    low = request.path.lower()
    if "/microsoft.authorization/" in low or "/federatedidentitycredentials" in low or low.count("/providers/") > 1:
        return 2
    return 2 if re.search(r"/namespaces/[^/]+/(queues|topics)", low) else 1


def _replay(requests: list[RecordedRequest], stage_of: Any, base: str, token: str, ca: str, workers: int) -> float:
    """The same requests, bare (one urllib3 pool, no retries, bodies read and dropped), in the order the data
    forces: stage by stage, the pages of one list one after another, everything else on `workers` threads."""
    host = urlsplit(base)
    context = ssl.create_default_context(cafile=ca)
    assert host.hostname is not None
    pool = urllib3.HTTPSConnectionPool(host.hostname, host.port, maxsize=workers, ssl_context=context, retries=False)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def one(request: RecordedRequest) -> int:
        query = urlencode([(k, v) for k, values in request.query.items() for v in values])
        return len(pool.request(request.method, request.path + (f"?{query}" if query else ""), headers=headers).data)

    stages: dict[int, dict[tuple[str, str], list[RecordedRequest]]] = {}
    for request in requests:
        key = (request.path, urlencode(sorted((k, v[0]) for k, v in request.query.items() if k not in _PAGE_TOKENS)))
        stages.setdefault(stage_of(request), {}).setdefault(key, []).append(request)
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as executor:
        for stage in sorted(stages):
            list(executor.map(lambda pages: sum(one(p) for p in pages), stages[stage].values()))
    return time.perf_counter() - started


def _simulators(args: argparse.Namespace, tmp: str, conn: Connection) -> None:
    """The child process: both simulators, seeded, answering the parent's questions about their request logs.

    A real API server does not share the checker's process; in-process simulators would make the checker
    pay for their garbage collection and GIL time, and the floor would not.
    """
    with AzureSim() as azure:
        started = time.perf_counter()
        issuer, client_ids = _seed_azure(azure, args.identities)
        with KubeSim(issuer=issuer) as kube_sim:
            triggers = _seed_kubernetes(kube_sim, azure.tenant_id, client_ids, args.namespaces, args.per_namespace)
            admin = azure.admin()
            conn.send({
                "seeded": f"seeded {triggers} ScaledObjects in {args.namespaces} namespaces, "
                          f"{args.namespaces * (args.per_namespace // 2)} TriggerAuthentications, "
                          f"{len(client_ids)} identities in {time.perf_counter() - started:.1f} s",
                "kubeconfig": str(kube_sim.write_kubeconfig(Path(tmp) / "kubeconfig")), "kube_url": kube_sim.url,
                "kube_token": kube_sim.token, "kube_ca": str(authority().ca_path), "arm_url": azure.arm_url,
                "ca": str(azure.ca_path), "sub": azure.subscription_ids[0], "tenant": azure.tenant_id,
                "app_id": admin.app_id, "secret": admin.secret, "authority": azure.authority_host,
                "identities": len(client_ids)})
            while True:
                command = conn.recv()
                if command == "stop":
                    return
                if command == "marks":
                    conn.send((len(kube_sim.server.requests), len(azure.arm.requests)))
                else:
                    k0, a0 = command
                    conn.send((list(kube_sim.server.requests)[k0:], list(azure.arm.requests)[a0:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--per-namespace", type=int, default=10)
    parser.add_argument("--identities", type=int, default=50)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from azure.identity import ClientSecretCredential

    with tempfile.TemporaryDirectory() as tmp:
        conn, child_conn = multiprocessing.Pipe()
        child = multiprocessing.Process(target=_simulators, args=(args, tmp, child_conn), daemon=True)
        child.start()
        env = conn.recv()
        print(env["seeded"])
        sub = env["sub"]
        options = LiveOptions(
            kubeconfig=env["kubeconfig"], subscriptions=(sub,),
            aks_resource_id=f"/subscriptions/{sub}/resourceGroups/{RG}/providers/"
                            f"Microsoft.ContainerService/managedClusters/{CLUSTER}",
            arm_endpoint=env["arm_url"], connection_verify=env["ca"], workers=args.workers)
        credential = ClientSecretCredential(env["tenant"], env["app_id"], env["secret"], authority=env["authority"],
                                            connection_verify=env["ca"], disable_instance_discovery=True)
        token = credential.get_token("https://management.azure.com/.default").token
        best_check = best_floor = float("inf")
        for _ in range(args.repeat):
            conn.send("marks")
            marks = conn.recv()
            t0 = time.perf_counter()
            # An hour after seeding, so fresh FICs and role assignments count as propagated.
            assembled, stats = collect_live(options, credential=credential, now=lambda: datetime.now(UTC) + HOUR)
            report = diagnose(assembled.snapshot())
            check_time = time.perf_counter() - t0
            conn.send(marks)
            kube_requests, arm_requests = conn.recv()
            kube_floor = _replay(kube_requests, _kube_stage, env["kube_url"], env["kube_token"], env["kube_ca"],
                                 args.workers)
            arm_floor = _replay(arm_requests, _arm_stage, env["arm_url"], token, env["ca"], args.workers)
            floor = kube_floor + arm_floor
            print(f"  run: check {check_time * 1000:.0f} ms; floor {floor * 1000:.0f} ms "
                  f"(Kubernetes {kube_floor * 1000:.0f} ms, ARM {arm_floor * 1000:.0f} ms)")
            best_check, best_floor = min(best_check, check_time), min(best_floor, floor)
        conn.send("stop")
        child.join(10)
    lists = [r for r in kube_requests if not r.path.endswith("/log") and r.path not in (
        "/version", "/.well-known/openid-configuration")]
    kinds = {r.path.rstrip("/").rsplit("/", 1)[-1] for r in lists}
    arm_budget = 3 * env["identities"] + 2
    print(f"findings: {len(report.findings)} ({', '.join(sorted({f.id for f in report.findings})) or 'none'}),"
          f" gaps: {len(assembled.gaps)}")
    print(f"Kubernetes requests: {len(kube_requests)} = {len(lists)} list pages over {len(kinds)} kinds "
          f"(reader counted {stats.kube_requests}, pages {stats.kube_pages}) + "
          f"{len(kube_requests) - len(lists)} other (/version, OIDC discovery, operator log tails); "
          f"target: list requests <= kinds x pages -> {'PASS' if len(lists) <= stats.kube_pages else 'FAIL'}")
    print(f"ARM requests: {len(arm_requests)} (reader counted {stats.arm_requests}); target <= 3 x "
          f"{env['identities']} identities + 2 x 1 cluster = {arm_budget} -> "
          f"{'PASS' if len(arm_requests) <= arm_budget else 'FAIL'}")
    print(f"check wall time: {best_check * 1000:.0f} ms (best of {args.repeat}); floor (same "
          f"{len(kube_requests) + len(arm_requests)} requests bare, {args.workers} threads): "
          f"{best_floor * 1000:.0f} ms; ratio {best_check / best_floor:.2f} (target <= 1.5) -> "
          f"{'PASS' if best_check <= 1.5 * best_floor else 'FAIL'}")
    print(f"peak RSS of the checker: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
