"""The bundle reader implements shared/specs/bundle-format.md: shapes, logs, manifest, 'now', bad input."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import BundleError
from bot.snapshot.bundle import read_bundle
from tests.kit.cluster import KEDA_CLIENT, KEDA_PRINCIPAL, SUB, healthy, identity_id
from tests.kit.fixtures import FIXTURES


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_single_yaml_file_is_a_valid_bundle(tmp_path: Path) -> None:
    write(tmp_path, "kubernetes/all.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: keda\n")
    snap = read_bundle(tmp_path)
    assert [o.ref for o in snap.objects] == ["Namespace/keda"]


def test_yaml_stream_keeps_each_documents_starting_line(tmp_path: Path) -> None:
    # The real KEDA manager manifest plus its ServiceAccount, as one stream.
    manager = (FIXTURES / "keda/manager/2.20.2/manager.yaml").read_text()
    account = (FIXTURES / "keda/manager/2.20.2/service_account.yaml").read_text()
    write(tmp_path, "kubernetes/keda.yaml", manager + "\n---\n" + account)
    snap = read_bundle(tmp_path)
    deploy = snap.get("Deployment", "keda", "keda-operator")
    account_obj = snap.get("ServiceAccount", "keda", "keda-operator")
    assert deploy is not None and account_obj is not None
    assert deploy.source.path == "kubernetes/keda.yaml"
    assert account_obj.source.line > deploy.source.line


def test_kubectl_list_and_typed_list_without_item_kinds(tmp_path: Path) -> None:
    write(tmp_path, "kubernetes/list.yaml", """
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ServiceAccount
  metadata: {name: keda-operator, namespace: keda}
""")
    # The REST API's typed lists omit kind/apiVersion on items.
    write(tmp_path, "kubernetes/pods.json", json.dumps({
        "apiVersion": "v1", "kind": "PodList",
        "items": [{"metadata": {"name": "keda-operator-1", "namespace": "keda"}, "spec": {}}]}))
    snap = read_bundle(tmp_path)
    assert snap.get("ServiceAccount", "keda", "keda-operator") is not None
    pod = snap.get("Pod", "keda", "keda-operator-1")
    assert pod is not None and pod.api_version == "v1"


def test_both_arm_shapes_and_the_list_envelope(tmp_path: Path) -> None:
    rid = identity_id("keda-id")
    write(tmp_path, "azure/identity.json", json.dumps({  # `az identity show`: flattened
        "id": rid, "name": "keda-id", "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
        "clientId": KEDA_CLIENT, "principalId": KEDA_PRINCIPAL, "tenantId": "t"}))
    write(tmp_path, "azure/fics.json", json.dumps({"value": [{  # REST list envelope, nested properties
        "id": f"{rid}/federatedIdentityCredentials/keda", "name": "keda",
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        "properties": {"issuer": "https://issuer/", "subject": "system:serviceaccount:keda:keda-operator",
                       "audiences": ["api://AzureADTokenExchange"]}}], "nextLink": None}))
    scope = f"/subscriptions/{SUB}"
    write(tmp_path, "azure/ras.json", json.dumps([{  # `az role assignment list`: array, flattened
        "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/abc", "name": "abc",
        "type": "Microsoft.Authorization/roleAssignments", "principalId": KEDA_PRINCIPAL,
        "roleDefinitionId": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/"
                            "090C5CFD-751D-490A-894A-3CE6F1109419",
        "scope": scope, "principalType": "ServicePrincipal", "createdOn": "2026-01-01T00:00:00.1234567+00:00"}]))
    snap = read_bundle(tmp_path)
    identity = snap.identity_by_client_id(KEDA_CLIENT.upper())
    assert identity is not None and identity.principal_id == KEDA_PRINCIPAL
    assert snap.arm_get(rid.upper()) is not None  # ARM ids are case-insensitive
    (fic,) = snap.fics_of(rid.lower())
    assert fic.subject == "system:serviceaccount:keda:keda-operator"
    (ra,) = snap.role_assignments_of(KEDA_PRINCIPAL)
    assert ra.role_guid == "090c5cfd-751d-490a-894a-3ce6f1109419"
    assert ra.created == datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)


def test_aks_rest_and_cli_spellings_of_the_issuer(tmp_path: Path) -> None:
    base = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/"
    write(tmp_path, "azure/rest.json", json.dumps({
        "id": base + "a", "name": "a", "type": "Microsoft.ContainerService/managedClusters",
        "properties": {"oidcIssuerProfile": {"enabled": True, "issuerURL": "https://rest/"}}}))
    write(tmp_path, "azure/cli.json", json.dumps({  # `az aks show` prints issuerUrl at the top level
        "id": base + "b", "name": "b", "type": "Microsoft.ContainerService/ManagedClusters",
        "oidcIssuerProfile": {"enabled": True, "issuerUrl": "https://cli/"}}))
    snap = read_bundle(tmp_path)
    assert sorted(c.issuer_url or "" for c in snap.clusters) == ["https://cli/", "https://rest/"]


def test_logs_per_pod_and_per_container(tmp_path: Path) -> None:
    write(tmp_path, "kubernetes/pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: keda-operator-1.x, "
                                         "namespace: keda}\n")
    write(tmp_path, "logs/keda/keda-operator-1.x.log", "line one\nline two\n")
    write(tmp_path, "logs/keda/keda-operator-2.keda-operator.log", "container line\n")
    snap = read_bundle(tmp_path)
    by_pod = {(log.pod, log.container): log.lines for log in snap.logs}
    # A pod name with a dot that exists in the bundle is a pod, not pod.container.
    assert by_pod[("keda-operator-1.x", None)] == ("line one", "line two")
    assert by_pod[("keda-operator-2", "keda-operator")] == ("container line",)


def test_now_comes_from_the_manifest(tmp_path: Path) -> None:
    healthy().write(tmp_path)
    snap = read_bundle(tmp_path)
    assert snap.now == datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    assert snap.now_source == "manifest.json collected_at"


def test_without_manifest_now_is_the_newest_timestamp_never_the_wall_clock(tmp_path: Path) -> None:
    state = healthy()
    state.manifest = None
    state.write(tmp_path)
    snap = read_bundle(tmp_path)
    # The newest timestamp in the healthy state is the operator pod's creation time.
    assert snap.now == datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
    assert snap.now_source == "newest timestamp in the bundle"


def test_a_broken_file_is_reported_with_path_and_line_and_the_rest_is_read(tmp_path: Path) -> None:
    write(tmp_path, "kubernetes/good.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    write(tmp_path, "kubernetes/mixed.yaml",
          "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n---\n"
          "apiVersion: v1\nkind: Namespace\nmetadata: {name: [unclosed\n---\n"
          "apiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n")
    write(tmp_path, "azure/bad.json", '{"id": "x",\n "type": \n}')
    snap = read_bundle(tmp_path)
    assert {o.name for o in snap.objects} == {"a", "b", "c"}
    errors = {(p.path, p.line) for p in snap.problems if p.level == "error"}
    assert ("azure/bad.json", 3) in errors
    assert any(path == "kubernetes/mixed.yaml" and line is not None and 5 <= line <= 7 for path, line in errors)


def test_objects_without_identity_are_reported_not_fatal(tmp_path: Path) -> None:
    write(tmp_path, "kubernetes/x.yaml", "kind: Namespace\nmetadata: {name: a}\n---\n- just\n- a list\n---\n"
                                         "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n")
    snap = read_bundle(tmp_path)
    assert [o.name for o in snap.objects] == ["ok"]
    messages = [p.message for p in snap.problems]
    assert any("apiVersion" in m for m in messages)
    assert any("not a Kubernetes object" in m for m in messages)


def test_unknown_files_are_warnings(tmp_path: Path) -> None:
    write(tmp_path, "kubernetes/all.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    write(tmp_path, "notes.txt", "hello")
    write(tmp_path, "kubernetes/readme.md", "hello")
    snap = read_bundle(tmp_path)
    assert {(p.path, p.level) for p in snap.problems} == {("notes.txt", "warning"),
                                                           ("kubernetes/readme.md", "warning")}


@pytest.mark.parametrize("layout", ["missing", "file", "empty", "only-garbage"])
def test_unusable_bundle_is_an_input_error(tmp_path: Path, layout: str) -> None:
    target = tmp_path / "bundle"
    if layout == "file":
        target.write_text("x")
    elif layout == "empty":
        target.mkdir()
    elif layout == "only-garbage":
        write(target, "kubernetes/a.yaml", "::: not yaml [")
    with pytest.raises(BundleError) as info:
        read_bundle(target)
    if layout == "only-garbage":
        assert "kubernetes/a.yaml" in str(info.value)


def test_secret_values_never_enter_the_snapshot(tmp_path: Path) -> None:
    write(tmp_path, "kubernetes/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: sb, namespace: a}\n"
                                              "data:\n  connection: RW5kcG9pbnQ9c2I6Ly94\n"
                                              "stringData:\n  raw: Endpoint=sb://x/;SharedAccessKey=abc\n")
    snap = read_bundle(tmp_path)
    secret = snap.get("Secret", "a", "sb")
    assert secret is not None
    assert dict(secret.raw["data"]) == {"connection": "<redacted>"}
    assert "SharedAccessKey" not in repr(secret.raw)


def test_reading_never_modifies_the_bundle(tmp_path: Path) -> None:
    healthy().write(tmp_path)
    write(tmp_path, "kubernetes/broken.yaml", "a: [")

    def digest() -> str:
        h = hashlib.sha256()
        for path in sorted(tmp_path.rglob("*")):
            h.update(str(path).encode())
            if path.is_file():
                h.update(path.read_bytes())
                h.update(str(path.stat().st_mtime_ns).encode())
        return h.hexdigest()

    before = digest()
    read_bundle(tmp_path)
    assert digest() == before


def test_snapshot_is_immutable(tmp_path: Path) -> None:
    healthy().write(tmp_path)
    snap = read_bundle(tmp_path)
    deploy = snap.get("Deployment", "keda", "keda-operator")
    assert deploy is not None
    with pytest.raises(TypeError):
        deploy.raw["spec"]["replicas"] = 5
    with pytest.raises(AttributeError):
        snap.now = None  # type: ignore[misc]
