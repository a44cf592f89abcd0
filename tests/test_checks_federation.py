"""Failure modes 9-16: federation of KEDA's ServiceAccount with the identities it presents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.diagnosis.engine import Report
from bot.diagnosis.findings import Finding, Severity
from tests.kit.cases import Case, nothing
from tests.kit.cluster import ISSUER, KEDA_ID, NOW, TENANT, ClusterState, healthy
from tests.kit.run import diagnose_state, finding_ids

KEDA_SUBJECT = "system:serviceaccount:keda:keda-operator"
ADDON_SUBJECT = "system:serviceaccount:kube-system:keda-operator"
WORKLOAD_SUBJECT = "system:serviceaccount:orders:orders-processor"
OTHER_ISSUER = f"https://northeurope.oic.prod-aks.azure.com/{TENANT}/8e0d2c4b-5a1f-4e2b-9c3d-7f6a1b2c3d4e/"
INTERNAL_ISSUER = "https://kubernetes.default.svc.cluster.local"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
ORDERS_ID = "orders-id"
ORDERS_CLIENT = "3a7d1c9e-2b4f-4e6a-8c1d-5f9e0a2b4c6d"
ORDERS_PRINCIPAL = "7b2e4f6a-1c3d-4e5f-9a0b-2c4d6e8f0a1b"
FIC_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
OWN_IDS = {"fic-missing-keda-sa", "fic-missing-override-identity", "fic-subject-wrong-namespace-or-sa",
           "fic-issuer-mismatch", "oidc-issuer-not-enabled", "fic-audience-mismatch", "fic-propagation-delay",
           "oidc-endpoint-unreachable"}


# -- building blocks


def keda_fic(s: ClusterState) -> dict[str, Any]:
    return s.arm("federatedIdentityCredentials", "keda-operator")


def fic_props(s: ClusterState) -> dict[str, Any]:
    props: dict[str, Any] = keda_fic(s)["properties"]
    return props


def use_override(s: ClusterState, *fics: tuple[str, str]) -> None:
    """Point the TriggerAuthentication at a second identity carrying the given (subject, issuer) FICs."""
    s.add_identity(ORDERS_ID, ORDERS_CLIENT, ORDERS_PRINCIPAL)
    for index, (subject, issuer) in enumerate(fics):
        s.add_fic(ORDERS_ID, f"fic-{index}", subject, issuer=issuer)
    s.trigger_auth["spec"]["podIdentity"]["identityId"] = ORDERS_CLIENT


def move_keda_to_kube_system(s: ClusterState) -> None:
    """The AKS KEDA add-on: same operator, namespace kube-system, AKS-managed webhook."""
    for obj in (s.deployment, s.service_account, s.pod):
        obj["metadata"]["namespace"] = "kube-system"
    s.find("APIService", "v1beta1.external.metrics.k8s.io")["spec"]["service"]["namespace"] = "kube-system"
    mwc = s.find("MutatingWebhookConfiguration", "azure-wi-webhook-mutating-webhook-configuration")
    mwc["webhooks"][0]["clientConfig"]["service"]["namespace"] = "kube-system"
    s.aks["properties"]["securityProfile"]["workloadIdentity"]["enabled"] = True
    s.aks["properties"]["workloadAutoScalerProfile"] = {"keda": {"enabled": True}}


def operator_log(s: ClusterState, line: str, key: str = "keda/keda-operator-6c9f7b5d8-x2kqp") -> None:
    s.logs[key] = f"2026-11-26T09:59:01Z\tERROR\tazure_servicebus_scaler\terror getting service bus entity length\t" \
                  f'{{"error": "{line}"}}\n'


AADSTS90061 = ("ChainedTokenCredential authentication failed: AADSTS90061: Request to External OIDC endpoint "
               "failed.")


# -- mutations: broken, and the near-identical change that must stay clean


def only_github_fic(s: ClusterState) -> None:
    s.azure.remove(keda_fic(s))
    s.add_fic(KEDA_ID, "github-deploy", "repo:contoso/orders:ref:refs/heads/main", issuer=GITHUB_ISSUER)


def extra_github_fic(s: ClusterState) -> None:
    s.add_fic(KEDA_ID, "github-deploy", "repo:contoso/orders:ref:refs/heads/main", issuer=GITHUB_ISSUER)


def no_fics_collected_empty(s: ClusterState) -> None:
    s.azure.remove(keda_fic(s))
    assert s.manifest is not None
    s.manifest["collected"] = [FIC_TYPE]


def fics_listed_as_collected(s: ClusterState) -> None:
    assert s.manifest is not None
    s.manifest["collected"] = [FIC_TYPE]


def override_not_federated(s: ClusterState) -> None:
    use_override(s, (WORKLOAD_SUBJECT, OTHER_ISSUER))


def override_federated(s: ClusterState) -> None:
    use_override(s, (WORKLOAD_SUBJECT, OTHER_ISSUER), (KEDA_SUBJECT, ISSUER))


def workload_subject(s: ClusterState) -> None:
    fic_props(s)["subject"] = WORKLOAD_SUBJECT


def workload_fic_beside(s: ClusterState) -> None:
    s.add_fic(KEDA_ID, "orders-processor", WORKLOAD_SUBJECT)


def addon_with_helm_subject(s: ClusterState) -> None:
    move_keda_to_kube_system(s)


def addon_with_addon_subject(s: ClusterState) -> None:
    move_keda_to_kube_system(s)
    fic_props(s)["subject"] = ADDON_SUBJECT


def issuer_without_slash(s: ClusterState) -> None:
    fic_props(s)["issuer"] = ISSUER.rstrip("/")


def other_cluster_fic_beside(s: ClusterState) -> None:
    s.add_fic(KEDA_ID, "keda-operator-neu", KEDA_SUBJECT, issuer=OTHER_ISSUER)


def oidc_disabled(s: ClusterState) -> None:
    s.aks["properties"]["oidcIssuerProfile"] = {"enabled": False}


def internal_issuer_fic_but_oidc_enabled(s: ClusterState) -> None:
    fic_props(s)["issuer"] = INTERNAL_ISSUER


def no_aks_internal_issuer_fic(s: ClusterState) -> None:
    s.azure.remove(s.aks)
    fic_props(s)["issuer"] = INTERNAL_ISSUER


def no_aks_public_issuer_fic(s: ClusterState) -> None:
    s.azure.remove(s.aks)


def audience_wrong(s: ClusterState) -> None:
    fic_props(s)["audiences"] = ["api://AzureADTokenExchange/"]


def audience_extra(s: ClusterState) -> None:
    fic_props(s)["audiences"] = ["api://AzureADTokenExchange", "api://other"]


def fic_created_2m_ago(s: ClusterState) -> None:
    keda_fic(s)["systemData"]["createdAt"] = "2026-11-26T09:58:00Z"


def fic_created_6m_ago(s: ClusterState) -> None:
    keda_fic(s)["systemData"]["createdAt"] = "2026-11-26T09:54:00Z"


def aadsts90061_in_operator_log(s: ClusterState) -> None:
    operator_log(s, AADSTS90061)


def aadsts90061_in_workload_log(s: ClusterState) -> None:
    # The scaled app's own log is not KEDA's authentication.
    operator_log(s, AADSTS90061, key="orders/orders-processor-7d9f8c6b5-abcde")


def aadsts90061_warning_event(s: ClusterState) -> None:
    s.k8s.append({
        "apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "KEDAScalerFailed",
        "metadata": {"name": "orders-processor.188a", "namespace": "orders"},
        "involvedObject": {"kind": "ScaledObject", "namespace": "orders", "name": "orders-processor"},
        "message": AADSTS90061, "lastTimestamp": "2026-11-26T09:59:00Z"})


def aadsts70021_warning_event(s: ClusterState) -> None:
    aadsts90061_warning_event(s)
    s.k8s[-1]["message"] = "AADSTS70021: No matching federated identity record found for presented assertion."


CASES = [
    Case("fic-missing-keda-sa", only_github_fic, extra_github_fic),
    Case("fic-missing-keda-sa", no_fics_collected_empty, fics_listed_as_collected, "none-at-all"),
    Case("fic-missing-override-identity", override_not_federated, override_federated),
    Case("fic-subject-wrong-namespace-or-sa", workload_subject, workload_fic_beside, "workload-sa"),
    Case("fic-subject-wrong-namespace-or-sa", addon_with_helm_subject, addon_with_addon_subject, "kube-system"),
    Case("fic-issuer-mismatch", issuer_without_slash, other_cluster_fic_beside),
    Case("fic-issuer-mismatch", internal_issuer_fic_but_oidc_enabled, nothing, "internal-issuer"),
    Case("oidc-issuer-not-enabled", oidc_disabled, internal_issuer_fic_but_oidc_enabled),
    Case("oidc-issuer-not-enabled", no_aks_internal_issuer_fic, no_aks_public_issuer_fic, "no-aks"),
    Case("fic-audience-mismatch", audience_wrong, audience_extra),
    Case("fic-propagation-delay", fic_created_2m_ago, fic_created_6m_ago),
    Case("oidc-endpoint-unreachable", aadsts90061_in_operator_log, aadsts90061_in_workload_log),
    Case("oidc-endpoint-unreachable", aadsts90061_warning_event, aadsts70021_warning_event, "event"),
]



# -- focused behaviour


def diagnose(state: ClusterState, tmp_path: Path) -> Report:
    return diagnose_state(state, tmp_path)


def own(report: Report) -> list[Finding]:
    return [f for f in report.findings if f.id in OWN_IDS]


def only(report: Report, finding_id: str) -> Finding:
    found = [f for f in report.findings if f.id == finding_id]
    assert len(found) == 1, [f.id for f in report.findings]
    return found[0]


def input_commands(report: Report) -> list[str]:
    return [c for f in report.findings if f.id == "input-missing" for c in f.commands]


def test_healthy_cluster_has_no_federation_finding(tmp_path: Path) -> None:
    report = diagnose(healthy(), tmp_path)
    assert own(report) == []
    assert input_commands(report) == []


def test_trailing_slash_is_an_issuer_mismatch_and_the_fix_uses_the_exact_issuer(tmp_path: Path) -> None:
    state = healthy()
    issuer_without_slash(state)
    report = diagnose(state, tmp_path)
    finding = only(report, "fic-issuer-mismatch")
    assert finding.severity == Severity.CRITICAL
    assert "trailing `/`" in finding.detail
    assert finding.evidence[0].expected == ISSUER and finding.evidence[0].actual == ISSUER.rstrip("/")
    assert any(f"--issuer {ISSUER}" in c and f"--subject {KEDA_SUBJECT}" in c for c in finding.commands)
    assert not {"fic-missing-keda-sa", "fic-subject-wrong-namespace-or-sa"} & finding_ids(report)


def test_override_identity_federated_correctly_is_clean(tmp_path: Path) -> None:
    state = healthy()
    override_federated(state)
    assert own(diagnose(state, tmp_path)) == []


def test_override_identity_fix_targets_the_override_and_notes_the_20_credential_limit(tmp_path: Path) -> None:
    state = healthy()
    use_override(state, *[(f"system:serviceaccount:team-{n}:app", OTHER_ISSUER) for n in range(20)])
    report = diagnose(state, tmp_path)
    finding = only(report, "fic-missing-override-identity")
    assert "20 federated credentials" in finding.detail
    assert any(f"--identity-name {ORDERS_ID}" in c for c in finding.commands)
    assert "TriggerAuthentication/orders/sb-auth" in finding.objects
    assert "fic-missing-keda-sa" not in finding_ids(report)  # the default identity is still federated


def test_each_identity_is_reported_once_with_the_most_specific_id(tmp_path: Path) -> None:
    state = healthy()
    workload_subject(state)
    extra_github_fic(state)
    report = diagnose(state, tmp_path)
    finding = only(report, "fic-subject-wrong-namespace-or-sa")
    assert "scaled workload" in finding.detail
    assert [f.id for f in own(report)] == ["fic-subject-wrong-namespace-or-sa"]


def test_subject_differing_only_in_case_is_a_subject_mismatch(tmp_path: Path) -> None:
    state = healthy()
    fic_props(state)["subject"] = "system:serviceaccount:keda:KEDA-operator"
    finding = only(diagnose(state, tmp_path), "fic-subject-wrong-namespace-or-sa")
    assert "case" in finding.detail


def test_aks_addon_in_kube_system_federated_for_kube_system_is_clean(tmp_path: Path) -> None:
    state = healthy()
    addon_with_addon_subject(state)
    report = diagnose(state, tmp_path)
    assert own(report) == []
    assert report.findings == ()


def test_helm_subject_on_the_addon_names_the_namespace(tmp_path: Path) -> None:
    state = healthy()
    addon_with_helm_subject(state)
    finding = only(diagnose(state, tmp_path), "fic-subject-wrong-namespace-or-sa")
    assert "kube-system" in finding.detail
    assert any(f"--subject {ADDON_SUBJECT}" in c for c in finding.commands)


def test_webhook_v15_token_path_is_clean(tmp_path: Path) -> None:
    state = healthy()
    spec = state.pod["spec"]
    volume = next(v for v in spec["volumes"] if v["name"].startswith("azure-workload-identity-reserved-"))
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == volume["name"])
    volume["name"] = mount["name"] = "azure-identity-token"
    mount["mountPath"] = "/var/run/secrets/azure/tokens"
    for env in state.pod_env():
        if env["name"] == "AZURE_FEDERATED_TOKEN_FILE":
            env["value"] = "/var/run/secrets/azure/tokens/azure-identity-token"
    assert own(diagnose(state, tmp_path)) == []


def test_custom_token_audience_must_be_in_the_credential(tmp_path: Path) -> None:
    state = healthy()
    volume = next(v for v in state.pod["spec"]["volumes"] if "projected" in v)
    volume["projected"]["sources"][0]["serviceAccountToken"]["audience"] = "api://contoso-exchange"
    finding = only(diagnose(state, tmp_path), "fic-audience-mismatch")
    assert "api://contoso-exchange" in finding.detail
    assert any("--audiences api://contoso-exchange" in c for c in finding.commands)


def test_fresh_credential_is_a_warning_and_suppresses_the_mismatch_ids(tmp_path: Path) -> None:
    state = healthy()
    issuer_without_slash(state)  # the old, broken credential stays
    state.add_fic(KEDA_ID, "keda-operator-fixed", KEDA_SUBJECT, created="2026-11-26T09:57:30Z")
    report = diagnose(state, tmp_path)
    finding = only(report, "fic-propagation-delay")
    assert finding.severity == Severity.WARNING
    assert "2026-11-26T10:02:30Z" in finding.detail
    assert [f.id for f in own(report)] == ["fic-propagation-delay"]
    assert report.exit_code == 1


def test_propagation_uses_the_snapshot_time_not_the_wall_clock(tmp_path: Path) -> None:
    state = healthy()
    fic_created_2m_ago(state)
    assert state.manifest is not None
    state.manifest["collected_at"] = "2026-11-27T10:00:00Z"
    assert "fic-propagation-delay" not in finding_ids(diagnose(state, tmp_path))
    assert NOW.startswith("2026-11-26")


def test_unknown_identity_asks_for_it_by_client_id(tmp_path: Path) -> None:
    state = healthy()
    state.trigger_auth["spec"]["podIdentity"]["identityId"] = ORDERS_CLIENT
    report = diagnose(state, tmp_path)
    assert f"az identity list --query \"[?clientId=='{ORDERS_CLIENT}']\" -o json" in input_commands(report)
    assert "fic-missing-override-identity" not in finding_ids(report)


def test_identity_id_with_shell_characters_is_not_echoed_into_the_command(tmp_path: Path) -> None:
    state = healthy()
    state.trigger_auth["spec"]["podIdentity"]["identityId"] = '$(touch /tmp/x)"'
    report = diagnose(state, tmp_path)
    assert "az identity list --query \"[?clientId=='<clientId>']\" -o json" in input_commands(report)


def test_credentials_not_collected_asks_for_them_per_identity(tmp_path: Path) -> None:
    state = healthy()
    state.azure.remove(keda_fic(state))
    report = diagnose(state, tmp_path)
    expected = "az identity federated-credential list -g rg-prod-weu --identity-name keda-id -o json"
    assert expected in input_commands(report)
    assert own(report) == []


def test_without_aks_the_fix_has_an_issuer_placeholder_and_asks_for_the_cluster(tmp_path: Path) -> None:
    state = healthy()
    state.azure.remove(state.aks)
    only_github_fic(state)
    report = diagnose(state, tmp_path)
    finding = only(report, "fic-missing-keda-sa")
    assert any("--issuer '<issuer>'" in c for c in finding.commands)
    assert any(c.startswith("az aks show") for c in input_commands(report))


def test_without_aks_a_subject_match_cannot_vouch_for_the_issuer(tmp_path: Path) -> None:
    state = healthy()
    no_aks_public_issuer_fic(state)
    report = diagnose(state, tmp_path)
    assert own(report) == []
    assert any(c.startswith("az aks show") for c in input_commands(report))


def test_oidc_disabled_fix_enables_it_recreates_credentials_and_restarts(tmp_path: Path) -> None:
    state = healthy()
    oidc_disabled(state)
    report = diagnose(state, tmp_path)
    finding = only(report, "oidc-issuer-not-enabled")
    assert finding.severity == Severity.CRITICAL
    commands = " | ".join(finding.commands)
    assert "az aks update --resource-group rg-prod-weu --name aks-prod-weu --enable-oidc-issuer" in commands
    assert "az identity federated-credential create" in commands
    assert "rollout restart -- deployment keda-operator" in commands
    assert "fic-issuer-mismatch" not in finding_ids(report)


def test_missing_default_credential_is_a_warning_when_every_trigger_overrides(tmp_path: Path) -> None:
    state = healthy()
    only_github_fic(state)
    override_federated(state)
    finding = only(diagnose(state, tmp_path), "fic-missing-keda-sa")
    assert finding.severity == Severity.WARNING


def test_missing_default_credential_is_critical_and_names_the_trigger(tmp_path: Path) -> None:
    state = healthy()
    only_github_fic(state)
    finding = only(diagnose(state, tmp_path), "fic-missing-keda-sa")
    assert finding.severity == Severity.CRITICAL
    assert "ScaledObject/orders/orders-processor" in finding.objects
    assert "fic-create" in finding.fixes


def test_nothing_fires_when_workload_identity_is_not_used(tmp_path: Path) -> None:
    state = healthy()
    only_github_fic(state)
    oidc_disabled(state)
    aadsts90061_in_operator_log(state)
    state.trigger_auth["spec"] = {"secretTargetRef": [{"parameter": "connection", "name": "sb", "key": "conn"}]}
    report = diagnose(state, tmp_path)
    assert own(report) == []
    assert input_commands(report) == []


def test_key_vault_override_identity_needs_a_credential_too(tmp_path: Path) -> None:
    state = healthy()
    state.add_identity(ORDERS_ID, ORDERS_CLIENT, ORDERS_PRINCIPAL)
    state.trigger_auth["spec"]["azureKeyVault"] = {
        "vaultUri": "https://kv-orders.vault.azure.net",
        "podIdentity": {"provider": "azure-workload", "identityId": ORDERS_CLIENT},
        "secrets": [{"parameter": "connection", "name": "sb-connection"}]}
    finding = only(diagnose(state, tmp_path), "fic-missing-override-identity")
    assert finding.severity == Severity.CRITICAL  # the trigger reads its secret as this identity
    assert "spec.azureKeyVault.podIdentity.identityId" in finding.detail
    assert "AADSTS70025" in finding.detail
