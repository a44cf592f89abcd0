"""What the readers gathered → the live Snapshot and the written bundle: they must tell the same story.

The readers themselves are tested against the simulators (test_live_kube.py, test_live_azure.py); here
their results are built from a ClusterState so the layout, redaction and gap rules are tested on their own.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.diagnosis.engine import diagnose
from bot.errors import InputError
from bot.live.assemble import Assembled, assemble
from bot.live.bundle_writer import write_bundle
from bot.live.collection import ALL, AzureResult, Gap, KubeResult, LogTail
from bot.report.json_report import render_json
from bot.snapshot.bundle import read_bundle
from tests.kit.cluster import (
    KEDA_CLIENT,
    KEDA_ID,
    KEDA_PRINCIPAL,
    SUB,
    TENANT,
    ClusterState,
    healthy,
    identity_id,
)
from tests.kit.run import finding_ids

COLLECTED_AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
FIC = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
RA = "Microsoft.Authorization/roleAssignments"
SAS = "Endpoint=sb://sb-prod-weu.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=c2VjcmV0LWtleQ=="


def results(state: ClusterState, gaps: list[Gap] | None = None) -> tuple[KubeResult, AzureResult]:
    kube = KubeResult(context="aks-prod-weu", server="https://aks-prod-weu.hcp.westeurope.azmk8s.io:443",
                      server_version="v1.34.2")
    for obj in state.k8s:
        kube.objects.setdefault(obj["kind"], []).append(obj)
    kube.collected = set(kube.objects)
    for key, text in state.logs.items():
        namespace, stem = key.split("/", 1)
        pod, _, container = stem.partition(".")
        kube.logs.append(LogTail(namespace, pod, container or "keda-operator", tuple(text.splitlines())))
    azure = AzureResult(tenant_id=TENANT, subscriptions=(SUB,), cluster="aks-prod-weu")
    for res in state.azure:
        azure.resources.setdefault(res["type"].rsplit("/", 1)[-1].lower(), []).append(res)
        azure.collected.add(res["type"])
    azure.collected |= {FIC, RA}  # listed, even when a test removed every one of them
    azure.gaps = list(gaps or [])
    return kube, azure


def assembled(state: ClusterState, gaps: list[Gap] | None = None, redacted: bool = True) -> Assembled:
    kube, azure = results(state, gaps)
    return assemble(kube, azure, collected_at=COLLECTED_AT, redacted=redacted)


def report_json(snapshot_report: str) -> dict[str, object]:
    data: dict[str, object] = json.loads(snapshot_report)
    data.pop("target")
    return data


def test_live_snapshot_and_written_bundle_give_the_same_report(tmp_path: Path) -> None:
    state = healthy()
    state.deployment["spec"]["template"]["metadata"]["labels"].pop("azure.workload.identity/use")
    collection = assembled(state)
    live = diagnose(collection.snapshot())
    from_disk = diagnose(read_bundle(write_bundle(collection, tmp_path / "b")))
    assert "wi-pod-label-missing" in finding_ids(live)
    assert report_json(render_json(live)) == report_json(render_json(from_disk))
    assert live.now == from_disk.now == COLLECTED_AT


def test_log_lines_survive_the_round_trip_exactly(tmp_path: Path) -> None:
    kube, azure = results(healthy())
    kube.logs = [LogTail("keda", "keda-operator-6c9f7b5d8-x2kqp", "keda-operator",
                         ("first", "", "carriage\rreturn", "last", ""))]
    collection = assemble(kube, azure, collected_at=COLLECTED_AT)
    live = collection.snapshot().logs
    written = read_bundle(write_bundle(collection, tmp_path / "b")).logs
    assert [log.lines for log in live] == [log.lines for log in written]
    assert (live[0].pod, live[0].container) == ("keda-operator-6c9f7b5d8-x2kqp", "keda-operator")


def test_secrets_in_objects_and_logs_are_redacted_by_default(tmp_path: Path) -> None:
    state = healthy()
    state.deployment["spec"]["template"]["spec"]["containers"][0].setdefault("env", []).append(
        {"name": "SB_CONNECTION", "value": SAS})
    state.logs["keda/keda-operator-6c9f7b5d8-x2kqp"] = f"error connecting with {SAS}\n"
    root = write_bundle(assembled(state), tmp_path / "b")
    text = "".join(p.read_text() for p in root.rglob("*") if p.is_file())
    assert "c2VjcmV0LWtleQ" not in text
    assert "<redacted:" in text
    assert json.loads((root / "manifest.json").read_text())["redacted"] is True
    raw = write_bundle(assembled(state, redacted=False), tmp_path / "raw")
    assert "c2VjcmV0LWtleQ" in "".join(p.read_text() for p in raw.rglob("*.json"))


def test_writer_refuses_a_directory_that_already_holds_files(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not empty"):
        write_bundle(assembled(healthy()), tmp_path / "b")
    assert (tmp_path / "b" / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["notes.txt"]


def test_an_unreadable_fic_list_is_never_reported_as_a_missing_fic(tmp_path: Path) -> None:
    state = healthy()
    for fic in state.arm_all("federatedIdentityCredentials"):
        state.azure.remove(fic)
    gap = Gap("azure", f"the federated credentials of identity {KEDA_ID}",
              f"Azure role Reader on {identity_id(KEDA_ID)}", "403 AuthorizationFailed: no read access", FIC,
              identity_id(KEDA_ID))
    for report in (diagnose(assembled(state, [gap]).snapshot()),
                   diagnose(read_bundle(write_bundle(assembled(state, [gap]), tmp_path / "b")))):
        assert "fic-missing-keda-sa" not in finding_ids(report)
        missing = [f for f in report.findings if f.id == "input-missing"]
        assert any(f.commands == (gap.grant,) and "403" in f.detail for f in missing)
    # Without the gap the same (empty) list is an absence, and the check fires.
    assert "fic-missing-keda-sa" in finding_ids(diagnose(assembled(state).snapshot()))


def test_a_role_assignment_gap_is_per_principal() -> None:
    state = healthy()
    for assignment in state.arm_all("roleAssignments"):
        state.azure.remove(assignment)
    other = Gap("azure", "role assignments of someone else", "Azure role Reader", "403", RA,
                "00000000-0000-0000-0000-000000000001")
    assert "rbac-role-missing" in finding_ids(diagnose(assembled(state, [other]).snapshot()))
    mine = Gap("azure", f"role assignments of {KEDA_ID}", "Azure role Reader on subscription", "403", RA,
               KEDA_PRINCIPAL)
    assert "rbac-role-missing" not in finding_ids(diagnose(assembled(state, [mine]).snapshot()))
    whole = Gap("azure", "role assignments", "Azure role Reader on subscription", "403", RA, ALL)
    assert "rbac-role-missing" not in finding_ids(diagnose(assembled(state, [whole]).snapshot()))


def test_a_kubernetes_kind_that_could_not_be_listed_names_the_rbac_rule() -> None:
    state = healthy()
    kube, azure = results(state)
    del kube.objects["Deployment"]
    kube.collected.discard("Deployment")
    rule = 'RBAC rule: apiGroups ["apps"], resources ["deployments"], verbs ["list"] cluster-wide (ClusterRole)'
    kube.gaps.append(Gap("kubernetes", "Deployments (apps/v1) in all namespaces", rule,
                         "403 Forbidden: deployments.apps is forbidden", "Deployment"))
    report = diagnose(assemble(kube, azure, collected_at=COLLECTED_AT).snapshot())
    missing = [f for f in report.findings if f.id == "input-missing"]
    assert [f.commands for f in missing if "Deployments" in f.title] == [(rule,)]
    # The kind's own bundle hint (kubectl get deployments ...) is not offered on top of the RBAC rule.
    assert not any("kubectl get deployments" in c for f in missing for c in f.commands)
    assert not {"wi-pod-label-missing", "wi-sa-clientid-missing"} & finding_ids(report)


def test_a_collection_where_everything_failed_is_still_a_valid_bundle(tmp_path: Path) -> None:
    kube = KubeResult(context="c", server="https://c")
    kube.gaps.append(Gap("kubernetes", "everything", "refresh your credentials", "401 Unauthorized", "Deployment"))
    collection = assemble(kube, None, collected_at=COLLECTED_AT)
    report = diagnose(read_bundle(write_bundle(collection, tmp_path / "b")))
    assert [f.id for f in report.findings] == ["input-missing"]
    assert report.findings[0].title == "Could not read everything"


def test_manifest_names_the_cluster_subscription_and_clientid_free_of_secrets() -> None:
    manifest = assembled(healthy()).manifest
    assert manifest["cluster"]["name"] == "aks-prod-weu"
    assert manifest["azure"] == {"subscription_id": SUB, "subscriptions": [SUB], "tenant_id": TENANT}
    assert "Deployment" in manifest["collected"] and FIC in manifest["collected"]
    assert manifest["collected_at"] == "2026-11-26T10:00:00Z"
    assert KEDA_CLIENT not in json.dumps(manifest)
