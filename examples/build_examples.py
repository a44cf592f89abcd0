"""Regenerate examples/bundles/ from the real upstream manifests in ../shared/fixtures.

Each example is what `kubectl ... -o yaml` and `az ... -o json` would print for that cluster, split
into files the way a person collects them. `index.json` records what each example must show; the test
suite checks both that the committed bundles are current and that they diagnose as advertised.

    python examples/build_examples.py
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.kit.cluster import (  # noqa: E402
    APP_NS,
    KEDA_CLIENT,
    KEDA_PRINCIPAL,
    ClusterState,
    healthy,
    sb_namespace_id,
)

HERE = Path(__file__).resolve().parent / "bundles"
OPERATOR_POD = "keda-operator-6c9f7b5d8-x2kqp"
SB_RECEIVER = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"


def _log(state: ClusterState, *lines: str) -> None:
    pod = next(p for p in state.all("Pod") if p["metadata"]["name"].startswith("keda-operator-"))
    state.logs[f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"] = "\n".join(lines) + "\n"


def broken_pod_label(state: ClusterState) -> None:
    label = "azure.workload.identity/use"
    del state.deployment["spec"]["template"]["metadata"]["labels"][label]
    del state.pod["metadata"]["labels"][label]
    container = state.pod["spec"]["containers"][0]
    container["env"] = [e for e in container["env"] if not e["name"].startswith("AZURE_")]
    container["volumeMounts"] = [m for m in container["volumeMounts"] if "azure" not in m["name"]]
    state.pod["spec"]["volumes"] = [v for v in state.pod["spec"]["volumes"] if "azure" not in v["name"]]
    _log(state,
         '2026-11-26T09:58:30Z\tERROR\tscale_handler\terror starting azure workload-identity token provider\t'
         '{"error": "no client ID specified. Check pod configuration or set ClientID in the options"}',
         '2026-11-26T09:58:30Z\tERROR\tazure_servicebus_scaler\terror getting service bus entity length\t'
         '{"type": "ScaledObject", "namespace": "orders", "name": "orders-processor", '
         '"error": "sources must contain at least one TokenCredential"}')


def broken_fic_subject(state: ClusterState) -> None:
    """The FIC was created for the workload's ServiceAccount, not KEDA's."""
    fic = state.arm("federatedIdentityCredentials")
    fic["properties"]["subject"] = f"system:serviceaccount:{APP_NS}:orders-processor"
    _log(state,
         '2026-11-26T09:59:10Z\tERROR\tazure_servicebus_scaler\terror getting service bus entity length\t'
         '{"error": "ChainedTokenCredential authentication failed\\nPOST https://login.microsoftonline.com/'
         '72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token\\nRESPONSE 401: AADSTS70021: No matching '
         "federated identity record found for presented assertion. Assertion Issuer: 'https://westeurope.oic."
         "prod-aks.azure.com/72f988bf-86f1-41af-91ab-2d7cd011db47/3c1f9ad1-3f2a-4d0e-9f5c-6f3b2a1e9c11/'. "
         "Assertion Subject: 'system:serviceaccount:keda:keda-operator'. Assertion Audience: "
         "'api://AzureADTokenExchange'.\"}")


def broken_rbac_receiver(state: ClusterState) -> None:
    """KEDA's identity only has Data Receiver, which cannot read runtime properties."""
    state.azure.remove(state.arm("roleAssignments"))
    state.add_role_assignment(KEDA_PRINCIPAL, SB_RECEIVER, sb_namespace_id())
    _log(state,
         '2026-11-26T09:59:40Z\tERROR\tazure_servicebus_scaler\terror getting service bus entity length\t'
         '{"error": "GET https://sb-prod-weu.servicebus.windows.net/orders\\nRESPONSE 401: 401 Unauthorized\\n'
         '<Error><Code>401</Code><Detail>Manage,EntityRead claims required for this operation.</Detail></Error>"}')


def broken_identityid_objectid(state: ClusterState) -> None:
    """The TriggerAuthentication's identityId holds the principal (object) id, not the client id."""
    state.trigger_auth["spec"]["podIdentity"]["identityId"] = KEDA_PRINCIPAL


def propagating_role(state: ClusterState) -> None:
    """The role assignment was created three minutes before the bundle was collected."""
    state.arm("roleAssignments")["createdOn"] = "2026-11-26T09:57:00.000000+00:00"


def sa_clientid_missing_addon(state: ClusterState) -> None:
    """The AKS add-on in kube-system, with the ServiceAccount never annotated (Azure/AKS#5243)."""
    for obj in (state.deployment, state.service_account, state.pod):
        obj["metadata"]["namespace"] = "kube-system"
    state.find("APIService", "v1beta1.external.metrics.k8s.io")["spec"]["service"]["namespace"] = "kube-system"
    state.aks["properties"]["workloadAutoScalerProfile"] = {"keda": {"enabled": True}}
    state.aks["properties"]["securityProfile"]["workloadIdentity"]["enabled"] = True
    mwc = state.find("MutatingWebhookConfiguration", "azure-wi-webhook-mutating-webhook-configuration")
    mwc["webhooks"][0]["clientConfig"]["service"]["namespace"] = "kube-system"
    state.remove("Deployment", "azure-wi-webhook-controller-manager")
    state.arm("federatedIdentityCredentials")["properties"]["subject"] = "system:serviceaccount:kube-system:keda-operator"
    del state.service_account["metadata"]["annotations"]["azure.workload.identity/client-id"]
    env = state.pod["spec"]["containers"][0]["env"]
    state.pod["spec"]["containers"][0]["env"] = [e for e in env if e["name"] != "AZURE_CLIENT_ID"]
    _log(state,
         '2026-11-26T09:58:00Z\tERROR\tscale_handler\terror starting azure workload-identity token provider\t'
         '{"error": "no client ID specified. Check pod configuration or set ClientID in the options"}',
         '2026-11-26T09:58:00Z\tERROR\tazure_servicebus_scaler\terror getting service bus entity length\t'
         '{"error": "sources must contain at least one TokenCredential"}')


def unchanged(state: ClusterState) -> None:
    """Healthy: KEDA 2.20.2 with Workload Identity, federated and granted Data Owner on the namespace."""


EXAMPLES: dict[str, tuple[Callable[[ClusterState], None], list[str], int]] = {
    # name: (mutation, ids the report must contain, expected exit status)
    "healthy": (unchanged, [], 0),
    "broken-pod-label": (broken_pod_label, ["wi-pod-label-missing"], 2),
    "broken-fic-subject": (broken_fic_subject, ["fic-subject-wrong-namespace-or-sa"], 2),
    "broken-rbac-receiver-only": (broken_rbac_receiver, ["rbac-role-insufficient-sb"], 2),
    "broken-identityid-objectid": (broken_identityid_objectid, ["identityid-not-clientid"], 2),
    "addon-sa-clientid-missing": (sa_clientid_missing_addon, ["wi-sa-clientid-missing"], 2),
    "propagating-role-assignment": (propagating_role, ["rbac-propagation-delay"], 1),
}


def _dump_yaml(path: Path, items: list[dict[str, Any]]) -> None:
    """`kubectl get ... -o yaml` prints a List."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}},
                       out, sort_keys=False)


def _dump_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def write_realistic(state: ClusterState, directory: Path, notes: str) -> None:
    keda_ns = state.deployment["metadata"]["namespace"]
    cluster_scoped = [o for o in state.k8s if "namespace" not in o["metadata"]]
    keda = [o for o in state.k8s if o["metadata"].get("namespace") == keda_ns]
    rest = [o for o in state.k8s if o not in cluster_scoped and o not in keda]
    _dump_yaml(directory / "kubernetes" / "cluster.yaml", cluster_scoped)
    _dump_yaml(directory / "kubernetes" / f"{keda_ns}.yaml", keda)
    _dump_yaml(directory / "kubernetes" / "workloads.yaml", rest)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for res in state.azure:
        by_type.setdefault(res["type"].split("/")[-1].lower(), []).append(res)
    for kind, items in by_type.items():
        if kind == "managedclusters" and len(items) == 1:
            _dump_json(directory / "azure" / "aks.json", items[0])  # `az aks show`
        elif kind == "federatedidentitycredentials":
            _dump_json(directory / "azure" / f"{kind}.json", {"value": items})  # REST list envelope
        else:
            _dump_json(directory / "azure" / f"{kind}.json", items)  # `az ... list`
    for key, text in state.logs.items():
        namespace, pod = key.split("/", 1)
        (directory / "logs" / namespace).mkdir(parents=True, exist_ok=True)
        (directory / "logs" / namespace / f"{pod}.log").write_text(text, encoding="utf-8")
    manifest = dict(state.manifest or {}, notes=notes)
    manifest["collected_by"] = "examples/build_examples.py"
    _dump_json(directory / "manifest.json", manifest)


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate the example bundles.")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write them (default: examples/bundles)")
    out = parser.parse_args().out
    index = {}
    for name, (mutate, ids, exit_code) in EXAMPLES.items():
        state = healthy()
        mutate(state)
        target = out / name
        if target.exists():
            shutil.rmtree(target)
        notes = (mutate.__doc__ or name).strip()
        write_realistic(state, target, notes)
        index[name] = {"shows": ids, "exit": exit_code, "notes": notes}
    _dump_json(out / "index.json", index)
    print(f"wrote {len(index)} example bundles to {out}")


if __name__ == "__main__":
    assert KEDA_CLIENT  # the kit's identities are what the examples reference
    main()
