"""AzureSim's Entra ID through azure-identity: the workload identity token exchange KEDA performs (every
AADSTS failure the product diagnoses), the admin's client-secret sign-in, and Entra outages."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.msi.models import FederatedIdentityCredential, Identity

from tests.kit.azuresim import AzureSim
from tests.kit.azuresim.client import ArmRest
from tests.kit.azuresim.testing import KEDA_SUBJECT, TOKEN_EXCHANGE, recorded, token_file, workload_credential
from tests.kit.sim.oidc import OidcIssuer

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
RG = "rg-prod-weu"
ARM = "https://management.azure.com/.default"
ISSUER = OidcIssuer(f"https://westeurope.oic.prod-aks.azure.com/{TENANT}/3c1f9ad1-3f2a-4d0e-9f5c-6f3b2a1e9c11/")


@pytest.fixture(scope="module")
def sim() -> Iterator[AzureSim]:
    with AzureSim(tenant_id=TENANT, subscription_ids=[SUB]) as azure:
        azure.trust_issuer(ISSUER.issuer, ISSUER.jwks())
        ArmRest(azure.admin_credential(), azure.arm_url, str(azure.ca_path)).put(
            f"/subscriptions/{SUB}/resourceGroups/{RG}", {"location": "westeurope"})
        yield azure
        assert azure.spec_violations == []


@pytest.fixture(scope="module")
def msi(sim: AzureSim) -> ManagedServiceIdentityClient:
    return ManagedServiceIdentityClient(sim.admin_credential(), SUB, **sim.client_kwargs())


def federated(msi: ManagedServiceIdentityClient, name: str, *, issuer: str = ISSUER.issuer,
              subject: str = KEDA_SUBJECT, audience: str = TOKEN_EXCHANGE) -> Identity:
    identity: Identity = msi.user_assigned_identities.create_or_update(RG, name, Identity(location="westeurope"))
    msi.federated_identity_credentials.create_or_update(
        RG, name, "keda-operator", FederatedIdentityCredential(issuer=issuer, subject=subject, audiences=[audience]))
    return identity


def exchange_error(sim: AzureSim, client_id: str, token: Path, tenant_id: str | None = None,
                   scope: str = ARM) -> ClientAuthenticationError:
    credential = workload_credential(sim, client_id, token, tenant_id=tenant_id)
    with pytest.raises(ClientAuthenticationError) as excinfo:
        credential.get_token(scope)
    return excinfo.value


def aadsts(error: ClientAuthenticationError) -> tuple[int, str, str]:
    """(HTTP status, OAuth error, error_description) of Entra's answer."""
    assert error.response is not None and error.response.status_code is not None
    body = json.loads(error.response.text())
    return error.response.status_code, str(body["error"]), str(body["error_description"])


# -- success


def test_keda_token_exchange_issues_an_arm_token(sim: AzureSim, msi: ManagedServiceIdentityClient,
                                                 tmp_path: Path) -> None:
    identity = federated(msi, "id-ok")
    token = workload_credential(sim, str(identity.client_id), token_file(tmp_path, ISSUER)).get_token(ARM)
    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert claims["aud"] == "https://management.azure.com"
    assert claims["iss"] == f"https://sts.windows.net/{TENANT}/"
    assert (claims["oid"], claims["sub"], claims["appid"], claims["tid"]) == (
        identity.principal_id, identity.principal_id, identity.client_id, TENANT)
    assert claims["xms_mirid"].endswith("/userAssignedIdentities/id-ok") and claims["appidacr"] == "2"
    assert claims["exp"] - claims["iat"] == 3600 and token.expires_on > time.time() + 3000
    request = recorded(sim.entra, lambda r: str(identity.client_id).encode() in r.body)
    form = dict(item.split("=", 1) for item in request.body.decode().split("&"))
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"


def test_token_response_is_shaped_like_entras(sim: AzureSim, msi: ManagedServiceIdentityClient,
                                              tmp_path: Path) -> None:
    identity = federated(msi, "id-shape")
    workload_credential(sim, str(identity.client_id), token_file(tmp_path, ISSUER)).get_token(ARM)
    assert recorded(sim.entra, lambda r: str(identity.client_id).encode() in r.body).status == 200
    admin = sim.admin()
    assert admin.app_id and sim.admin_credential().get_token(ARM).token.count(".") == 2


# -- every AADSTS failure


def test_unknown_tenant_is_aadsts90002(sim: AzureSim, tmp_path: Path) -> None:
    tenant = "00000000-0000-0000-0000-00000000dead"
    status, error, description = aadsts(exchange_error(sim, "any", token_file(tmp_path, ISSUER), tenant_id=tenant))
    assert (status, error) == (400, "invalid_request")
    assert description.startswith(f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you have the "
                                  "correct tenant ID and are signing into the correct cloud.")


def test_unknown_client_id_is_aadsts700016(sim: AzureSim, msi: ManagedServiceIdentityClient, tmp_path: Path) -> None:
    identity = federated(msi, "id-by-object-id")
    # FM-17: the identity's principalId (object id) where its clientId belongs.
    error = exchange_error(sim, str(identity.principal_id), token_file(tmp_path, ISSUER))
    status, oauth_error, description = aadsts(error)
    assert (status, oauth_error) == (400, "unauthorized_client")
    assert description.startswith(f"AADSTS700016: Application with identifier '{identity.principal_id}' was not "
                                  f"found in the directory '{TENANT}'.")
    assert "Microsoft Entra ID error '(unauthorized_client) AADSTS700016" in error.message


def test_identity_without_credentials_is_aadsts70025(sim: AzureSim, msi: ManagedServiceIdentityClient,
                                                     tmp_path: Path) -> None:
    identity = msi.user_assigned_identities.create_or_update(RG, "id-bare", Identity(location="westeurope"))
    status, error, description = aadsts(exchange_error(sim, str(identity.client_id), token_file(tmp_path, ISSUER)))
    assert (status, error) == (401, "invalid_client")
    assert description.startswith("AADSTS70025: The client 'id-bare' has no configured federated identity "
                                  "credentials.")


def test_issuer_mismatch_is_aadsts700211(sim: AzureSim, msi: ManagedServiceIdentityClient, tmp_path: Path) -> None:
    identity = federated(msi, "id-issuer", issuer=ISSUER.issuer.rstrip("/"))  # FM-12: the missing trailing slash
    status, error, description = aadsts(exchange_error(sim, str(identity.client_id), token_file(tmp_path, ISSUER)))
    assert (status, error) == (401, "invalid_client")
    assert description.startswith(f"AADSTS700211: No matching federated identity record found for presented "
                                  f"assertion issuer '{ISSUER.issuer}'. Please check your federated identity "
                                  "credential Subject, Audience and Issuer against the presented assertion.")


def test_subject_mismatch_is_aadsts700213(sim: AzureSim, msi: ManagedServiceIdentityClient, tmp_path: Path) -> None:
    identity = federated(msi, "id-subject", subject="system:serviceaccount:orders:orders-app")
    status, error, description = aadsts(exchange_error(sim, str(identity.client_id), token_file(tmp_path, ISSUER)))
    assert (status, error) == (401, "invalid_client")
    assert description.startswith(f"AADSTS700213: No matching federated identity record found for presented "
                                  f"assertion subject '{KEDA_SUBJECT}'.")


def test_subject_differing_in_case_is_aadsts7002138(sim: AzureSim, msi: ManagedServiceIdentityClient,
                                                    tmp_path: Path) -> None:
    identity = federated(msi, "id-case", subject="system:serviceaccount:keda:KEDA-operator")
    _, _, description = aadsts(exchange_error(sim, str(identity.client_id), token_file(tmp_path, ISSUER)))
    assert description.startswith("AADSTS7002138: No matching federated identity record found for presented "
                                  f"assertion subject '{KEDA_SUBJECT}'. The subject matches with case-insensitive "
                                  "comparison, but not with case-sensitive comparison.")


def test_audience_mismatch_is_aadsts700212(sim: AzureSim, msi: ManagedServiceIdentityClient, tmp_path: Path) -> None:
    identity = federated(msi, "id-audience", audience="api://custom-audience")
    token = token_file(tmp_path, ISSUER, audiences=[TOKEN_EXCHANGE, "https://kubernetes.default.svc"])
    _, error, description = aadsts(exchange_error(sim, str(identity.client_id), token))
    assert error == "invalid_client"
    assert description.startswith("AADSTS700212: No matching federated identity record found for presented "
                                  "assertion audience 'api://AzureADTokenExchange,https://kubernetes.default.svc'.")


def test_any_audience_of_the_token_may_match(sim: AzureSim, msi: ManagedServiceIdentityClient,
                                             tmp_path: Path) -> None:
    identity = federated(msi, "id-audiences")
    token = token_file(tmp_path, ISSUER, audiences=["https://kubernetes.default.svc", TOKEN_EXCHANGE])
    assert workload_credential(sim, str(identity.client_id), token).get_token(ARM).token


def test_legacy_entra_answers_aadsts70021(sim: AzureSim, msi: ManagedServiceIdentityClient, tmp_path: Path) -> None:
    identity = federated(msi, "id-legacy", subject="system:serviceaccount:kube-system:keda-operator")
    sim.legacy_fic_errors = True
    try:
        status, error, description = aadsts(exchange_error(sim, str(identity.client_id),
                                                           token_file(tmp_path, ISSUER)))
    finally:
        sim.legacy_fic_errors = False
    assert (status, error) == (401, "unauthorized_client")
    assert description.startswith(f"AADSTS70021: No matching federated identity record found for presented "
                                  f"assertion. Assertion Issuer: '{ISSUER.issuer}'. Assertion Subject: "
                                  f"'{KEDA_SUBJECT}'. Assertion Audience: '{TOKEN_EXCHANGE}'.")


def test_unreachable_issuer_is_aadsts90061(sim: AzureSim, msi: ManagedServiceIdentityClient, tmp_path: Path) -> None:
    private = OidcIssuer("https://kubernetes.default.svc.cluster.local")  # FM-13: never published
    identity = federated(msi, "id-private-issuer", issuer=private.issuer)
    status, error, description = aadsts(exchange_error(sim, str(identity.client_id), token_file(tmp_path, private)))
    assert (status, error) == (400, "invalid_request")
    assert description.startswith("AADSTS90061: Request to External OIDC endpoint failed.")


def test_token_signed_with_unknown_key_is_rejected(sim: AzureSim, msi: ManagedServiceIdentityClient,
                                                   tmp_path: Path) -> None:
    identity = federated(msi, "id-rotated")
    impostor = OidcIssuer(ISSUER.issuer, key_id="rotated-away")
    _, error, description = aadsts(exchange_error(sim, str(identity.client_id), token_file(tmp_path, impostor)))
    assert error == "invalid_client"
    assert description.startswith("AADSTS700027: Client assertion contains an invalid signature.")


def test_expired_assertion_is_aadsts700024(sim: AzureSim, msi: ManagedServiceIdentityClient, tmp_path: Path) -> None:
    identity = federated(msi, "id-expired")
    stale = token_file(tmp_path, ISSUER, expiration_seconds=3600, now=time.time() - 7200)
    _, _, description = aadsts(exchange_error(sim, str(identity.client_id), stale))
    assert description.startswith("AADSTS700024: Client assertion is not within its valid time range. Current "
                                  "time: ")


def test_unknown_resource_is_aadsts500011(sim: AzureSim, msi: ManagedServiceIdentityClient, tmp_path: Path) -> None:
    identity = federated(msi, "id-resource")
    error = exchange_error(sim, str(identity.client_id), token_file(tmp_path, ISSUER),
                           scope="https://servicebus.usgovcloudapi.net/.default")
    status, oauth_error, description = aadsts(error)
    assert (status, oauth_error) == (400, "invalid_resource")
    assert description.startswith("AADSTS500011: The resource principal named https://servicebus.usgovcloudapi.net "
                                  f"was not found in the tenant named {TENANT}.")


def test_error_bodies_carry_entras_trailer(sim: AzureSim, msi: ManagedServiceIdentityClient, tmp_path: Path) -> None:
    identity = federated(msi, "id-trailer", subject="system:serviceaccount:keda:other")
    error = exchange_error(sim, str(identity.client_id), token_file(tmp_path, ISSUER))
    assert error.response is not None
    body = json.loads(error.response.text())
    assert set(body) == {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id",
                         "error_uri"}
    assert body["error_codes"] == [700213]
    assert body["error_description"].endswith(f" Trace ID: {body['trace_id']} Correlation ID: "
                                              f"{body['correlation_id']} Timestamp: {body['timestamp']}")
    assert body["error_uri"] == f"{sim.authority_host}/error?code=700213"


# -- propagation of new credentials


def test_new_credentials_are_seen_after_propagation(tmp_path: Path) -> None:
    with AzureSim(tenant_id=TENANT, subscription_ids=[SUB], fic_propagation_seconds=300) as slow:
        slow.trust_issuer(ISSUER.issuer, ISSUER.jwks())
        ArmRest(slow.admin_credential(), slow.arm_url, str(slow.ca_path)).put(
            f"/subscriptions/{SUB}/resourceGroups/{RG}", {"location": "westeurope"})
        identity = federated(ManagedServiceIdentityClient(slow.admin_credential(), SUB, **slow.client_kwargs()),
                             "id-fresh")
        token = token_file(tmp_path, ISSUER)
        _, _, description = aadsts(exchange_error(slow, str(identity.client_id), token))
        assert description.startswith("AADSTS70025:")  # FM-15: transient, right after creation
        slow.advance(301)
        assert workload_credential(slow, str(identity.client_id), token).get_token(ARM).token


# -- Entra outages


def test_entra_throttling_is_retried(sim: AzureSim, msi: ManagedServiceIdentityClient, tmp_path: Path) -> None:
    identity = federated(msi, "id-throttled")
    rule = sim.entra.faults.add(method="POST", path=r"/oauth2/v2\.0/token$", status=503, times=1)
    assert workload_credential(sim, str(identity.client_id), token_file(tmp_path, ISSUER)).get_token(ARM).token
    assert rule.fired == 1


def test_hung_entra_times_out_on_the_client(sim: AzureSim, msi: ManagedServiceIdentityClient,
                                            tmp_path: Path) -> None:
    identity = federated(msi, "id-hung")
    rule = sim.entra.faults.add(method="POST", path=r"/oauth2/v2\.0/token$", hang=True, times=1)
    credential = workload_credential(sim, str(identity.client_id), token_file(tmp_path, ISSUER),
                                     read_timeout=0.3, retry_total=0)
    started = time.perf_counter()
    with pytest.raises(ServiceResponseError):
        credential.get_token(ARM)
    assert rule.fired == 1 and time.perf_counter() - started < 2


def test_entra_down_while_arm_keeps_serving_cached_tokens(tmp_path: Path) -> None:
    with AzureSim(tenant_id=TENANT, subscription_ids=[SUB]) as azure:
        admin = azure.admin_credential()
        rest = ArmRest(admin, azure.arm_url, str(azure.ca_path))
        assert rest.get(f"/subscriptions/{SUB}")["subscriptionId"] == SUB
        azure.entra.stop()
        assert rest.get(f"/subscriptions/{SUB}")["subscriptionId"] == SUB  # the cached token still works
        with pytest.raises((ClientAuthenticationError, ServiceRequestError)):
            azure.admin_credential(retry_total=0).get_token(ARM)
