"""Benchmark: how fast the test kit's simulators start and answer, through the official clients.

Prints, for the Kubernetes API-server simulator and the ARM + Entra simulator:
- start-up of both (fresh process: imports + first start; warm: another pair in the same process),
- median/p95 round trip of a GET through `kubernetes` and through `azure-mgmt-msi`,
- a Workload Identity token exchange through `azure-identity`,
- a Deployment rollout (create → pod Running with the webhook's injection) and a restart,
- a 2,000-object paginated list, and peak RSS.
Target: both simulators start in well under a second.

    python bench/simulators.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_T0 = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kubernetes import client  # noqa: E402

from tests.kit.azuresim import AzureSim  # noqa: E402
from tests.kit.azuresim.client import ArmRest  # noqa: E402
from tests.kit.kubesim import KubeSim  # noqa: E402
from tests.kit.seed import apply, awi_webhook_manifest, install_keda_operator  # noqa: E402
from tests.kit.targets import Kube  # noqa: E402

_IMPORTED = time.perf_counter()


def _timed(action: Any, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):7.2f} ms   p95 {p95:7.2f} ms   (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()

    started = time.perf_counter()
    kube_sim = KubeSim().start()
    azure_sim = AzureSim().start()
    first_start = time.perf_counter() - started
    started = time.perf_counter()
    with KubeSim(), AzureSim():
        warm_start = time.perf_counter() - started
    print(f"imports                        {(_IMPORTED - _T0) * 1000:8.1f} ms")
    print(f"first start (both simulators)  {first_start * 1000:8.1f} ms")
    print(f"warm start  (both simulators)  {warm_start * 1000:8.1f} ms")

    api = kube_sim.api_client()
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": "bench"}})
    kube = Kube(api, "bench", kube_sim)
    print(f"k8s GET namespace              {_summary(_timed(lambda: core.read_namespace('bench'), args.repeat))}")

    from azure.mgmt.msi import ManagedServiceIdentityClient

    credential = azure_sim.admin_credential()
    subscription = azure_sim.subscription_ids[0]
    ArmRest(credential, **azure_sim.client_kwargs()).send(
        "PUT", f"/subscriptions/{subscription}/resourceGroups/rg", {"location": "westeurope"})
    msi = ManagedServiceIdentityClient(credential, subscription, **azure_sim.client_kwargs())
    identity = msi.user_assigned_identities.create_or_update("rg", "keda", {"location": "westeurope"})
    print(f"ARM GET identity               "
          f"{_summary(_timed(lambda: msi.user_assigned_identities.get('rg', 'keda'), args.repeat))}")

    apply(kube, awi_webhook_manifest("v1.6.0", azure_sim.tenant_id))
    started = time.perf_counter()
    install_keda_operator(kube, identity.client_id, azure_sim.tenant_id)
    rollout = time.perf_counter() - started
    pods = core.list_namespaced_pod("bench", label_selector="app=keda-operator").items
    assert pods and pods[0].status.phase == "Running"
    print(f"operator rollout (SA+Deploy)   {rollout * 1000:8.1f} ms  -> pod Running with injected identity")
    apps = client.AppsV1Api(api)

    def restart() -> None:
        apps.patch_namespaced_deployment("keda-operator", "bench", {"spec": {"template": {"metadata": {
            "annotations": {"kubectl.kubernetes.io/restartedAt": str(time.time())}}}}})

    print(f"rollout restart                {_summary(_timed(restart, 10))}")

    for i in range(2000):
        core.create_namespaced_config_map("bench", {"metadata": {"name": f"cm-{i:04d}"}})
    token = None
    started = time.perf_counter()
    pages = 0
    while True:
        page = core.list_namespaced_config_map("bench", limit=500, _continue=token)
        pages += 1
        token = page.metadata._continue
        if not token:
            break
    print(f"list 2,000 ConfigMaps          {(time.perf_counter() - started) * 1000:8.1f} ms in {pages} pages")

    from tests.kit.azuresim.testing import token_file, workload_credential

    issuer = kube_sim.issuer
    azure_sim.trust_issuer(issuer.issuer, issuer.jwks())
    from azure.mgmt.msi.models import FederatedIdentityCredential

    msi.federated_identity_credentials.create_or_update("rg", "keda", "keda-operator", FederatedIdentityCredential(
        issuer=issuer.issuer, subject="system:serviceaccount:keda:keda-operator",
        audiences=["api://AzureADTokenExchange"]))
    path = token_file(Path(tempfile.mkdtemp(prefix="keda-auth-bench-")), issuer)

    def exchange() -> None:
        workload_credential(azure_sim, identity.client_id, path).get_token("https://management.azure.com/.default")

    print(f"WI token exchange (new cred)   {_summary(_timed(exchange, min(args.repeat, 20)))}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS                       {rss:8.1f} MB")
    api.close()
    kube_sim.stop()
    azure_sim.stop()


if __name__ == "__main__":
    main()
