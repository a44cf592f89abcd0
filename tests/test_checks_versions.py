"""Failure modes 28-32 and the KEDA/Kubernetes support matrix: behaviour that depends on the KEDA version."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.diagnosis.engine import Report
from bot.diagnosis.findings import Finding, Severity
from tests.kit.cases import Case, nothing
from tests.kit.cluster import KEDA_CLIENT, ClusterState, healthy
from tests.kit.fixtures import document
from tests.kit.run import diagnose_state, finding_ids

CRD_PLURALS = ("scaledobjects", "triggerauthentications", "clustertriggerauthentications")


def keda_at(s: ClusterState, version: str, *, crds: bool = True) -> None:
    """Run KEDA `version`: the operator image tag and, where upstream has them, that version's real CRDs."""
    s.deployment["spec"]["template"]["spec"]["containers"][0]["image"] = f"ghcr.io/kedacore/keda:{version}"
    s.pod["spec"]["containers"][0]["image"] = f"ghcr.io/kedacore/keda:{version}"
    s.deployment["metadata"]["labels"]["app.kubernetes.io/version"] = version
    if not crds:
        return
    for plural in CRD_PLURALS:
        name = f"{plural}.keda.sh"
        s.remove("CustomResourceDefinition", name)
        crd = document(f"keda/crds/{version}/keda.sh_{plural}.yaml", "CustomResourceDefinition")
        crd["metadata"].setdefault("labels", {})["app.kubernetes.io/version"] = version
        s.k8s.append(crd)


def drop_crds(s: ClusterState) -> None:
    for plural in CRD_PLURALS:
        s.remove("CustomResourceDefinition", f"{plural}.keda.sh")


def kubernetes_at(s: ClusterState, version: str) -> None:
    assert s.manifest is not None
    s.manifest["cluster"]["server_version"] = f"v{version}"
    s.aks["properties"].update(kubernetesVersion=version, currentKubernetesVersion=version)


def pod_identity(s: ClusterState) -> dict[str, str]:
    block: dict[str, str] = s.trigger_auth["spec"]["podIdentity"]
    return block


def add_cluster_trigger_auth(s: ClusterState, provider: str) -> None:
    s.k8s.append({"apiVersion": "keda.sh/v1alpha1", "kind": "ClusterTriggerAuthentication",
                  "metadata": {"name": "shared-auth"}, "spec": {"podIdentity": {"provider": provider}}})


# -- provider-azure-removed

def provider_azure(s: ClusterState) -> None:
    pod_identity(s)["provider"] = "azure"


def provider_azure_on_2_14(s: ClusterState) -> None:
    keda_at(s, "2.14.0")
    kubernetes_at(s, "1.29.4")
    provider_azure(s)


def workload_on_2_14(s: ClusterState) -> None:
    keda_at(s, "2.14.0")
    kubernetes_at(s, "1.29.4")


def keyvault_provider_azure(s: ClusterState) -> None:
    s.trigger_auth["spec"]["azureKeyVault"] = {
        "vaultUri": "https://kv-prod-weu.vault.azure.net", "podIdentity": {"provider": "azure"},
        "secrets": [{"parameter": "connection", "name": "sb-conn"}]}


def keyvault_provider_workload(s: ClusterState) -> None:
    keyvault_provider_azure(s)
    s.trigger_auth["spec"]["azureKeyVault"]["podIdentity"]["provider"] = "azure-workload"


# -- identityid-empty-string

def identityid_empty(s: ClusterState) -> None:
    pod_identity(s)["identityId"] = ""


def identityid_client(s: ClusterState) -> None:
    pod_identity(s)["identityId"] = KEDA_CLIENT


def keyvault_identityid_empty(s: ClusterState) -> None:
    keyvault_provider_workload(s)
    s.trigger_auth["spec"]["azureKeyVault"]["podIdentity"]["identityId"] = ""


def identityid_empty_on_2_11(s: ClusterState) -> None:
    keda_at(s, "2.11.2", crds=False)  # upstream has no 2.11 CRDs here; the image decides the version
    identityid_empty(s)


# -- crd-enum-mismatch-none

def provider_none_on_2_13(s: ClusterState) -> None:
    keda_at(s, "2.13.1")
    pod_identity(s)["provider"] = "none"


def provider_none_on_2_14(s: ClusterState) -> None:
    keda_at(s, "2.14.0")
    pod_identity(s)["provider"] = "none"


def cta_none_on_2_13(s: ClusterState) -> None:
    keda_at(s, "2.13.1")
    add_cluster_trigger_auth(s, "none")


def cta_workload_on_2_13(s: ClusterState) -> None:
    keda_at(s, "2.13.1")
    add_cluster_trigger_auth(s, "azure-workload")


def provider_none_2_13_image_no_crds(s: ClusterState) -> None:
    provider_none_on_2_13(s)
    drop_crds(s)


def provider_none_2_13_crds_untagged_image(s: ClusterState) -> None:
    # The image tag says nothing (a digest); the installed 2.13.1 CRD still decides.
    provider_none_on_2_13(s)
    image = "ghcr.io/kedacore/keda@sha256:" + "0" * 64
    s.deployment["spec"]["template"]["spec"]["containers"][0]["image"] = image


def provider_none_2_12(s: ClusterState) -> None:
    keda_at(s, "2.12.0")  # no enum at all in 2.12: any string passes
    pod_identity(s)["provider"] = "none"


# -- keyvault-podidentity-location

def keyvault_without_pod_identity(s: ClusterState) -> None:
    s.trigger_auth["spec"]["azureKeyVault"] = {
        "vaultUri": "https://kv-prod-weu.vault.azure.net",
        "secrets": [{"parameter": "connection", "name": "sb-conn"}]}


def keyvault_with_credentials(s: ClusterState) -> None:
    keyvault_without_pod_identity(s)
    s.trigger_auth["spec"]["azureKeyVault"]["credentials"] = {
        "clientId": KEDA_CLIENT, "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "clientSecret": {"valueFrom": {"secretKeyRef": {"name": "kv-sp", "key": "secret"}}}}


# -- keda-2.9.x-regressions and keda-k8s-version-unsupported

def keda_2_9_2(s: ClusterState) -> None:
    keda_at(s, "2.9.2", crds=False)


def keda_2_9_3(s: ClusterState) -> None:
    keda_at(s, "2.9.3", crds=False)


def keda_2_13_on_1_34(s: ClusterState) -> None:
    keda_at(s, "2.13.1")


def keda_2_13_on_1_29(s: ClusterState) -> None:
    keda_at(s, "2.13.1")
    kubernetes_at(s, "1.29.4")


def keda_2_20_on_1_30(s: ClusterState) -> None:
    kubernetes_at(s, "1.30.6")


def keda_2_20_on_1_35(s: ClusterState) -> None:
    kubernetes_at(s, "1.35.0")


CASES = [
    Case("provider-azure-removed", provider_azure, nothing, "2.20"),
    Case("provider-azure-removed", provider_azure_on_2_14, workload_on_2_14, "2.14"),
    Case("provider-azure-removed", keyvault_provider_azure, keyvault_provider_workload, "keyvault"),
    Case("identityid-empty-string", identityid_empty, identityid_client),
    Case("identityid-empty-string", keyvault_identityid_empty, keyvault_provider_workload, "keyvault"),
    Case("identityid-empty-string", identityid_empty_on_2_11, nothing, "2.11"),
    Case("crd-enum-mismatch-none", provider_none_on_2_13, provider_none_on_2_14),
    Case("crd-enum-mismatch-none", cta_none_on_2_13, cta_workload_on_2_13, "cluster"),
    Case("crd-enum-mismatch-none", provider_none_2_13_image_no_crds, provider_none_2_12, "version-fallback"),
    Case("crd-enum-mismatch-none", provider_none_2_13_crds_untagged_image, nothing, "crd-decides"),
    Case("keyvault-podidentity-location", keyvault_without_pod_identity, keyvault_with_credentials),
    Case("keyvault-podidentity-location", keyvault_without_pod_identity, keyvault_provider_workload, "podIdentity"),
    Case("keda-2.9.x-regressions", keda_2_9_2, keda_2_9_3),
    Case("keda-k8s-version-unsupported", keda_2_13_on_1_34, keda_2_13_on_1_29),
    Case("keda-k8s-version-unsupported", keda_2_20_on_1_30, keda_2_20_on_1_35, "too-old-k8s"),
]



def _one(report: Report, finding_id: str) -> Finding:
    found = [f for f in report.findings if f.id == finding_id]
    assert len(found) == 1, [f.id for f in report.findings]
    return found[0]


@pytest.mark.parametrize(("mutation", "severity"), [(provider_azure, Severity.CRITICAL),
                                                    (provider_azure_on_2_14, Severity.WARNING)])
def test_provider_azure_is_critical_only_once_removed(mutation: object, severity: Severity, tmp_path: Path) -> None:
    state = healthy()
    assert callable(mutation)
    mutation(state)
    finding = _one(diagnose_state(state, tmp_path), "provider-azure-removed")
    assert finding.severity == severity
    assert finding.fixes == ("manual-migrate-pod-identity",)


def test_empty_identityid_before_2_12_warns_of_the_upgrade(tmp_path: Path) -> None:
    state = healthy()
    identityid_empty_on_2_11(state)
    finding = _one(diagnose_state(state, tmp_path), "identityid-empty-string")
    assert finding.severity == Severity.WARNING


def test_empty_identityid_fix_removes_the_key(tmp_path: Path) -> None:
    state = healthy()
    identityid_empty(state)
    finding = _one(diagnose_state(state, tmp_path), "identityid-empty-string")
    assert finding.severity == Severity.CRITICAL
    assert finding.commands == ("kubectl -n orders patch --type json "
                                "-p '[{\"op\":\"remove\",\"path\":\"/spec/podIdentity/identityId\"}]' "
                                "-- triggerauthentication sb-auth",)


def test_enum_evidence_quotes_the_installed_crd(tmp_path: Path) -> None:
    state = healthy()
    provider_none_on_2_13(state)
    finding = _one(diagnose_state(state, tmp_path), "crd-enum-mismatch-none")
    assert any(e.source == "CustomResourceDefinition/triggerauthentications.keda.sh" and "aws-kiam" in e.actual
               for e in finding.evidence)


def test_keyvault_fix_adds_its_own_pod_identity(tmp_path: Path) -> None:
    state = healthy()
    keyvault_without_pod_identity(state)
    finding = _one(diagnose_state(state, tmp_path), "keyvault-podidentity-location")
    assert finding.fixes == ("triggerauth-keyvault-podidentity",)
    assert '"azureKeyVault":{"podIdentity":{"provider":"azure-workload"}}' in finding.commands[0]


def test_unsupported_pairing_quotes_both_versions_and_sources(tmp_path: Path) -> None:
    state = healthy()
    keda_2_13_on_1_34(state)
    finding = _one(diagnose_state(state, tmp_path), "keda-k8s-version-unsupported")
    assert finding.severity == Severity.WARNING
    assert "2.13.1" in finding.detail and "1.34.2" in finding.detail
    assert "operator image ghcr.io/kedacore/keda:2.13.1" in finding.detail
    assert "manifest.json cluster.server_version" in finding.detail


def test_unknown_kubernetes_version_is_skipped(tmp_path: Path) -> None:
    state = healthy()
    keda_2_13_on_1_34(state)
    assert state.manifest is not None
    del state.manifest["cluster"]["server_version"]
    state.aks["properties"].pop("kubernetesVersion")
    state.aks["properties"].pop("currentKubernetesVersion")
    assert "keda-k8s-version-unsupported" not in finding_ids(diagnose_state(state, tmp_path))


def test_healthy_cluster_reports_nothing_from_these_checks(tmp_path: Path) -> None:
    ids = finding_ids(diagnose_state(healthy(), tmp_path))
    assert not ids & {"provider-azure-removed", "identityid-empty-string", "crd-enum-mismatch-none",
                      "keyvault-podidentity-location", "keda-2.9.x-regressions", "keda-k8s-version-unsupported"}
