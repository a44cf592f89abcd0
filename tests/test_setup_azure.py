"""`keda-auth setup azure --print`: the printed `az` commands, their least privilege, their quoting, and (against
the Azure simulator) that they are valid role assignments which let the bot do exactly what its fixes do."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import WorkloadIdentityCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice import models as aks_models
from azure.mgmt.msi import ManagedServiceIdentityClient
from azure.mgmt.msi.models import FederatedIdentityCredential, Identity
from click.testing import CliRunner, Result

from bot.diagnosis import facts
from bot.execute.arm_api import FIC_DELETE, FIC_WRITE, RA_DELETE, RA_WRITE, ArmApi, Fic
from bot.execute.errors import WriteRefused
from bot.live.azure_reader import collect_azure
from bot.live.collection import AzureWants
from bot.setup_azure import MI_CONTRIBUTOR, RBAC_ADMIN, READER, TARGET_KINDS, USER_ACCESS_ADMIN
from remediations.fixes.role_assignment import assignment_name
from remediations.model import FicPut, RoleAssignmentPut
from tests.kit.azuresim import AzureSim
from tests.kit.azuresim.client import ArmRest
from tests.kit.azuresim.testing import KEDA_SUBJECT, TOKEN_EXCHANGE, token_file, workload_credential
from tests.kit.sim.oidc import OidcIssuer

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
PRINCIPAL = "11111111-2222-3333-4444-555555555555"
RG_IDS, RG_APPS, RG_AKS = "rg-identities", "rg-apps", "rg-aks"


def group(name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{name}"


PROVIDERS = f"{group(RG_APPS)}/providers"
SB = f"{PROVIDERS}/Microsoft.ServiceBus/namespaces/sb-orders"
EH = f"{PROVIDERS}/Microsoft.EventHub/namespaces/eh-orders"
ST = f"{PROVIDERS}/Microsoft.Storage/storageAccounts/storders"
KV = f"{PROVIDERS}/Microsoft.KeyVault/vaults/kv-orders"
LA = f"{PROVIDERS}/Microsoft.OperationalInsights/workspaces/la-orders"
AMW = f"{PROVIDERS}/Microsoft.Monitor/accounts/amw-orders"
METRICS = f"{PROVIDERS}/Microsoft.Network/applicationGateways/agw-orders"
KEDA_ID = f"{group(RG_IDS)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-keda"
AKS = f"{group(RG_AKS)}/providers/Microsoft.ContainerService/managedClusters/aks-orders"
RA = "Microsoft.Authorization/roleAssignments"


def setup(*args: str, print_: bool = True) -> Result:
    from bot.cli_setup import setup_group

    argv = ["azure", *(["--print"] if print_ else []), *args]
    return CliRunner().invoke(setup_group, argv, catch_exceptions=False)


def printed(*args: str, principal: str = PRINCIPAL) -> str:
    result = setup("--principal-id", principal, *args)
    assert result.exit_code == 0, result.output
    return result.output


def commands(output: str) -> list[list[str]]:
    """Every command line of the output, as the shell would split it (comments and blank lines skipped)."""
    return [shlex.split(line) for line in output.splitlines() if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class Cmd:
    role: str
    scope: str
    principal: str
    principal_type: str
    condition: str | None
    condition_version: str | None
    description: str


def parse(argv: list[str]) -> Cmd:
    assert argv[:4] == ["az", "role", "assignment", "create"], argv
    flags = argv[4:]
    assert len(flags) % 2 == 0 and all(f.startswith("--") for f in flags[0::2]), flags
    options = dict(zip(flags[0::2], flags[1::2], strict=True))
    assert len(options) == len(flags) // 2, "no option is given twice"
    assert set(options) <= {"--assignee-object-id", "--assignee-principal-type", "--role", "--scope", "--condition",
                            "--condition-version", "--description"}
    return Cmd(options["--role"], options["--scope"], options["--assignee-object-id"],
               options["--assignee-principal-type"], options.get("--condition"), options.get("--condition-version"),
               options["--description"])


def parsed(output: str) -> list[Cmd]:
    return [parse(argv) for argv in commands(output)]


_CLAUSE = re.compile(r"@(Request|Resource)\[Microsoft\.Authorization/roleAssignments:RoleDefinitionId\] "
                     r"ForAnyOfAnyValues:GuidEquals \{([^}]*)\}")


def condition_roles(condition: str) -> dict[str, set[str]]:
    """{"Request": guids a write may assign, "Resource": guids a delete may remove}."""
    found = {source: {g.strip() for g in guids.split(",")} for source, guids in _CLAUSE.findall(condition)}
    assert set(found) == {"Request", "Resource"}, condition
    return found


def by_role(cmds: list[Cmd], role: facts.Role) -> dict[str, Cmd]:
    return {c.scope: c for c in cmds if c.role == role.guid}


# -- the commands ----------------------------------------------------------------------------------------------------


def test_a_service_bus_target_gets_reader_and_an_rbac_administrator_limited_to_service_bus_data_owner() -> None:
    output = printed("--target", SB)
    cmds = parsed(output)
    assert [(c.role, c.scope) for c in cmds] == [(READER.guid, SB), (RBAC_ADMIN.guid, SB)]
    for c in cmds:
        assert (c.principal, c.principal_type) == (PRINCIPAL, "ServicePrincipal")
        assert c.description.startswith("keda-auth: ")
    reader, admin = cmds
    assert reader.condition is None and reader.condition_version is None
    assert admin.condition is not None and admin.condition_version == "2.0"
    # Exactly the role the Service Bus fix grants (rbac-role-missing / -insufficient-sb), for writes and deletes.
    assert condition_roles(admin.condition) == {"Request": {facts.SB_RUNTIME.grant.guid},
                                                "Resource": {facts.SB_RUNTIME.grant.guid}}
    assert facts.SB_RUNTIME.grant.guid == "090c5cfd-751d-490a-894a-3ce6f1109419"  # Azure Service Bus Data Owner
    # The documented shape ("Example: Constrain roles and principal types"), byte for byte.
    owner = "090c5cfd-751d-490a-894a-3ce6f1109419"
    assert admin.condition == (
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
        f"(@Request[{RA}:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{owner}}} AND "
        f"@Request[{RA}:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {{'ServicePrincipal'}})) AND "
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
        f"(@Resource[{RA}:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{owner}}} AND "
        f"@Resource[{RA}:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {{'ServicePrincipal'}}))")
    # Each command has a comment above it saying why.
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("az "):
            assert lines[index - 1].startswith("#"), line
    assert "Azure Service Bus Data Owner" in output


@pytest.mark.parametrize(("target", "roles"), [
    (SB, {facts.SB_DATA_OWNER}),
    (EH, {facts.EH_DATA_RECEIVER}),
    (ST, {facts.QUEUE_READER, facts.BLOB_READER}),  # storage queues, and blob checkpoints of Event Hubs
    (KV, {facts.KV_SECRETS_USER}),
    (LA, {facts.LA_READER}),
    (AMW, {facts.MONITORING_DATA_READER}),
])
def test_each_kind_of_target_allows_exactly_the_roles_its_fixes_grant(target: str, roles: set[facts.Role]) -> None:
    [admin] = by_role(parsed(printed("--target", target)), RBAC_ADMIN).values()
    assert admin.condition is not None
    guids = {r.guid for r in roles}
    assert condition_roles(admin.condition) == {"Request": guids, "Resource": guids}


def test_the_allowed_roles_are_the_capability_grants_the_fixes_use() -> None:
    granted = {cap.grant.guid for cap in (facts.SB_RUNTIME, facts.EH_RECEIVE, facts.QUEUE_READ, facts.BLOB_READ,
                                          facts.KEYVAULT_SECRET_GET, facts.LOG_ANALYTICS_READ,
                                          facts.PROMETHEUS_READ)}
    assert {r.guid for kind in TARGET_KINDS for r in kind.roles} == granted
    service_bus, key_vault, storage = (condition_roles(str(c.condition))["Request"] for c in
                                       (by_role(parsed(printed("--target", t)), RBAC_ADMIN)[t] for t in (SB, KV, ST)))
    assert len({frozenset(service_bus), frozenset(key_vault), frozenset(storage)}) == 3


def test_a_monitor_metrics_target_allows_monitoring_reader_and_merges_with_a_target_on_the_same_scope() -> None:
    [admin] = by_role(parsed(printed("--monitor-target", METRICS)), RBAC_ADMIN).values()
    assert condition_roles(str(admin.condition))["Request"] == {facts.MONITORING_READER.guid}
    # A Service Bus namespace that is also an azure-monitor trigger's resource: one grant, both roles.
    cmds = parsed(printed("--target", SB, "--monitor-target", SB.upper().replace("SB-ORDERS", "sb-orders")))
    admins = by_role(cmds, RBAC_ADMIN)
    assert list(admins) == [SB]
    assert condition_roles(str(admins[SB].condition))["Resource"] == {facts.SB_DATA_OWNER.guid,
                                                                       facts.MONITORING_READER.guid}
    assert len(by_role(cmds, READER)) == 1


def test_identities_their_credentials_and_the_cluster() -> None:
    cmds = parsed(printed("--identity-rg", RG_IDS, "--subscription", SUB, "--identity-rg", group("rg-more"),
                          "--fic-identity", KEDA_ID, "--aks", AKS))
    assert set(by_role(cmds, READER)) == {group(RG_IDS), group("rg-more"), AKS}
    assert set(by_role(cmds, MI_CONTRIBUTOR)) == {KEDA_ID}  # that identity only, never its resource group
    assert by_role(cmds, RBAC_ADMIN) == {}


def test_nothing_broader_is_ever_printed() -> None:
    output = printed("--identity-rg", RG_IDS, "--subscription", SUB, "--target", SB, "--target", EH, "--target", ST,
                     "--target", KV, "--target", LA, "--target", AMW, "--monitor-target", METRICS,
                     "--fic-identity", KEDA_ID, "--aks", AKS, "--subscription-reader", SUB)
    cmds = parsed(output)
    assert {c.role for c in cmds} == {READER.guid, RBAC_ADMIN.guid, MI_CONTRIBUTOR.guid}
    never = {facts.OWNER, facts.CONTRIBUTOR, USER_ACCESS_ADMIN}
    allowed = set().union(*(condition_roles(c.condition)["Request"] for c in cmds if c.condition))
    assert not allowed & {r.guid for r in never}
    assert allowed <= {r.guid for r in facts.BUILTIN_ROLES.values()} - {facts.READER.guid}
    for role in never:
        assert role.guid not in output
        assert f"--role {shlex.quote(role.name)}" not in output
    assert all(c.condition for c in cmds if c.role == RBAC_ADMIN.guid), "an RBAC Administrator always has a condition"


def test_readers_inside_a_subscription_reader_are_folded_into_it() -> None:
    cmds = parsed(printed("--identity-rg", RG_IDS, "--subscription", SUB, "--target", SB, "--aks", AKS,
                          "--subscription-reader", SUB))
    readers = by_role(cmds, READER)
    assert list(readers) == [f"/subscriptions/{SUB}"]
    assert list(by_role(cmds, RBAC_ADMIN)) == [SB]
    without = printed("--identity-rg", RG_IDS, "--subscription", SUB)
    assert "--subscription-reader" in without  # the note saying what the narrower Readers may leave unread


def test_the_order_is_stable_and_duplicates_collapse() -> None:
    one = printed("--target", SB, "--target", KV, "--identity-rg", group(RG_IDS), "--fic-identity", KEDA_ID,
                  "--aks", AKS)
    two = printed("--aks", AKS, "--fic-identity", KEDA_ID, "--target", KV,
                  "--identity-rg", RG_IDS, "--subscription", SUB.upper(), "--target", SB + "/", "--target", SB)
    assert two == one
    assert [c.role for c in parsed(one)] == [READER.guid] * 4 + [RBAC_ADMIN.guid] * 2 + [MI_CONTRIBUTOR.guid]


def test_print_is_required() -> None:
    result = setup("--principal-id", PRINCIPAL, "--target", SB, print_=False)
    assert result.exit_code == 3
    assert "only printing is supported" in result.output and "--print" in result.output
    assert "az role" not in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--principal-id", "not-a-guid", "--target", SB], "--principal-id must be a GUID"),
    (["--target", SB.replace(SUB, "my-subscription")], "the subscription in --target must be a GUID"),
    (["--target", f"{PROVIDERS}/Microsoft.Sql/servers/sql-orders"], "--target takes the id of one of"),
    (["--target", f"{SB}/queues/orders"], "got Microsoft.ServiceBus/namespaces/queues"),
    (["--target", group(RG_APPS)], "--target takes the id of one of"),
    (["--target", "sb-orders"], "--target must be an Azure resource id"),
    (["--target", f"{SB}\n--role Owner"], "must not contain spaces, control characters"),
    (["--identity-rg", RG_IDS], "give --subscription too"),
    (["--identity-rg", "$(rm -rf /)", "--subscription", SUB], "is not a resource group name"),
    (["--identity-rg", KEDA_ID], "--identity-rg takes a resource group"),
    (["--identity-rg", RG_IDS, "--subscription", "prod"], "--subscription must be a GUID"),
    (["--fic-identity", SB], "--fic-identity takes a Microsoft.ManagedIdentity/userAssignedIdentities id"),
    (["--aks", KEDA_ID], "--aks takes a Microsoft.ContainerService/managedClusters id"),
    (["--monitor-target", group(RG_APPS)], "--monitor-target takes a resource id"),
    (["--subscription-reader", "everything"], "--subscription-reader must be a GUID"),
    ([], "nothing to grant"),
])
def test_bad_input_exits_3_with_a_message(args: list[str], message: str) -> None:
    argv = args if "--principal-id" in args else ["--principal-id", PRINCIPAL, *args]
    result = setup(*argv)
    assert result.exit_code == 3, result.output
    assert result.output.startswith("keda-auth: ") and message in result.output, result.output
    assert "az role" not in result.output


HOSTILE = ["sb$(touch${IFS}pwned)", "kv`touch${IFS}pwned`", "st'\"';touch${IFS}pwned;'", "x|touch${IFS}pwned&"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_quoted_and_never_run(name: str, tmp_path: Path) -> None:
    target = f"{PROVIDERS}/Microsoft.ServiceBus/namespaces/{name}"
    group_name = "rg(prod);"  # parentheses are legal in a resource group name, ';' is not
    assert setup("--principal-id", PRINCIPAL, "--identity-rg", group_name, "--subscription", SUB).exit_code == 3
    output = printed("--target", target, "--identity-rg", "rg(prod)", "--subscription", SUB)
    assert {c.scope for c in parsed(output)} == {target, group("rg(prod)")}
    # Run the script for real with `az` replaced by a function that records its arguments.
    script = tmp_path / "grants.sh"
    script.write_text("az() { for a in \"$@\"; do printf '%s\\0' \"$a\"; done; printf '\\n\\0'; }\n" + output)
    ran = subprocess.run(["sh", str(script)], cwd=tmp_path, capture_output=True, check=True, env={"PATH": os.defpath})
    assert not (tmp_path / "pwned").exists()
    argvs = [chunk.split("\0")[:-1] for chunk in ran.stdout.decode().split("\n\0") if chunk]
    assert [["az", *argv] for argv in argvs] == commands(output)


# -- against the Azure simulator ---------------------------------------------------------------------------------------

ISSUER = OidcIssuer(f"https://westeurope.oic.prod-aks.azure.com/{TENANT}/7d0c2f4e-8a5b-4c1e-9f3a-2b6d1e0c9a88/")
BOT_SUBJECT = "system:serviceaccount:keda-auth:keda-auth"
BOT_ID = f"{group('rg-bot')}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-keda-auth"
OTHER_ID = f"{group(RG_IDS)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-other"


@dataclass
class World:
    sim: AzureSim
    authz: AuthorizationManagementClient
    bot_principal: str
    bot: ArmApi
    bot_credential: WorkloadIdentityCredential
    keda_principal: str
    keda_client_id: str
    output: str


def _cluster() -> aks_models.ManagedCluster:
    pool = aks_models.ManagedClusterAgentPoolProfile(name="system", count=1, vm_size="Standard_D4s_v5", mode="System")
    return aks_models.ManagedCluster(location="westeurope", properties=aks_models.ManagedClusterProperties(
        dns_prefix="aks", agent_pool_profiles=[pool], kubernetes_version="1.31",
        oidc_issuer_profile=aks_models.ManagedClusterOIDCIssuerProfile(enabled=True)))


def create(authz: AuthorizationManagementClient, cmd: Cmd) -> str:
    """The printed command as the ARM request `az role assignment create` makes."""
    created = authz.role_assignments.create(cmd.scope, str(uuid.uuid4()), RoleAssignmentCreateParameters(
        role_definition_id=f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{cmd.role}",
        principal_id=cmd.principal, principal_type=cmd.principal_type, condition=cmd.condition,
        condition_version=cmd.condition_version, description=cmd.description))
    return str(created.id)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with AzureSim(tenant_id=TENANT, subscription_ids=[SUB]) as sim:
        sim.trust_issuer(ISSUER.issuer, ISSUER.jwks())
        admin = sim.admin_credential()
        rest = ArmRest(admin, sim.arm_url, str(sim.ca_path))
        for name in (RG_IDS, RG_APPS, RG_AKS, "rg-bot"):
            rest.put(group(name), {"location": "westeurope"})
        for resource in (SB, EH, ST, KV):
            rest.put(resource, {"location": "westeurope"})
        rest.put(f"{SB}/queues/orders", {})
        rest.close()
        msi = ManagedServiceIdentityClient(admin, SUB, **sim.client_kwargs())
        identities = {}
        for rid in (KEDA_ID, BOT_ID, OTHER_ID):
            parts = rid.split("/")
            identities[rid] = msi.user_assigned_identities.create_or_update(parts[4], parts[-1],
                                                                            Identity(location="westeurope"))
        msi.federated_identity_credentials.create_or_update("rg-bot", "id-keda-auth", "keda-auth",
                                                            FederatedIdentityCredential(
                                                                issuer=ISSUER.issuer, subject=BOT_SUBJECT,
                                                                audiences=[TOKEN_EXCHANGE]))
        ContainerServiceClient(admin, SUB, **sim.client_kwargs()).managed_clusters.begin_create_or_update(
            RG_AKS, "aks-orders", _cluster()).result()
        bot_principal = str(identities[BOT_ID].principal_id)
        output = printed("--identity-rg", RG_IDS, "--subscription", SUB, "--target", SB, "--target", EH,
                         "--target", ST, "--target", KV, "--fic-identity", KEDA_ID, "--aks", AKS,
                         principal=bot_principal)
        authz = AuthorizationManagementClient(admin, SUB, **sim.client_kwargs())
        for cmd in parsed(output):
            create(authz, cmd)
        token = token_file(tmp_path_factory.mktemp("bot"), ISSUER, BOT_SUBJECT)
        credential = workload_credential(sim, str(identities[BOT_ID].client_id), token)
        bot = ArmApi(credential, base_url=sim.arm_url, connection_verify=str(sim.ca_path))
        try:
            yield World(sim, authz, bot_principal, bot, credential, str(identities[KEDA_ID].principal_id),
                        str(identities[KEDA_ID].client_id), output)
        finally:
            bot.close()
        assert sim.spec_violations == []


def test_the_printed_commands_are_valid_arm_role_assignments(world: World) -> None:
    """Every role id and scope exists (ARM refuses RoleDefinitionDoesNotExist, a missing scope, a bad body), and
    the condition is stored as given. The simulator stores conditions but does not evaluate them."""
    held = {(str(ra.role_definition_id).rsplit("/", 1)[-1], str(ra.scope).lower()): ra
            for ra in world.authz.role_assignments.list_for_scope(f"/subscriptions/{SUB}",
                                                                   filter=f"principalId eq '{world.bot_principal}'")}
    cmds = parsed(world.output)
    assert len(held) == len(cmds) == 11
    for cmd in cmds:
        ra = held[(cmd.role, cmd.scope.lower())]
        assert (ra.principal_type, ra.condition, ra.condition_version) == (
            "ServicePrincipal", cmd.condition, cmd.condition_version)


def test_the_bot_can_do_what_its_fixes_do_there_and_nothing_beyond(world: World) -> None:
    bot = world.bot
    for scope in (SB, EH, ST, KV):
        assert bot.missing_actions(scope, [RA_WRITE, RA_DELETE]) == []
    assert bot.missing_actions(KEDA_ID, [FIC_WRITE, FIC_DELETE]) == []
    # Not on the resource group around the targets, not on another identity, not on the subscription.
    assert bot.missing_actions(group(RG_APPS), [RA_WRITE]) == [RA_WRITE]
    assert bot.missing_actions(OTHER_ID, [FIC_WRITE]) == [FIC_WRITE]
    assert bot.missing_actions(f"/subscriptions/{SUB}", [RA_WRITE, FIC_WRITE]) == [RA_WRITE, FIC_WRITE]
    # The fixes' own calls: the Service Bus role at a queue below the namespace, then its undo; a FIC and its undo.
    scope = f"{SB}/queues/orders"
    role = facts.SB_RUNTIME.grant.guid
    put = RoleAssignmentPut(scope, role, world.keda_principal, assignment_name(scope, role, world.keda_principal))
    assert bot.role_definition_exists(scope, role)
    assert bot.assignments_covering(world.keda_principal, scope) == []
    assert bot.create_assignment(put) == "created"
    assert bot.assignment_exists(put.resource_id)
    bot.delete_assignment(put.resource_id)
    assert not bot.assignment_exists(put.resource_id)
    fic = FicPut(KEDA_ID, "keda-operator", ISSUER.issuer, KEDA_SUBJECT, TOKEN_EXCHANGE)
    bot.put_fic(fic, Fic(fic.name, fic.issuer, fic.subject, (fic.audience,)))
    assert [f.name for f in bot.list_fics(KEDA_ID)] == ["keda-operator"]
    bot.delete_fic(fic)
    assert bot.list_fics(KEDA_ID) == []
    with pytest.raises(WriteRefused) as refused:
        bot.create_assignment(RoleAssignmentPut(group(RG_APPS), role, world.keda_principal, str(uuid.uuid4())))
    assert refused.value.status == 403
    with pytest.raises(WriteRefused):
        bot.put_fic(FicPut(OTHER_ID, "x", ISSUER.issuer, KEDA_SUBJECT, TOKEN_EXCHANGE),
                    Fic("x", ISSUER.issuer, KEDA_SUBJECT, (TOKEN_EXCHANGE,)))


def test_the_live_check_reads_by_id_and_lacks_only_the_subscription_wide_lists(world: World) -> None:
    """What the resource-scoped Readers leave to --subscription-reader (in the simulator, which like the reader's
    own gap messages treats a subscription-wide list as needing Reader on the subscription)."""
    wants = AzureWants(client_ids=frozenset({world.keda_client_id}), identity_refs=frozenset({KEDA_ID}),
                       sb_namespaces=frozenset({"sb-orders"}), eh_namespaces=frozenset({"eh-orders"}),
                       storage_accounts=frozenset({"storders"}), key_vaults=frozenset({"kv-orders"}))

    def collect() -> tuple[set[str], str | None, set[str]]:
        result = collect_azure(world.bot_credential, wants, subscriptions=[SUB], aks_resource_id=AKS, backoff=0.01,
                               **world.sim.client_kwargs())
        names = {str(i.get("name")) for i in result.resources.get("identities", ())}
        return {g.grant for g in result.gaps}, result.cluster, names

    grants, cluster, identities = collect()
    assert cluster == "aks-orders" and "id-keda" in identities  # the cluster and the identity, read by id
    assert grants and all(g.startswith(f"Azure role Reader on subscription {SUB} ") for g in grants), grants
    [reader] = by_role(parsed(printed("--subscription-reader", SUB, principal=world.bot_principal)), READER).values()
    assignment = create(world.authz, reader)
    try:
        grants, cluster, identities = collect()
        assert grants == set() and cluster == "aks-orders" and "id-keda" in identities
    finally:
        world.authz.role_assignments.delete_by_id(assignment)


def test_an_arm_error_for_a_role_the_simulator_does_not_know_is_not_hidden(world: World) -> None:
    """The simulator refuses unknown role definitions, so the validity checks above mean something."""
    bogus = Cmd(str(uuid.uuid4()), SB, world.bot_principal, "ServicePrincipal", None, None, "keda-auth: test")
    with pytest.raises(HttpResponseError) as refused:
        create(world.authz, bogus)
    assert "RoleDefinitionDoesNotExist" in str(refused.value)
