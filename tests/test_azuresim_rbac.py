"""AzureSim's Azure RBAC through azure-mgmt-authorization and a workload identity's own token: role
assignments, role definitions, effective permissions, AuthorizationFailed and propagation delays."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import Permission, RoleAssignmentCreateParameters, RoleDefinition
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.msi.models import FederatedIdentityCredential, Identity

from tests.kit.azuresim import AzureSim
from tests.kit.azuresim.client import ArmRest
from tests.kit.azuresim.testing import KEDA_SUBJECT, TOKEN_EXCHANGE, token_file, workload_credential
from tests.kit.sim.oidc import OidcIssuer

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
RG = "rg-prod-weu"
OTHER_RG = "rg-other"
NAMESPACE = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ServiceBus/namespaces/sb-prod-weu"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
SB_DATA_OWNER = "090c5cfd-751d-490a-894a-3ce6f1109419"
SB_DATA_RECEIVER = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"
ISSUER = OidcIssuer(f"https://westeurope.oic.prod-aks.azure.com/{TENANT}/3c1f9ad1-3f2a-4d0e-9f5c-6f3b2a1e9c11/")


def role_id(guid: str) -> str:
    return f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


@pytest.fixture(scope="module")
def sim() -> Iterator[AzureSim]:
    with AzureSim(tenant_id=TENANT, subscription_ids=[SUB], page_size=2) as azure:
        azure.trust_issuer(ISSUER.issuer, ISSUER.jwks())
        rest = ArmRest(azure.admin_credential(), azure.arm_url, str(azure.ca_path))
        for group in (RG, OTHER_RG):
            rest.put(f"/subscriptions/{SUB}/resourceGroups/{group}", {"location": "westeurope"})
        rest.put(NAMESPACE, {"location": "westeurope"})
        rest.put(f"{NAMESPACE}/queues/orders", {})
        yield azure
        assert azure.spec_violations == []


@pytest.fixture(scope="module")
def admin(sim: AzureSim) -> ClientSecretCredential:
    return sim.admin_credential()


@pytest.fixture(scope="module")
def authz(sim: AzureSim, admin: ClientSecretCredential) -> AuthorizationManagementClient:
    return AuthorizationManagementClient(admin, SUB, **sim.client_kwargs())


@pytest.fixture(scope="module")
def msi(sim: AzureSim, admin: ClientSecretCredential) -> ManagedServiceIdentityClient:
    return ManagedServiceIdentityClient(admin, SUB, **sim.client_kwargs())


def new_identity(msi: ManagedServiceIdentityClient, name: str) -> Identity:
    identity: Identity = msi.user_assigned_identities.create_or_update(RG, name, Identity(location="westeurope"))
    msi.federated_identity_credentials.create_or_update(
        RG, name, "keda-operator",
        FederatedIdentityCredential(issuer=ISSUER.issuer, subject=KEDA_SUBJECT, audiences=[TOKEN_EXCHANGE]))
    return identity


def assign(authz: AuthorizationManagementClient, scope: str, role: str, principal: str,
           principal_type: str = "ServicePrincipal", name: str | None = None) -> str:
    created = authz.role_assignments.create(scope, name or str(uuid.uuid4()), RoleAssignmentCreateParameters(
        role_definition_id=role_id(role), principal_id=principal, principal_type=principal_type))
    return str(created.id)


def _code(error: HttpResponseError) -> str:
    assert error.error is not None
    return str(error.error.code)


def _message(error: HttpResponseError) -> str:
    assert error.error is not None
    return str(error.error.message)


# -- role assignments


def test_role_assignment_create_get_delete(sim: AzureSim, authz: AuthorizationManagementClient,
                                           msi: ManagedServiceIdentityClient) -> None:
    identity = new_identity(msi, "id-crud")
    name = str(uuid.uuid4())
    created = authz.role_assignments.create(NAMESPACE, name, RoleAssignmentCreateParameters(
        role_definition_id=role_id(SB_DATA_OWNER), principal_id=str(identity.principal_id),
        principal_type="ServicePrincipal"))
    assert created.id == f"{NAMESPACE}/providers/Microsoft.Authorization/roleAssignments/{name}"
    assert (created.scope, created.principal_type, created.role_definition_id) == (
        NAMESPACE, "ServicePrincipal", role_id(SB_DATA_OWNER))
    assert created.created_on is not None and created.created_by == sim.admin().object_id
    assert authz.role_assignments.get(NAMESPACE, name).principal_id == identity.principal_id
    assert authz.role_assignments.get_by_id(str(created.id)).name == name
    deleted = authz.role_assignments.delete_by_id(str(created.id))
    assert deleted is not None and deleted.name == name
    assert authz.role_assignments.delete(NAMESPACE, name) is None  # already gone: 204
    with pytest.raises(ResourceNotFoundError) as excinfo:
        authz.role_assignments.get(NAMESPACE, name)
    assert _code(excinfo.value) == "RoleAssignmentNotFound"


def test_the_same_principal_role_and_scope_cannot_be_assigned_twice(authz: AuthorizationManagementClient,
                                                                     msi: ManagedServiceIdentityClient) -> None:
    identity = new_identity(msi, "id-twice")
    first = str(uuid.uuid4())
    assign(authz, NAMESPACE, SB_DATA_RECEIVER, str(identity.principal_id), name=first)
    assign(authz, NAMESPACE, SB_DATA_RECEIVER, str(identity.principal_id), name=first)  # same name: idempotent
    with pytest.raises(ResourceExistsError) as excinfo:
        assign(authz, NAMESPACE, SB_DATA_RECEIVER, str(identity.principal_id))
    assert excinfo.value.status_code == 409
    assert _code(excinfo.value) == "RoleAssignmentExists"
    assert _message(excinfo.value) == ("The role assignment already exists. The ID of the existing role assignment "
                                       f"is {first.replace('-', '')}.")


def test_role_assignment_validation(sim: AzureSim, authz: AuthorizationManagementClient,
                                    msi: ManagedServiceIdentityClient) -> None:
    identity = new_identity(msi, "id-invalid")
    with pytest.raises(HttpResponseError) as unknown:
        assign(authz, NAMESPACE, SB_DATA_OWNER, "11111111-2222-3333-4444-555555555555")
    assert _code(unknown.value) == "PrincipalNotFound"
    assert _message(unknown.value).startswith("Principal 11111111222233334444555555555555 does not exist in the "
                                              f"directory {TENANT}.")
    with pytest.raises(HttpResponseError) as mismatch:
        assign(authz, NAMESPACE, SB_DATA_OWNER, str(identity.principal_id), principal_type="User")
    assert _code(mismatch.value) == "UnmatchedPrincipalType"
    with pytest.raises(HttpResponseError) as no_role:
        assign(authz, NAMESPACE, "00000000-1111-2222-3333-444444444444", str(identity.principal_id))
    assert _code(no_role.value) == "RoleDefinitionDoesNotExist"
    assert _message(no_role.value) == ("The specified role definition with ID '00000000-1111-2222-3333-444444444444' "
                                       "does not exist.")
    with pytest.raises(ResourceNotFoundError) as no_scope:
        assign(authz, f"{NAMESPACE}/queues/missing", SB_DATA_OWNER, str(identity.principal_id))
    assert _code(no_scope.value) == "ResourceNotFound"
    user = sim.add_principal("alice@contoso.com")
    assert assign(authz, NAMESPACE, SB_DATA_OWNER, user, principal_type="User")


def test_listing_follows_scope_inheritance_and_filters(authz: AuthorizationManagementClient,
                                                      msi: ManagedServiceIdentityClient) -> None:
    identity = new_identity(msi, "id-listed")
    principal = str(identity.principal_id)
    group = f"/subscriptions/{SUB}/resourceGroups/{RG}"
    at_group = assign(authz, group, READER, principal)
    at_namespace = assign(authz, NAMESPACE, SB_DATA_OWNER, principal)
    at_queue = assign(authz, f"{NAMESPACE}/queues/orders", SB_DATA_RECEIVER, principal)
    elsewhere = assign(authz, f"/subscriptions/{SUB}/resourceGroups/{OTHER_RG}", READER, principal)

    def ids(filter_: str | None = None, scope: str = NAMESPACE) -> set[str]:
        return {str(ra.id) for ra in authz.role_assignments.list_for_scope(scope, filter=filter_)
                if ra.principal_id == principal}

    assert ids() == {at_group, at_namespace, at_queue}  # inherited from above plus below
    assert ids("atScope()") == {at_group, at_namespace}  # at and above only
    assert ids(f"principalId eq '{principal}'", group) == {at_group, at_namespace, at_queue}
    assert ids(f"assignedTo('{principal}')", f"/subscriptions/{SUB}") == {at_group, at_namespace, at_queue, elsewhere}
    by_resource = authz.role_assignments.list_for_resource(RG, "Microsoft.ServiceBus", "namespaces", "sb-prod-weu",
                                                           filter=f"principalId eq '{principal}'")
    assert {str(ra.id) for ra in by_resource} == {at_group, at_namespace, at_queue}
    everything = list(authz.role_assignments.list_for_subscription())
    assert len(everything) > 2, "several pages of two"
    assert any(str(ra.role_definition_id).endswith(OWNER) for ra in everything), "the admin's Owner assignment"


def test_unsupported_filters_are_rejected(authz: AuthorizationManagementClient) -> None:
    with pytest.raises(HttpResponseError) as excinfo:
        list(authz.role_assignments.list_for_scope(NAMESPACE, filter="roleDefinitionId eq 'x'"))
    assert excinfo.value.status_code == 400


# -- role definitions and permissions


def test_built_in_role_definitions(authz: AuthorizationManagementClient) -> None:
    by_scope = authz.role_definitions.get(f"/subscriptions/{SUB}", SB_DATA_OWNER)
    assert (by_scope.role_name, by_scope.role_type, by_scope.id) == (
        "Azure Service Bus Data Owner", "BuiltInRole", role_id(SB_DATA_OWNER))
    permission = by_scope.permissions[0]
    assert (permission.actions, permission.data_actions) == (["Microsoft.ServiceBus/*"], ["Microsoft.ServiceBus/*"])
    tenant_level = authz.role_definitions.get_by_id(f"/providers/Microsoft.Authorization/roleDefinitions/{READER}")
    assert (tenant_level.role_name, tenant_level.id) == (
        "Reader", f"/providers/Microsoft.Authorization/roleDefinitions/{READER}")
    contributor = authz.role_definitions.get(NAMESPACE, CONTRIBUTOR)
    assert "Microsoft.Authorization/*/Write" in contributor.permissions[0].not_actions
    named = list(authz.role_definitions.list(f"/subscriptions/{SUB}",
                                             filter="roleName eq 'Azure Service Bus Data Receiver'"))
    assert [r.name for r in named] == [SB_DATA_RECEIVER]
    assert len(list(authz.role_definitions.list(f"/subscriptions/{SUB}"))) >= 20
    by_subscription_id = authz.role_definitions.get_by_id(role_id(SB_DATA_RECEIVER))
    assert by_subscription_id.id == role_id(SB_DATA_RECEIVER)
    with pytest.raises(ResourceNotFoundError) as excinfo:
        authz.role_definitions.get(f"/subscriptions/{SUB}", "00000000-1111-2222-3333-444444444444")
    assert _code(excinfo.value) == "RoleDefinitionDoesNotExist"


def test_custom_roles_grant_their_data_actions(sim: AzureSim, authz: AuthorizationManagementClient,
                                               msi: ManagedServiceIdentityClient) -> None:
    guid = str(uuid.uuid4())
    custom = authz.role_definitions.create_or_update(f"/subscriptions/{SUB}", guid, RoleDefinition(
        role_name="KEDA Service Bus Reader", description="runtime properties only", role_type="CustomRole",
        permissions=[Permission(actions=["Microsoft.ServiceBus/namespaces/queues/read"],
                                data_actions=["Microsoft.ServiceBus/namespaces/*/read"])],
        assignable_scopes=[f"/subscriptions/{SUB}"]))
    assert (custom.role_name, custom.role_type, custom.id) == ("KEDA Service Bus Reader", "CustomRole", role_id(guid))
    identity = new_identity(msi, "id-custom")
    principal = str(identity.principal_id)
    assign(authz, NAMESPACE, guid, principal)
    queue = f"{NAMESPACE}/queues/orders"
    assert sim.is_allowed(principal, "Microsoft.ServiceBus/namespaces/queues/messages/read", queue, data=True)
    assert not sim.is_allowed(principal, "Microsoft.ServiceBus/namespaces/queues/write", queue)
    receiver = new_identity(msi, "id-receiver")
    assign(authz, NAMESPACE, SB_DATA_RECEIVER, str(receiver.principal_id))
    assert sim.is_allowed(str(receiver.principal_id), "Microsoft.ServiceBus/namespaces/queues/receive/action", queue,
                          data=True)
    # FM-22: Receiver cannot read runtime properties through the management action KEDA needs.
    assert not sim.is_allowed(str(receiver.principal_id), "Microsoft.ServiceBus/namespaces/queues/write", queue)


# -- authorization of ARM calls


def test_workload_identity_needs_a_role_then_succeeds(sim: AzureSim, authz: AuthorizationManagementClient,
                                                     msi: ManagedServiceIdentityClient, tmp_path: Path) -> None:
    identity = new_identity(msi, "id-keda")
    credential = workload_credential(sim, str(identity.client_id), token_file(tmp_path, ISSUER))
    as_keda = ManagedServiceIdentityClient(credential, SUB, **sim.client_kwargs())
    with pytest.raises(HttpResponseError) as excinfo:
        as_keda.user_assigned_identities.get(RG, "id-keda")
    assert excinfo.value.status_code == 403 and _code(excinfo.value) == "AuthorizationFailed"
    identity_id = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/" \
                  "userAssignedIdentities/id-keda"
    assert _message(excinfo.value) == (
        f"The client '{identity.client_id}' with object id '{identity.principal_id}' does not have authorization to "
        f"perform action 'Microsoft.ManagedIdentity/userAssignedIdentities/read' over scope '{identity_id}' or the "
        "scope is invalid. If access was recently granted, please refresh your credentials.")
    assign(authz, f"/subscriptions/{SUB}/resourceGroups/{RG}", READER, str(identity.principal_id))
    assert as_keda.user_assigned_identities.get(RG, "id-keda").client_id == identity.client_id
    keda_authz = AuthorizationManagementClient(credential, SUB, **sim.client_kwargs())
    permissions = list(keda_authz.permissions.list_for_resource_group(RG))
    assert [p.actions for p in permissions] == [["*/read"]]
    with pytest.raises(HttpResponseError) as denied:
        as_keda.user_assigned_identities.create_or_update(RG, "id-new", Identity(location="westeurope"))
    assert "'Microsoft.ManagedIdentity/userAssignedIdentities/write'" in _message(denied.value)


def test_contributor_cannot_assign_roles(sim: AzureSim, authz: AuthorizationManagementClient,
                                         msi: ManagedServiceIdentityClient, tmp_path: Path) -> None:
    identity = new_identity(msi, "id-contributor")
    assign(authz, f"/subscriptions/{SUB}/resourceGroups/{RG}", CONTRIBUTOR, str(identity.principal_id))
    credential = workload_credential(sim, str(identity.client_id), token_file(tmp_path, ISSUER))
    as_contributor = AuthorizationManagementClient(credential, SUB, **sim.client_kwargs())
    with pytest.raises(HttpResponseError) as excinfo:
        assign(as_contributor, NAMESPACE, SB_DATA_OWNER, str(identity.principal_id))
    assert _code(excinfo.value) == "AuthorizationFailed"
    assert "'Microsoft.Authorization/roleAssignments/write' over scope " \
           f"'{NAMESPACE}/providers/Microsoft.Authorization/roleAssignments/" in _message(excinfo.value)
    # Contributor's notActions stop role writes, not other writes.
    writer = ManagedServiceIdentityClient(credential, SUB, **sim.client_kwargs())
    assert writer.user_assigned_identities.create_or_update(RG, "id-by-contributor", Identity(location="westeurope"))


def test_new_assignments_take_effect_after_propagation(tmp_path: Path) -> None:
    with AzureSim(tenant_id=TENANT, subscription_ids=[SUB], rbac_propagation_seconds=600) as slow:
        slow.trust_issuer(ISSUER.issuer, ISSUER.jwks())
        admin = slow.admin_credential()
        ArmRest(admin, slow.arm_url, str(slow.ca_path)).put(f"/subscriptions/{SUB}/resourceGroups/{RG}",
                                                            {"location": "westeurope"})
        identity = new_identity(ManagedServiceIdentityClient(admin, SUB, **slow.client_kwargs()), "id-slow")
        credential = workload_credential(slow, str(identity.client_id), token_file(tmp_path, ISSUER))
        as_keda = ManagedServiceIdentityClient(credential, SUB, **slow.client_kwargs())
        authz = AuthorizationManagementClient(admin, SUB, **slow.client_kwargs())
        assignment = assign(authz, f"/subscriptions/{SUB}/resourceGroups/{RG}", READER, str(identity.principal_id))
        listed = [str(ra.id) for ra in authz.role_assignments.list_for_resource_group(RG)]
        assert assignment in listed, "listed at once"
        with pytest.raises(HttpResponseError) as excinfo:
            as_keda.user_assigned_identities.get(RG, "id-slow")
        assert _code(excinfo.value) == "AuthorizationFailed"
        slow.advance(601)
        assert as_keda.user_assigned_identities.get(RG, "id-slow").name == "id-slow"
        assert slow.spec_violations == []

