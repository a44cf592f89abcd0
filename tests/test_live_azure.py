"""The Azure reader of live collection against the ARM + Entra simulator, through the real SDK clients:
what it keeps, what it costs in requests, and what every kind of failure turns into."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ClientSecretCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import Permission, RoleAssignmentCreateParameters, RoleDefinition
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice import models as aks_models
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.msi.models import FederatedIdentityCredential, Identity

from bot.live.azure_reader import collect_azure
from bot.live.collection import ALL, AzureResult, AzureWants
from bot.snapshot.bundle import read_bundle
from tests.kit.azuresim import AzureSim
from tests.kit.azuresim.client import ArmRest
from tests.kit.azuresim.store import Principal
from tests.kit.sim.server import RecordedRequest

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
RG, RG2 = "rg-keda", "rg-other"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
SB_DATA_OWNER = "090c5cfd-751d-490a-894a-3ce6f1109419"
EXCHANGE = ["api://AzureADTokenExchange"]
KEDA_SUBJECT = "system:serviceaccount:keda:keda-operator"
T_IDENTITY = "Microsoft.ManagedIdentity/userAssignedIdentities"
T_FIC = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
T_RA = "Microsoft.Authorization/roleAssignments"
T_RD = "Microsoft.Authorization/roleDefinitions"
T_AKS = "Microsoft.ContainerService/managedClusters"
T_SB = "Microsoft.ServiceBus/namespaces"
CONDITION = "@Resource[Microsoft.ServiceBus/namespaces/queues:name] StringEquals 'orders'"


@dataclass
class Azure:
    sim: AzureSim
    admin: ClientSecretCredential
    identities: dict[str, Identity]  # by name
    clusters: dict[str, dict[str, Any]]  # by name: id, issuer, fqdn
    custom_role: str  # GUID
    namespace: str  # the wanted Service Bus namespace's id

    def ident(self, name: str) -> Identity:
        return self.identities[name]


def _group(name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{name}"


def _role(guid: str) -> str:
    return f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def _cluster_model() -> aks_models.ManagedCluster:
    pool = aks_models.ManagedClusterAgentPoolProfile(name="system", count=2, vm_size="Standard_D4s_v5", mode="System")
    return aks_models.ManagedCluster(location="westeurope", properties=aks_models.ManagedClusterProperties(
        dns_prefix="aks", agent_pool_profiles=[pool], kubernetes_version="1.31",
        oidc_issuer_profile=aks_models.ManagedClusterOIDCIssuerProfile(enabled=True),
        security_profile=aks_models.ManagedClusterSecurityProfile(
            workload_identity=aks_models.ManagedClusterSecurityProfileWorkloadIdentity(enabled=True)),
        workload_auto_scaler_profile=aks_models.ManagedClusterWorkloadAutoScalerProfile(
            keda=aks_models.ManagedClusterWorkloadAutoScalerProfileKeda(enabled=True))))


def _seed(sim: AzureSim) -> Azure:
    admin = sim.admin_credential()
    rest = ArmRest(admin, sim.arm_url, str(sim.ca_path))
    for group in (RG, RG2):
        rest.put(_group(group), {"location": "westeurope"})
    msi = ManagedServiceIdentityClient(admin, SUB, **sim.client_kwargs())
    identities: dict[str, Identity] = {}
    for group, name in ((RG, "id-keda"), (RG2, "id-named"), (RG, "id-byid"), (RG2, "id-byprincipal"),
                        (RG, "id-unwanted"), (RG2, "id-unwanted2")):
        identities[name] = msi.user_assigned_identities.create_or_update(group, name, Identity(location="westeurope"))
    for group, name, fic, subject in ((RG, "id-keda", "keda-operator", KEDA_SUBJECT),
                                      (RG, "id-keda", "keda-metrics", "system:serviceaccount:keda:keda-metrics"),
                                      (RG2, "id-named", "named", KEDA_SUBJECT),
                                      (RG, "id-unwanted", "unwanted", KEDA_SUBJECT)):
        msi.federated_identity_credentials.create_or_update(group, name, fic, FederatedIdentityCredential(
            issuer="https://issuer.example.test/", subject=subject, audiences=EXCHANGE))
    authz = AuthorizationManagementClient(admin, SUB, **sim.client_kwargs())
    custom = str(uuid.uuid4())
    authz.role_definitions.create_or_update(f"/subscriptions/{SUB}", custom, RoleDefinition(
        role_name="KEDA Service Bus Reader", role_type="CustomRole", description="runtime properties only",
        permissions=[Permission(actions=["Microsoft.ServiceBus/namespaces/queues/read"])],
        assignable_scopes=[f"/subscriptions/{SUB}"]))
    namespace = f"{_group(RG)}/providers/Microsoft.ServiceBus/namespaces/sb-prod"

    def assign(scope: str, role: str, name: str, condition: str | None = None) -> None:
        authz.role_assignments.create(scope, str(uuid.uuid4()), RoleAssignmentCreateParameters(
            role_definition_id=_role(role), principal_id=str(identities[name].principal_id),
            principal_type="ServicePrincipal", condition=condition, condition_version="2.0" if condition else None))

    rest.put(namespace, {"location": "westeurope"})
    for child in ("queues/orders", "queues/invoices", "topics/events", "topics/audit",
                  "topics/events/subscriptions/keda", "topics/events/subscriptions/archive",
                  "topics/audit/subscriptions/all"):
        rest.put(f"{namespace}/{child}", {})
    other_ns = f"{_group(RG2)}/providers/Microsoft.ServiceBus/namespaces/sb-other"
    rest.put(other_ns, {"location": "westeurope"})
    rest.put(f"{other_ns}/queues/elsewhere", {})
    for group, path in ((RG, "Microsoft.EventHub/namespaces/eh-prod"), (RG2, "Microsoft.EventHub/namespaces/eh-x"),
                        (RG, "Microsoft.Storage/storageAccounts/stprod"),
                        (RG2, "Microsoft.Storage/storageAccounts/stx"),
                        (RG, "Microsoft.KeyVault/vaults/kv-prod"), (RG2, "Microsoft.KeyVault/vaults/kv-x")):
        rest.put(f"{_group(group)}/providers/{path}", {"location": "westeurope"})
    assign(namespace, SB_DATA_OWNER, "id-keda")  # on the resource
    assign(f"/subscriptions/{SUB}", READER, "id-keda")  # inherited from the subscription
    assign(_group(RG), custom, "id-keda")  # inherited from the resource group, custom role
    assign(_group(RG2), custom, "id-named", CONDITION)  # the same custom role: fetched once
    assign(f"/subscriptions/{SUB}", READER, "id-unwanted")
    aks = ContainerServiceClient(admin, SUB, **sim.client_kwargs())
    clusters = {}
    for group, name in ((RG, "aks-prod"), (RG2, "aks-other")):
        cluster = aks.managed_clusters.begin_create_or_update(group, name, _cluster_model()).result()
        assert cluster.oidc_issuer_profile is not None
        clusters[name] = {"id": cluster.id, "issuer": cluster.oidc_issuer_profile.issuer_url, "fqdn": cluster.fqdn}
    rest.close()
    return Azure(sim, admin, identities, clusters, custom, namespace)


@pytest.fixture(scope="module")
def azure() -> Iterator[Azure]:
    # page_size=2: every list spans pages, so paging is exercised and counted.
    with AzureSim(tenant_id=TENANT, subscription_ids=[SUB], page_size=2) as sim:
        yield _seed(sim)
        assert sim.spec_violations == []


@pytest.fixture(autouse=True)
def no_faults(azure: Azure) -> Iterator[None]:
    yield
    azure.sim.arm.faults.clear()


def wants_all(azure: Azure, **changes: Any) -> AzureWants:
    # Matched case-insensitively: a clientId, a name, a resource id and a principal id.
    refs = {"ID-NAMED", str(azure.ident("id-byid").id), principal(azure, "id-byprincipal")}
    base: dict[str, Any] = dict(
        client_ids=frozenset({str(azure.ident("id-keda").client_id).upper()}), identity_refs=frozenset(refs),
        sb_namespaces=frozenset({"SB-Prod"}), sb_topics=frozenset({("sb-prod", "events")}),
        eh_namespaces=frozenset({"eh-prod"}), storage_accounts=frozenset({"stprod"}),
        key_vaults=frozenset({"kv-prod"}),
        kube_issuer=str(azure.clusters["aks-prod"]["issuer"]).rstrip("/"))
    base.update(changes)
    return AzureWants(**base)


def collect(azure: Azure, wants: AzureWants, *, credential: Any = None, exact: bool = True,
            **options: Any) -> tuple[AzureResult, list[RecordedRequest]]:
    """Run the reader and return the ARM requests it made, as the simulator logged them."""
    log = azure.sim.arm.requests
    before = len(log)
    options.setdefault("subscriptions", [SUB])
    result = collect_azure(credential or azure.admin, wants, backoff=0.01, **azure.sim.client_kwargs(), **options)
    deadline = time.monotonic() + 2
    while len(log) - before < result.requests and time.monotonic() < deadline:
        time.sleep(0.005)  # the server logs a request just after answering it
    made = list(log)[before:]
    if exact:
        assert result.requests == len(made), "every request is counted, retries included"
    return result, made


def names(result: AzureResult, stem: str) -> set[str]:
    return {str(r["name"]) for r in result.resources.get(stem, ())}


def principal(azure: Azure, name: str) -> str:
    return str(azure.ident(name).principal_id)


# -- what is kept


def test_only_the_wanted_identities_are_kept_with_their_fics_and_role_assignments(azure: Azure) -> None:
    result, made = collect(azure, wants_all(azure))
    assert result.gaps == []
    assert names(result, "identities") == {"id-keda", "id-named", "id-byid", "id-byprincipal"}
    assert names(result, "federated-credentials") == {"keda-operator", "keda-metrics", "named"}
    keda = principal(azure, "id-keda")
    scopes = {r["properties"]["scope"] for r in result.resources["role-assignments"]
              if r["properties"]["principalId"] == keda}
    assert scopes == {azure.namespace, f"/subscriptions/{SUB}", _group(RG)}  # resource, inherited, group
    # Besides the kept identities' own, the assignments that reach the Service Bus namespace, whoever holds
    # them (here the admin's Owner and id-unwanted's Reader, inherited from the subscription).
    others = {r["properties"]["principalId"] for r in result.resources["role-assignments"]} - {
        keda, principal(azure, "id-named")}
    assert others == {str(azure.sim.admin().object_id), principal(azure, "id-unwanted")}
    # Only the custom role is fetched (the built-ins are known), and only once for two assignments.
    assert [r["name"] for r in result.resources["role-definitions"]] == [azure.custom_role]
    assert len([r for r in made if "/roleDefinitions/" in r.path]) == 1
    unwanted = ("id-unwanted", principal(azure, "id-unwanted"))
    assert not [r for r in made if any(u in r.path or u in json.dumps(r.query) for u in unwanted)]
    assert result.collected >= {T_IDENTITY, T_FIC, T_RA, T_RD, T_AKS, T_SB}
    assert result.tenant_id == TENANT and result.subscriptions == (SUB,)


def test_resources_are_arm_wire_json(azure: Azure) -> None:
    result, _ = collect(azure, wants_all(azure))
    identity = next(r for r in result.resources["identities"] if r["name"] == "id-keda")
    assert identity["type"] == T_IDENTITY
    assert identity["properties"]["clientId"] == azure.ident("id-keda").client_id
    assert identity["properties"]["principalId"] == principal(azure, "id-keda")
    fic = next(r for r in result.resources["federated-credentials"] if r["name"] == "keda-operator")
    assert fic["id"].lower() == f"{str(azure.ident('id-keda').id).lower()}/federatedidentitycredentials/keda-operator"
    assert fic["properties"] == {"issuer": "https://issuer.example.test/", "subject": KEDA_SUBJECT,
                                 "audiences": EXCHANGE}
    assert fic["systemData"]["createdAt"]
    assignment = next(r for r in result.resources["role-assignments"] if r["properties"]["scope"] == azure.namespace)
    assert assignment["type"] == T_RA
    assert assignment["properties"]["roleDefinitionId"] == _role(SB_DATA_OWNER)
    assert assignment["properties"]["principalType"] == "ServicePrincipal"
    assert assignment["properties"]["createdOn"].startswith("20")
    conditional = next(r for r in result.resources["role-assignments"] if r["properties"]["scope"] == _group(RG2))
    assert (conditional["properties"]["condition"], conditional["properties"]["conditionVersion"]) == (CONDITION, "2.0")
    role = result.resources["role-definitions"][0]
    assert role["properties"]["roleName"] == "KEDA Service Bus Reader"
    assert role["properties"]["permissions"][0]["actions"] == ["Microsoft.ServiceBus/namespaces/queues/read"]
    [cluster] = result.resources["aks"]
    props = cluster["properties"]
    assert cluster["type"] == T_AKS and cluster["name"] == "aks-prod" == result.cluster
    assert props["oidcIssuerProfile"]["issuerURL"] == azure.clusters["aks-prod"]["issuer"]
    assert props["securityProfile"]["workloadIdentity"]["enabled"] is True
    assert props["workloadAutoScalerProfile"]["keda"]["enabled"] is True
    assert props["kubernetesVersion"] == "1.31" and props["fqdn"] == azure.clusters["aks-prod"]["fqdn"]
    json.dumps(result.resources)  # plain JSON all the way down


# -- the AKS cluster


def test_the_cluster_is_found_by_issuer_by_server_host_or_by_id(azure: Azure) -> None:
    other = azure.clusters["aks-other"]
    by_issuer, _ = collect(azure, wants_all(azure, kube_issuer=other["issuer"]))
    assert by_issuer.cluster == "aks-other" and names(by_issuer, "aks") == {"aks-other"}
    by_host, _ = collect(azure, AzureWants(kube_server=f"https://{str(other['fqdn']).upper()}:443"))
    assert by_host.cluster == "aks-other"
    by_id, made = collect(azure, AzureWants(kube_issuer="https://unrelated.example/"),
                          aks_resource_id=str(azure.clusters["aks-prod"]["id"]), subscriptions=())
    assert by_id.cluster == "aks-prod" and by_id.subscriptions == (SUB,)
    assert [(r.method, r.path) for r in made] == [("GET", str(azure.clusters["aks-prod"]["id"]))]
    assert by_id.collected == {T_AKS}


def test_an_unknown_cluster_is_a_gap_naming_the_aks_flag(azure: Azure) -> None:
    result, made = collect(azure, AzureWants(kube_issuer="https://westeurope.oic.example/none/"))
    assert result.cluster is None and "aks" not in result.resources and T_AKS not in result.collected
    [gap] = result.gaps
    assert (gap.kind, gap.key) == (T_AKS, ALL) and "--aks RESOURCE_ID" in gap.grant
    assert "https://westeurope.oic.example/none/" in gap.reason
    assert {r.path for r in made} == {f"/subscriptions/{SUB}/providers/Microsoft.ContainerService/managedClusters"}


# -- the trigger targets


def test_service_bus_and_other_targets_keep_the_named_ones(azure: Azure) -> None:
    result, made = collect(azure, wants_all(azure))
    sb = {r["name"]: r["type"].lower() for r in result.resources["servicebus"]}
    assert sb == {"sb-prod": "microsoft.servicebus/namespaces", "orders": "microsoft.servicebus/namespaces/queues",
                  "invoices": "microsoft.servicebus/namespaces/queues",
                  "events": "microsoft.servicebus/namespaces/topics", "audit": "microsoft.servicebus/namespaces/topics",
                  "keda": "microsoft.servicebus/namespaces/topics/subscriptions",
                  "archive": "microsoft.servicebus/namespaces/topics/subscriptions"}
    assert not [r for r in made if "/topics/audit/" in r.path], "only the wanted topic's subscriptions"
    assert (names(result, "eventhubs"), names(result, "storage"), names(result, "keyvaults")) == (
        {"eh-prod"}, {"stprod"}, {"kv-prod"})
    assert {"Microsoft.ServiceBus/namespaces/queues", "Microsoft.ServiceBus/namespaces/topics/subscriptions",
            "Microsoft.EventHub/namespaces", "Microsoft.Storage/storageAccounts",
            "Microsoft.KeyVault/vaults"} <= result.collected


def test_types_no_trigger_needs_are_not_listed(azure: Azure) -> None:
    result, made = collect(azure, AzureWants(client_ids=frozenset({str(azure.ident("id-keda").client_id)})))
    providers = {p.split("/providers/")[-1].split("/")[0].lower() for p in (r.path for r in made)}
    assert providers == {"microsoft.managedidentity", "microsoft.authorization"}
    assert result.collected == {T_IDENTITY, T_FIC, T_RA, T_RD}
    assert [g.kind for g in result.gaps] == [T_AKS]  # nothing identifies the cluster: said, not guessed


# -- cost


def test_request_budget_per_identity_and_cluster(azure: Azure) -> None:
    result, made = collect(azure, wants_all(azure))
    kept = {r["name"]: r for r in result.resources["identities"]}
    per_identity = Counter[str]()
    for request in made:
        for name, identity in kept.items():
            if f"/userAssignedIdentities/{name}/" in request.path or \
                    identity["properties"]["principalId"] in json.dumps(request.query):
                per_identity[name] += 1
    assert set(per_identity) == set(kept) and max(per_identity.values()) <= 3
    cluster_requests = [r for r in made if "/managedClusters" in r.path]
    role_definitions = [r for r in made if "/roleDefinitions/" in r.path]
    list_pages = [r for r in made if r not in cluster_requests and r not in role_definitions
                  and not any(f"/userAssignedIdentities/{n}/" in r.path for n in kept)
                  and "assignedTo" not in json.dumps(r.query)]
    # Everything else is a shared list page: subscription-wide lists and Service Bus children.
    assert all(r.method == "GET" and ("/providers/" in r.path) for r in list_pages)
    assert len(cluster_requests) <= 2 and len(role_definitions) == 1
    assert len(made) <= 3 * len(kept) + 2 + len(list_pages) + len(role_definitions)
    distinct = Counter((r.method, r.path, json.dumps(sorted(r.query.items()))) for r in made)
    assert max(distinct.values()) == 1, "no request is ever made twice"
    print(f"ARM requests: {len(made)} for {len(kept)} identities ({dict(per_identity)}), "
          f"{len(cluster_requests)} cluster, {len(list_pages)} list pages")


def test_progress_is_reported_until_done(azure: Azure) -> None:
    seen: list[tuple[int, int, str]] = []
    collect(azure, wants_all(azure), progress=lambda done, total, label: seen.append((done, total, label)))
    assert seen and [d for d, _, _ in seen] == list(range(1, len(seen) + 1))
    assert seen[-1][0] == seen[-1][1]
    assert any(label.startswith("federated credentials of id-keda") for _, _, label in seen)


def test_every_client_shares_one_token(azure: Azure) -> None:
    asked: list[tuple[str, ...]] = []

    class Counting:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            asked.append(scopes)
            return azure.admin.get_token(*scopes, **kwargs)

    collect(azure, wants_all(azure), credential=Counting())
    assert asked == [("https://management.azure.com/.default",)]


def test_subscriptions_are_discovered_when_none_is_named(azure: Azure) -> None:
    result, made = collect(azure, AzureWants(client_ids=frozenset({str(azure.ident("id-keda").client_id)})),
                           subscriptions=())
    assert made[0].path == "/subscriptions"
    assert result.subscriptions == (SUB,) and result.tenant_id == TENANT
    assert names(result, "identities") == {"id-keda"}


# -- permissions and failures


def test_a_reader_on_one_resource_group_gets_gaps_naming_the_roles_it_lacks(azure: Azure) -> None:
    bot = Principal(str(uuid.uuid4()), TENANT, "keda-auth-bot", app_id=str(uuid.uuid4()),
                    secret=secrets.token_urlsafe(24))
    azure.sim.world.store.add_principal(bot)
    authz = AuthorizationManagementClient(azure.admin, SUB, **azure.sim.client_kwargs())
    authz.role_assignments.create(_group(RG), str(uuid.uuid4()), RoleAssignmentCreateParameters(
        role_definition_id=_role(READER), principal_id=bot.object_id, principal_type="ServicePrincipal"))
    assert bot.app_id is not None and bot.secret is not None
    credential = ClientSecretCredential(TENANT, bot.app_id, bot.secret, disable_instance_discovery=True,
                                        **azure.sim.credential_kwargs())
    keda, byid = str(azure.ident("id-keda").id), str(azure.ident("id-byid").id)
    wants = AzureWants(client_ids=frozenset({str(azure.ident("id-named").client_id)}),
                       identity_refs=frozenset({keda, byid}), sb_namespaces=frozenset({"sb-prod"}))
    result, _ = collect(azure, wants, credential=credential, aks_resource_id=str(azure.clusters["aks-prod"]["id"]))
    gaps = {(g.kind, g.key): g for g in result.gaps}
    listing = gaps[(T_IDENTITY, ALL)]
    assert listing.grant == (f"Azure role Reader on subscription {SUB} "
                             "(Microsoft.ManagedIdentity/userAssignedIdentities/read)")
    assert listing.reason.startswith("403 AuthorizationFailed: The client ") and bot.object_id in listing.reason
    for name in ("id-keda", "id-byid"):
        denied = gaps[(T_RA, principal(azure, name))]
        assert denied.grant == f"Azure role Reader on subscription {SUB} (Microsoft.Authorization/roleAssignments/read)"
    assert gaps[(T_SB, ALL)].grant.startswith(f"Azure role Reader on subscription {SUB}")
    assert len(result.gaps) == 4
    # Still read: the identities named by id (one GET each), their FICs, the cluster in the readable group.
    assert names(result, "identities") == {"id-keda", "id-byid"}
    assert names(result, "federated-credentials") == {"keda-operator", "keda-metrics"}
    assert result.cluster == "aks-prod"
    assert result.collected == {T_FIC, T_AKS}


def test_throttling_waits_for_retry_after(azure: Azure) -> None:
    path = r"/userAssignedIdentities/id-keda/federatedIdentityCredentials$"
    rule = azure.sim.arm.faults.add(method="GET", path=path, status=429, retry_after=1, times=1)
    started = time.perf_counter()
    result, made = collect(azure, wants_all(azure, sb_namespaces=frozenset()))
    elapsed = time.perf_counter() - started
    assert rule.fired == 1 and result.gaps == []
    assert [r.status for r in made if r.path.endswith("/id-keda/federatedIdentityCredentials")] == [429, 200]
    assert elapsed >= 1.0, "the retry waited for Retry-After (the backoff alone is 0.01 s)"
    assert {"keda-operator", "keda-metrics"} <= names(result, "federated-credentials")


def test_server_errors_are_retried_until_they_pass(azure: Azure) -> None:
    azure.sim.arm.faults.add(method="GET", path=r"/providers/Microsoft.Authorization/roleAssignments$", status=500,
                             times=2)
    result, made = collect(azure, wants_all(azure))
    assert result.gaps == []
    assert len([r for r in made if r.status == 500]) == 2
    assert principal(azure, "id-keda") in {r["properties"]["principalId"] for r in result.resources["role-assignments"]}


def test_a_server_error_that_persists_becomes_a_gap_for_that_identity_only(azure: Azure) -> None:
    keda = str(azure.ident("id-keda").id)
    azure.sim.arm.faults.add(method="GET", path=r"/id-keda/federatedIdentityCredentials$", status=500, times=None)
    result, made = collect(azure, wants_all(azure), attempts=2)
    [gap] = result.gaps
    assert (gap.source, gap.kind, gap.key.lower()) == ("azure", T_FIC, keda.lower())
    assert gap.reason.startswith("500 InternalServerError after 2 attempts")
    assert gap.grant == f"Azure role Reader on identity {keda} ({T_FIC}/read)"
    assert len([r for r in made if r.path.endswith("/id-keda/federatedIdentityCredentials")]) == 2
    assert names(result, "federated-credentials") == {"named"}
    assert T_FIC in result.collected  # listed; the one identity's share is the keyed gap


def test_a_request_that_times_out_becomes_a_gap(azure: Azure) -> None:
    azure.sim.arm.faults.add(method="GET", path=r"/providers/Microsoft.ServiceBus/namespaces$", hang=True, times=None)
    result, _ = collect(azure, wants_all(azure), attempts=2, read_timeout=0.3, exact=False)
    [gap] = result.gaps
    assert (gap.kind, gap.key) == (T_SB, ALL)
    assert gap.reason.startswith("no answer after 2 attempts")
    assert T_SB not in result.collected and "servicebus" not in result.resources
    assert names(result, "identities") and result.cluster == "aks-prod"


def test_a_credential_without_a_token_gives_one_sign_in_gap(azure: Azure) -> None:
    wrong = ClientSecretCredential(TENANT, str(azure.sim.admin().app_id), "not-the-secret",
                                   disable_instance_discovery=True, **azure.sim.credential_kwargs())
    before = len(azure.sim.arm.requests)
    result, _ = collect(azure, wants_all(azure), credential=wrong)
    [gap] = result.gaps
    assert "az login" in gap.grant and "AZURE_CLIENT_SECRET" in gap.grant
    assert gap.reason.startswith("ClientAuthenticationError")
    assert "not-the-secret" not in gap.reason
    assert result.requests == 0 and result.resources == {} and result.collected == set()
    time.sleep(0.05)
    assert len(azure.sim.arm.requests) == before, "nothing else was attempted"


# -- into a Snapshot


def test_the_result_reads_back_as_a_bundle(azure: Azure, tmp_path: Path) -> None:
    result, _ = collect(azure, wants_all(azure))
    (tmp_path / "azure").mkdir()
    for stem, resources in result.resources.items():
        (tmp_path / "azure" / f"{stem}.json").write_text(json.dumps(resources, indent=1), encoding="utf-8")
    snapshot = read_bundle(tmp_path)
    assert [p for p in snapshot.problems if p.level == "error"] == []
    keda = snapshot.identity_by_client_id(str(azure.ident("id-keda").client_id))
    assert keda is not None and keda.principal_id == principal(azure, "id-keda") and keda.tenant_id == TENANT
    assert {f.name for f in snapshot.fics_of(keda.id)} == {"keda-operator", "keda-metrics"}
    assert all(f.audiences == tuple(EXCHANGE) and f.created is not None for f in snapshot.fics_of(keda.id))
    assignments = snapshot.role_assignments_of(keda.principal_id)
    assert {a.role_guid for a in assignments} == {SB_DATA_OWNER, READER, azure.custom_role}
    assert all(a.created is not None and a.principal_type == "ServicePrincipal" for a in assignments)
    assert snapshot.role_assignments_covering(f"{azure.namespace}/queues/orders")
    [conditional] = snapshot.role_assignments_of(principal(azure, "id-named"))
    assert conditional.condition == CONDITION
    custom = snapshot.role_definition(azure.custom_role)
    assert custom is not None and custom.role_name == "KEDA Service Bus Reader"
    [cluster] = snapshot.clusters
    assert (cluster.name, cluster.issuer_url, cluster.workload_identity_enabled, cluster.keda_addon_enabled,
            cluster.kubernetes_version) == ("aks-prod", azure.clusters["aks-prod"]["issuer"], True, True, "1.31.5")
    assert snapshot.arm_get(azure.namespace) is not None
