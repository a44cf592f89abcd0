"""AzureSim's ARM surface through the official clients: front door, subscriptions, resource groups, managed
identities, federated credentials, AKS, scaler target resources, paging and fault injection."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.credentials import AccessToken, TokenCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice import models as aks_models
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.msi.models import FederatedIdentityCredential, Identity, IdentityUpdate

from tests.kit.azuresim import AzureSim
from tests.kit.azuresim.client import ArmRest
from tests.kit.azuresim.testing import recorded

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "5b15da40-59ed-401c-b5f6-09ac41c12d7e"
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
OTHER_SUB = "9e2a4d1c-5b7f-4c8e-a1d3-6f0b2c4e8a17"
RG = "rg-prod-weu"
ISSUER = f"https://westeurope.oic.prod-aks.azure.com/{TENANT}/3c1f9ad1-3f2a-4d0e-9f5c-6f3b2a1e9c11/"
KEDA_SUBJECT = "system:serviceaccount:keda:keda-operator"
EXCHANGE = ["api://AzureADTokenExchange"]


@pytest.fixture(scope="module")
def sim() -> Iterator[AzureSim]:
    # page_size=2 makes every list in this module span several pages.
    with AzureSim(tenant_id=TENANT, subscription_ids=[SUB], extra_tenants=[OTHER_TENANT], page_size=2) as azure:
        azure.add_subscription(OTHER_SUB, tenant_id=OTHER_TENANT)
        yield azure
        assert azure.spec_violations == []


@pytest.fixture(scope="module")
def admin(sim: AzureSim) -> ClientSecretCredential:
    return sim.admin_credential()


@pytest.fixture(scope="module")
def rest(sim: AzureSim, admin: ClientSecretCredential) -> ArmRest:
    client = ArmRest(admin, sim.arm_url, str(sim.ca_path))
    client.put(f"/subscriptions/{SUB}/resourceGroups/{RG}", {"location": "westeurope"})
    return client


@pytest.fixture(scope="module")
def msi(sim: AzureSim, admin: ClientSecretCredential, rest: ArmRest) -> ManagedServiceIdentityClient:
    return ManagedServiceIdentityClient(admin, SUB, **sim.client_kwargs())


@pytest.fixture(scope="module")
def aks(sim: AzureSim, admin: ClientSecretCredential, rest: ArmRest) -> ContainerServiceClient:
    return ContainerServiceClient(admin, SUB, **sim.client_kwargs())


class FixedScopeCredential:
    """Asks Entra for `scope` whatever the client wants: a token for the wrong audience."""

    def __init__(self, inner: TokenCredential, scope: str) -> None:
        self.inner, self.scope = inner, scope

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return self.inner.get_token(self.scope)


def _error(excinfo: pytest.ExceptionInfo[HttpResponseError]) -> tuple[str, str]:
    error = excinfo.value.error
    assert error is not None
    return str(error.code), str(error.message)


# -- start-up and the front door


def test_starts_well_under_a_second() -> None:
    started = time.perf_counter()
    with AzureSim(tenant_id=TENANT, subscription_ids=[SUB]) as fresh:
        elapsed = time.perf_counter() - started
        assert fresh.arm_url.startswith("https://127.0.0.1:")
        assert fresh.authority_host.startswith("https://127.0.0.1:")
        assert fresh.arm_url != fresh.authority_host
    print(f"AzureSim start-up: {elapsed * 1000:.1f} ms")
    assert elapsed < 0.5


def test_requests_without_api_version_are_rejected(sim: AzureSim, rest: ArmRest) -> None:
    with pytest.raises(HttpResponseError) as excinfo:
        rest.get(f"/subscriptions/{SUB}/resourceGroups/{RG}", api_version="")
    assert excinfo.value.status_code == 400
    assert _error(excinfo) == ("MissingApiVersionParameter",
                               "The api-version query parameter (?api-version=) is required for all requests.")


def test_requests_without_a_token_get_401_with_a_challenge(sim: AzureSim) -> None:
    anonymous = ArmRest(None, sim.arm_url, str(sim.ca_path))
    with pytest.raises(ClientAuthenticationError) as excinfo:
        anonymous.get(f"/subscriptions/{SUB}")
    assert _error(excinfo) == ("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
    response: Any = excinfo.value.response
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith(f'Bearer authorization_uri="{sim.authority_host}/{TENANT}", error="invalid_token"')


def test_tokens_for_another_audience_are_rejected(sim: AzureSim, admin: ClientSecretCredential) -> None:
    storage = ArmRest(FixedScopeCredential(admin, "https://storage.azure.com/.default"), sim.arm_url,
                      str(sim.ca_path))
    with pytest.raises(ClientAuthenticationError) as excinfo:
        storage.get(f"/subscriptions/{SUB}")
    code, message = _error(excinfo)
    assert code == "InvalidAuthenticationToken"
    assert message.startswith("The access token has been obtained for wrong audience or resource "
                              "'https://storage.azure.com'.")


def test_forged_tokens_are_rejected(sim: AzureSim) -> None:
    class Forged:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            return AccessToken("eyJhbGciOiJub25lIn0.eyJhdWQiOiJ4In0.c2ln", int(time.time()) + 3600)

    with pytest.raises(ClientAuthenticationError) as excinfo:
        ArmRest(Forged(), sim.arm_url, str(sim.ca_path)).get(f"/subscriptions/{SUB}")
    assert _error(excinfo) == ("InvalidAuthenticationToken", "The access token is invalid.")


def test_unknown_api_versions_are_rejected(sim: AzureSim, rest: ArmRest) -> None:
    path = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x"
    with pytest.raises(HttpResponseError) as excinfo:
        rest.get(path, api_version="2099-01-01")
    code, message = _error(excinfo)
    assert code == "NoRegisteredProviderFound" and "'2099-01-01' for type 'userAssignedIdentities'" in message


def test_tokens_from_another_tenant_are_rejected(sim: AzureSim) -> None:
    other = ArmRest(sim.admin_credential(OTHER_TENANT), sim.arm_url, str(sim.ca_path))
    assert other.get(f"/subscriptions/{OTHER_SUB}")["tenantId"] == OTHER_TENANT
    with pytest.raises(ClientAuthenticationError) as excinfo:
        other.get(f"/subscriptions/{SUB}")
    code, message = _error(excinfo)
    assert code == "InvalidAuthenticationTokenTenant"
    assert f"It must match the tenant 'https://sts.windows.net/{TENANT}/'" in message


def test_expired_tokens_are_rejected(sim: AzureSim) -> None:
    with AzureSim(tenant_id=TENANT, subscription_ids=[SUB]) as fresh:
        client = ArmRest(fresh.admin_credential(), fresh.arm_url, str(fresh.ca_path))
        client.get(f"/subscriptions/{SUB}")
        fresh.advance(2 * 3600)  # the client still believes its cached token is fresh
        with pytest.raises(ClientAuthenticationError) as excinfo:
            client.get(f"/subscriptions/{SUB}")
        code, message = _error(excinfo)
        assert code == "ExpiredAuthenticationToken"
        assert message.startswith("The access token expiry UTC time '")


# -- subscriptions and resource groups


def test_subscriptions_are_listed_for_the_callers_tenant(sim: AzureSim, rest: ArmRest) -> None:
    subscription = rest.get(f"/subscriptions/{SUB}")
    assert subscription["subscriptionId"] == SUB and subscription["tenantId"] == TENANT
    assert subscription["state"] == "Enabled"
    assert [s["subscriptionId"] for s in rest.get("/subscriptions")["value"]] == [SUB]
    with pytest.raises(ResourceNotFoundError) as excinfo:
        rest.get("/subscriptions/00000000-0000-0000-0000-000000000001")
    assert _error(excinfo) == ("SubscriptionNotFound",
                               "The subscription '00000000-0000-0000-0000-000000000001' could not be found.")


def test_resource_group_lifecycle(sim: AzureSim, rest: ArmRest) -> None:
    path = f"/subscriptions/{SUB}/resourceGroups/rg-Temp"
    created = rest.put(path, {"location": "northeurope", "tags": {"team": "sre"}})
    assert created == {"id": path, "name": "rg-Temp", "type": "Microsoft.Resources/resourceGroups",
                       "location": "northeurope", "tags": {"team": "sre"},
                       "properties": {"provisioningState": "Succeeded"}}
    assert rest.get(path.lower())["name"] == "rg-Temp"  # ids are case-insensitive
    names = [g["name"] for g in _all_pages(rest, f"/subscriptions/{SUB}/resourcegroups")]
    assert {"rg-Temp", RG} <= set(names)
    rest.delete(path)
    with pytest.raises(ResourceNotFoundError) as excinfo:
        rest.get(path)
    assert _error(excinfo) == ("ResourceGroupNotFound", "Resource group 'rg-Temp' could not be found.")


def _all_pages(rest: ArmRest, path: str) -> list[dict[str, Any]]:
    body = rest.get(path)
    items = list(body["value"])
    while body.get("nextLink"):
        body = rest.send("GET", body["nextLink"], api_version="")
        items += body["value"]
    return items


# -- managed identities and federated identity credentials


def test_identity_create_read_update_list_delete(sim: AzureSim, msi: ManagedServiceIdentityClient) -> None:
    created = msi.user_assigned_identities.create_or_update(RG, "id-crud", Identity(location="westeurope",
                                                                                    tags={"app": "keda"}))
    assert created.id == (f"/subscriptions/{SUB}/resourcegroups/{RG}/providers/Microsoft.ManagedIdentity/"
                          "userAssignedIdentities/id-crud")
    assert created.tenant_id == TENANT and created.isolation_scope == "None"
    assert re.fullmatch(r"[0-9a-f-]{36}", str(created.client_id))
    assert created.client_id != created.principal_id
    again = msi.user_assigned_identities.create_or_update(RG, "ID-CRUD", Identity(location="westeurope"))
    assert (again.client_id, again.principal_id) == (created.client_id, created.principal_id)
    updated = msi.user_assigned_identities.update(RG, "id-crud", IdentityUpdate(tags={"app": "keda", "v": "2"}))
    assert updated.tags == {"app": "keda", "v": "2"}
    for name in ("id-list-a", "id-list-b"):
        msi.user_assigned_identities.create_or_update(RG, name, Identity(location="westeurope"))
    by_group = [i.name for i in msi.user_assigned_identities.list_by_resource_group(RG)]
    by_subscription = [i.name for i in msi.user_assigned_identities.list_by_subscription()]
    assert {"id-crud", "id-list-a", "id-list-b"} <= set(by_group) and set(by_group) == set(by_subscription)
    msi.user_assigned_identities.delete(RG, "id-crud")
    with pytest.raises(ResourceNotFoundError) as excinfo:
        msi.user_assigned_identities.get(RG, "id-crud")
    assert _error(excinfo)[0] == "ResourceNotFound"
    assert "Microsoft.ManagedIdentity/userAssignedIdentities/id-crud" in _error(excinfo)[1]


def test_identity_needs_a_location_and_an_existing_group(sim: AzureSim, msi: ManagedServiceIdentityClient) -> None:
    with pytest.raises(HttpResponseError) as excinfo:
        msi.user_assigned_identities.create_or_update(RG, "id-nowhere", Identity(location=""))
    assert _error(excinfo)[0] == "LocationRequired"
    with pytest.raises(ResourceNotFoundError) as missing:
        msi.user_assigned_identities.create_or_update("rg-missing", "id-x", Identity(location="westeurope"))
    assert _error(missing) == ("ResourceGroupNotFound", "Resource group 'rg-missing' could not be found.")


def test_federated_credentials_crud_and_paging(sim: AzureSim, msi: ManagedServiceIdentityClient) -> None:
    msi.user_assigned_identities.create_or_update(RG, "id-fic", Identity(location="westeurope"))
    for index in range(5):
        fic = msi.federated_identity_credentials.create_or_update(
            RG, "id-fic", f"fic-{index}",
            FederatedIdentityCredential(issuer=ISSUER, subject=f"system:serviceaccount:ns{index}:sa",
                                        audiences=EXCHANGE))
        assert fic.type == "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
    fetched = msi.federated_identity_credentials.get(RG, "id-fic", "fic-3")
    assert (fetched.issuer, fetched.subject, fetched.audiences) == (ISSUER, "system:serviceaccount:ns3:sa", EXCHANGE)
    assert fetched.system_data is not None and fetched.system_data.created_at is not None
    listed = list(msi.federated_identity_credentials.list(RG, "id-fic", top=2))
    assert [f.name for f in listed] == [f"fic-{i}" for i in range(5)]
    later_page = recorded(sim.arm, lambda r: r.path.endswith("/id-fic/federatedIdentityCredentials")
                          and "$skipToken" in r.query)
    assert later_page.query["$top"] == ["2"], "the nextLink keeps the page size"
    msi.federated_identity_credentials.delete(RG, "id-fic", "fic-4")
    assert len(list(msi.federated_identity_credentials.list(RG, "id-fic"))) == 4


def test_federated_credential_validation(sim: AzureSim, msi: ManagedServiceIdentityClient) -> None:
    msi.user_assigned_identities.create_or_update(RG, "id-fic-rules", Identity(location="westeurope"))

    def put(name: str, credential: FederatedIdentityCredential) -> tuple[int | None, str, str]:
        with pytest.raises(HttpResponseError) as excinfo:
            msi.federated_identity_credentials.create_or_update(RG, "id-fic-rules", name, credential)
        return (excinfo.value.status_code, *_error(excinfo))

    good = FederatedIdentityCredential(issuer=ISSUER, subject=KEDA_SUBJECT, audiences=EXCHANGE)
    assert put("k", good) == (400, "BadRequest", "Federated Identity Credential name 'k' is invalid.")
    assert put("keda", FederatedIdentityCredential(issuer=ISSUER, audiences=EXCHANGE)) == (
        400, "BadRequest", "The request format was unexpected. Federated Identity Credential must specify 'issuer', "
                           "'subject' and 'audience'.")
    two = FederatedIdentityCredential(issuer=ISSUER, subject=KEDA_SUBJECT, audiences=[*EXCHANGE, "api://other"])
    assert put("keda", two) == (400, "InvalidFederatedIdentityCredentialsAudienceLength",
                                "Federated identity credentials must have exactly 1 audience.")
    msi.federated_identity_credentials.create_or_update(RG, "id-fic-rules", "keda", good)
    msi.federated_identity_credentials.create_or_update(RG, "id-fic-rules", "keda", good)  # an update is fine
    assert put("keda-again", good) == (409, "Conflict",
                                       "Issuer and subject combination already exists for this Managed Identity.")
    with pytest.raises(ResourceNotFoundError) as orphan:
        msi.federated_identity_credentials.create_or_update(RG, "id-absent", "keda", good)
    assert _error(orphan)[0] == "ParentResourceNotFound"


def test_at_most_twenty_federated_credentials_per_identity(sim: AzureSim, msi: ManagedServiceIdentityClient) -> None:
    msi.user_assigned_identities.create_or_update(RG, "id-full", Identity(location="westeurope"))
    for index in range(20):
        msi.federated_identity_credentials.create_or_update(
            RG, "id-full", f"fic-{index:02d}",
            FederatedIdentityCredential(issuer=ISSUER, subject=f"system:serviceaccount:ns:sa{index}",
                                        audiences=EXCHANGE))
    with pytest.raises(HttpResponseError) as excinfo:
        msi.federated_identity_credentials.create_or_update(
            RG, "id-full", "fic-20",
            FederatedIdentityCredential(issuer=ISSUER, subject=KEDA_SUBJECT, audiences=EXCHANGE))
    code, message = _error(excinfo)
    assert (excinfo.value.status_code, code) == (400, "BadRequest")
    assert message.startswith("Too many Federated Identity Credentials.")
    assert len(list(msi.federated_identity_credentials.list(RG, "id-full"))) == 20


# -- AKS


def _cluster(tags: dict[str, str] | None = None) -> aks_models.ManagedCluster:
    pool = aks_models.ManagedClusterAgentPoolProfile(name="system", count=3, vm_size="Standard_D4s_v5", mode="System")
    return aks_models.ManagedCluster(location="westeurope", tags=tags, properties=aks_models.ManagedClusterProperties(
        dns_prefix="aks-prod", agent_pool_profiles=[pool],
        oidc_issuer_profile=aks_models.ManagedClusterOIDCIssuerProfile(enabled=True),
        security_profile=aks_models.ManagedClusterSecurityProfile(
            workload_identity=aks_models.ManagedClusterSecurityProfileWorkloadIdentity(enabled=True)),
        workload_auto_scaler_profile=aks_models.ManagedClusterWorkloadAutoScalerProfile(
            keda=aks_models.ManagedClusterWorkloadAutoScalerProfileKeda(enabled=True))))


def test_managed_cluster_create_keeps_workload_identity_and_issuer(sim: AzureSim, aks: ContainerServiceClient) -> None:
    cluster = aks.managed_clusters.begin_create_or_update(RG, "aks-prod", _cluster()).result()
    assert cluster.provisioning_state == "Succeeded"
    issuer = cluster.oidc_issuer_profile and cluster.oidc_issuer_profile.issuer_url
    assert re.fullmatch(rf"https://westeurope\.oic\.prod-aks\.azure\.com/{TENANT}/[0-9a-f-]{{36}}/", str(issuer))
    assert cluster.security_profile and cluster.security_profile.workload_identity
    assert cluster.security_profile.workload_identity.enabled is True
    assert cluster.workload_auto_scaler_profile and cluster.workload_auto_scaler_profile.keda
    assert cluster.workload_auto_scaler_profile.keda.enabled is True
    again = aks.managed_clusters.begin_create_or_update(RG, "aks-prod", _cluster(tags={"v": "2"})).result()
    assert again.oidc_issuer_profile and again.oidc_issuer_profile.issuer_url == issuer  # stable across updates
    fetched = aks.managed_clusters.get(RG, "aks-prod")
    assert fetched.node_resource_group == f"MC_{RG}_aks-prod_westeurope" and fetched.tags == {"v": "2"}
    assert sim.cluster_issuer(SUB, RG, "aks-prod").issuer == issuer


def test_managed_cluster_long_running_operation_is_polled(sim: AzureSim, aks: ContainerServiceClient) -> None:
    settings = sim.world.settings
    settings.lro_seconds, settings.lro_retry_after = 0.2, 0
    try:
        poller = aks.managed_clusters.begin_create_or_update(RG, "aks-slow", _cluster(), polling_interval=0.05)
        assert aks.managed_clusters.get(RG, "aks-slow").provisioning_state == "Creating"
        assert poller.result().provisioning_state == "Succeeded"
    finally:
        settings.lro_seconds, settings.lro_retry_after = 0.0, 1
    assert recorded(sim.arm, lambda r: "/providers/Microsoft.ContainerService/locations/" in r.path), \
        "the poller followed Azure-AsyncOperation"
    aks.managed_clusters.begin_delete(RG, "aks-slow", polling_interval=0.05).result()
    with pytest.raises(ResourceNotFoundError):
        aks.managed_clusters.get(RG, "aks-slow")


# -- scaler targets (generic resources)


def test_service_bus_entities_need_their_parents(sim: AzureSim, rest: ArmRest) -> None:
    namespace = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ServiceBus/namespaces/sb-prod-weu"
    with pytest.raises(ResourceNotFoundError) as excinfo:
        rest.put(f"{namespace}/queues/orders", {})
    assert _error(excinfo) == ("ParentResourceNotFound",
                               "Failed to perform 'write' on resource(s) of type 'namespaces/queues', because the "
                               f"parent resource '{namespace}' could not be found.")
    created = rest.put(namespace, {"location": "westeurope", "sku": {"name": "Premium", "tier": "Premium"}})
    assert created["type"] == "Microsoft.ServiceBus/Namespaces" and created["sku"]["name"] == "Premium"
    assert created["properties"]["serviceBusEndpoint"] == "https://sb-prod-weu.servicebus.windows.net:443/"
    queue = rest.put(f"{namespace}/queues/orders", {"properties": {"maxDeliveryCount": 5}})
    assert queue["properties"]["maxDeliveryCount"] == 5 and queue["properties"]["status"] == "Active"
    rest.put(f"{namespace}/topics/events", {})
    subscription = rest.put(f"{namespace}/topics/events/subscriptions/keda", {})
    assert subscription["type"] == "Microsoft.ServiceBus/Namespaces/Topics/Subscriptions"
    rest.put(f"{namespace}/queues/invoices", {})
    rest.put(f"{namespace}/queues/refunds", {})
    assert [q["name"] for q in _all_pages(rest, f"{namespace}/queues")] == ["orders", "invoices", "refunds"]
    rest.delete(namespace)
    with pytest.raises(ResourceNotFoundError) as gone:
        rest.get(f"{namespace}/queues/orders")
    assert _error(gone)[0] == "ParentResourceNotFound"


def test_event_hubs_storage_and_key_vault_resources(sim: AzureSim, rest: ArmRest) -> None:
    base = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers"
    hub = rest.put(f"{base}/Microsoft.EventHub/namespaces/eh-prod", {"location": "westeurope"})
    assert hub["properties"]["provisioningState"] == "Succeeded"
    assert rest.put(f"{base}/Microsoft.EventHub/namespaces/eh-prod/eventhubs/telemetry", {})["name"] == "telemetry"
    account = rest.put(f"{base}/Microsoft.Storage/storageAccounts/stprodweu", {"location": "westeurope"})
    assert account["properties"]["primaryEndpoints"]["queue"] == "https://stprodweu.queue.core.windows.net/"
    queue = rest.put(f"{base}/Microsoft.Storage/storageAccounts/stprodweu/queueServices/default/queues/jobs", {})
    assert queue["id"].endswith("/queueServices/default/queues/jobs")
    vault = rest.put(f"{base}/Microsoft.KeyVault/vaults/kv-prod", {"location": "westeurope"})
    assert vault["properties"]["vaultUri"] == "https://kv-prod.vault.azure.net/"
    assert vault["properties"]["tenantId"] == TENANT
    with pytest.raises(ResourceNotFoundError) as excinfo:
        rest.get(f"{base}/Microsoft.KeyVault/vaults/kv-none")
    assert _error(excinfo) == ("ResourceNotFound",
                               f"The Resource 'Microsoft.KeyVault/vaults/kv-none' under resource group '{RG}' was "
                               "not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")


# -- faults


def test_throttling_is_retried_after_retry_after(sim: AzureSim, msi: ManagedServiceIdentityClient) -> None:
    msi.user_assigned_identities.create_or_update(RG, "id-throttled", Identity(location="westeurope"))
    rule = sim.arm.faults.add(method="GET", path=r"/userAssignedIdentities/id-throttled$", status=429,
                              retry_after=1, times=1)
    started = time.perf_counter()
    assert msi.user_assigned_identities.get(RG, "id-throttled").name == "id-throttled"
    assert rule.fired == 1 and time.perf_counter() - started >= 1.0
    assert 429 in [r.status for r in sim.arm.calls("GET") if r.path.endswith("/id-throttled")]


def test_server_errors_surface_with_arms_error_body(sim: AzureSim, admin: ClientSecretCredential) -> None:
    impatient = ManagedServiceIdentityClient(admin, SUB, retry_total=0, **sim.client_kwargs())
    sim.arm.faults.add(method="GET", path=r"/userAssignedIdentities$", status=500, times=1)
    with pytest.raises(HttpResponseError) as excinfo:
        list(impatient.user_assigned_identities.list_by_resource_group(RG))
    assert excinfo.value.status_code == 500
    assert _error(excinfo) == ("InternalServerError", "Internal error occurred: injected fault")
    assert list(impatient.user_assigned_identities.list_by_resource_group(RG))  # the fault fired once


def test_the_spec_recorder_catches_an_off_spec_answer() -> None:
    # Every module's `sim` fixture asserts `spec_violations == []` at teardown; this proves the check can fail.
    from tests.kit.azuresim.spec import MSI_DOC, Schema, SpecRecorder

    recorder = SpecRecorder()
    recorder.check("GET identity", {"id": "/x", "name": "x", "location": "westeurope",
                                    "properties": {"clientId": 42}, "surprise": True},
                   Schema.of(MSI_DOC, "Identity"))
    assert any("properties.clientId" in v for v in recorder.violations)
    assert any("surprise: not in the published schema" in v for v in recorder.violations)
