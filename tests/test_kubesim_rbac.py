"""RBAC in the API-server simulator, through the official client: users from `KubeSim.add_user` are authorized
against the stored Roles and bindings as a real API server's RBAC authorizer would, with its 403 wording.

Simulator only: a real cluster has no API for minting a user's credentials.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from tests.kit.fixtures import FIXTURES
from tests.kit.kubesim import KubeSim
from tests.kit.sim.openapi import KUBE_RESPONSE, definition, validate
from tests.kit.targets import Kube

SWAGGER = FIXTURES / "openapi" / "kubernetes" / "swagger.json"
RBAC = "rbac.authorization.k8s.io"


@pytest.fixture
def sim() -> Iterator[KubeSim]:
    with KubeSim() as sim:
        admin = sim.api_client()
        core, apps = client.CoreV1Api(admin), client.AppsV1Api(admin)
        for namespace in ("keda", "other"):
            core.create_namespace({"metadata": {"name": namespace}})
        for name in ("keda-operator", "keda-metrics-apiserver"):
            apps.create_namespaced_deployment("keda", _deployment(name))
        apps.create_namespaced_deployment("other", _deployment("web"))
        core.create_namespaced_service_account("keda", {"metadata": {"name": "keda-operator"}})
        core.create_namespaced_config_map("keda", {"metadata": {"name": "settings"}})
        sim.add_user("bob")
        admin.close()
        yield sim
        assert sim.spec_violations == [], "the simulator answered outside the official spec"


@pytest.fixture
def admin(sim: KubeSim) -> Iterator[Any]:
    api = sim.api_client()
    yield api
    api.close()


@pytest.fixture
def bob(sim: KubeSim) -> Iterator[Any]:
    api = sim.api_client(user="bob")
    yield api
    api.close()


def _deployment(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}},
                     "spec": {"containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}]}}}}


def _grant(admin: Any, namespace: str | None, rules: list[dict[str, Any]], subjects: list[dict[str, Any]],
           name: str = "grant", role_kind: str = "Role") -> None:
    """A role with `rules` bound to `subjects`: Role + RoleBinding, ClusterRole + RoleBinding, or cluster-wide."""
    rbac = client.RbacAuthorizationV1Api(admin)
    role = {"metadata": {"name": name}, "rules": rules}
    if role_kind == "Role":
        assert namespace is not None
        rbac.create_namespaced_role(namespace, role)
    else:
        rbac.create_cluster_role(role)
    binding = {"metadata": {"name": name}, "subjects": [{"apiGroup": RBAC, **s} if s["kind"] != "ServiceAccount"
                                                        else s for s in subjects],
               "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": name}}
    if namespace is None:
        rbac.create_cluster_role_binding(binding)
    else:
        rbac.create_namespaced_role_binding(namespace, binding)


BOB = [{"kind": "User", "name": "bob"}]


def _forbidden(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ApiException) as denied:
        call()
    assert denied.value.status == 403, denied.value.body
    status: dict[str, Any] = json.loads(denied.value.body)
    assert status["reason"] == "Forbidden" and status["code"] == 403
    assert [c.text() for c in validate(status, definition(SWAGGER, "io.k8s.apimachinery.pkg.apis.meta.v1.Status"),
                                       KUBE_RESPONSE).causes] == []
    return status


def _can(api: Any, verb: str, resource: str, namespace: str = "", name: str = "", group: str = "",
         subresource: str = "") -> tuple[bool, str]:
    review = client.AuthorizationV1Api(api).create_self_subject_access_review({"spec": {"resourceAttributes": {
        "verb": verb, "group": group, "resource": resource, "subresource": subresource, "namespace": namespace,
        "name": name}}})
    return bool(review.status.allowed), review.status.reason or ""


# -- denials read as a real API server's
def test_a_user_without_bindings_is_forbidden_with_the_real_message(bob: Any) -> None:
    apps, core = client.AppsV1Api(bob), client.CoreV1Api(bob)
    read = _forbidden(lambda: apps.read_namespaced_deployment("keda-operator", "keda"))
    assert read["message"] == ('deployments.apps "keda-operator" is forbidden: User "bob" cannot get resource '
                               '"deployments" in API group "apps" in the namespace "keda"')
    assert read["details"] == {"name": "keda-operator", "group": "apps", "kind": "deployments"}
    listed = _forbidden(lambda: apps.list_namespaced_deployment("keda"))
    assert listed["message"] == ('deployments.apps is forbidden: User "bob" cannot list resource "deployments" in '
                                 'API group "apps" in the namespace "keda"')
    assert listed["details"] == {"group": "apps", "kind": "deployments"}
    everywhere = _forbidden(apps.list_deployment_for_all_namespaces)
    assert everywhere["message"] == ('deployments.apps is forbidden: User "bob" cannot list resource "deployments" '
                                     'in API group "apps" at the cluster scope')
    patched = _forbidden(lambda: core.patch_namespaced_service_account("keda-operator", "keda", {
        "metadata": {"annotations": {"azure.workload.identity/client-id": "x"}}}))
    assert patched["message"] == ('serviceaccounts "keda-operator" is forbidden: User "bob" cannot patch resource '
                                  '"serviceaccounts" in API group "" in the namespace "keda"')
    assert patched["details"] == {"name": "keda-operator", "kind": "serviceaccounts"}
    # authorization comes before routing: a denied user cannot tell a missing object from a hidden one
    missing = _forbidden(lambda: apps.read_namespaced_deployment("nope", "keda"))
    assert missing["message"].startswith('deployments.apps "nope" is forbidden: ')


def test_http_methods_map_to_rbac_verbs(bob: Any) -> None:
    apps, core = client.AppsV1Api(bob), client.CoreV1Api(bob)
    expected = {
        "create": lambda: apps.create_namespaced_deployment("keda", _deployment("new")),
        "update": lambda: apps.replace_namespaced_deployment("keda-operator", "keda", _deployment("keda-operator")),
        "delete": lambda: core.delete_namespaced_config_map("settings", "keda"),
        "deletecollection": lambda: core.delete_collection_namespaced_config_map("keda"),
        "watch": lambda: apps.list_namespaced_deployment("keda", watch=True),
    }
    for verb, call in expected.items():
        assert f'User "bob" cannot {verb} resource ' in _forbidden(call)["message"], verb


# -- grants
def test_a_resource_names_rule_allows_that_deployment_only(sim: KubeSim, admin: Any, bob: Any) -> None:
    _grant(admin, "keda", [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch", "list"],
                            "resourceNames": ["keda-operator"]}], BOB)
    apps = client.AppsV1Api(bob)
    patched = apps.patch_namespaced_deployment("keda-operator", "keda", {"metadata": {"labels": {"tier": "a"}}})
    assert patched.metadata.labels["tier"] == "a"
    rehearsed = apps.patch_namespaced_deployment("keda-operator", "keda", {"metadata": {"labels": {"tier": "b"}}},
                                                 dry_run="All")
    assert rehearsed.metadata.labels["tier"] == "b"
    assert apps.read_namespaced_deployment("keda-operator", "keda").metadata.labels["tier"] == "a"
    other = _forbidden(lambda: apps.patch_namespaced_deployment("keda-metrics-apiserver", "keda", {}))
    assert other["message"] == ('deployments.apps "keda-metrics-apiserver" is forbidden: User "bob" cannot patch '
                                'resource "deployments" in API group "apps" in the namespace "keda"')
    _forbidden(lambda: apps.patch_namespaced_deployment("keda-metrics-apiserver", "keda", {}, dry_run="All"))
    _forbidden(lambda: apps.create_namespaced_deployment("keda", _deployment("keda-operator-2")))
    # a list names no object, so a resourceNames rule never allows it ...
    _forbidden(lambda: apps.list_namespaced_deployment("keda"))
    # ... unless a metadata.name field selector names the allowed one, as upstream's RequestInfo reads it
    assert [d.metadata.name for d in apps.list_namespaced_deployment(
        "keda", field_selector="metadata.name=keda-operator").items] == ["keda-operator"]


def test_a_cluster_role_bound_in_a_namespace_grants_only_there(admin: Any, bob: Any) -> None:
    _grant(admin, "keda", [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]}], BOB,
           role_kind="ClusterRole")
    apps = client.AppsV1Api(bob)
    assert len(apps.list_namespaced_deployment("keda").items) == 2
    _forbidden(lambda: apps.list_namespaced_deployment("other"))
    _forbidden(lambda: apps.read_namespaced_deployment("web", "other"))
    _forbidden(apps.list_deployment_for_all_namespaces)


def test_a_cluster_role_binding_grants_everywhere(admin: Any, bob: Any) -> None:
    _grant(admin, None, [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"]}], BOB,
           role_kind="ClusterRole")
    apps = client.AppsV1Api(bob)
    assert {d.metadata.name for d in apps.list_deployment_for_all_namespaces().items} == {
        "keda-operator", "keda-metrics-apiserver", "web"}
    assert [d.metadata.name for d in apps.list_namespaced_deployment("other").items] == ["web"]
    _forbidden(lambda: apps.read_namespaced_deployment("web", "other"))  # list does not imply get


def test_group_subjects_and_wildcards(sim: KubeSim, admin: Any) -> None:
    sim.add_user("carol", groups=["keda-admins"])
    sim.add_user("dave")
    _grant(admin, "keda", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get"]}],
           [{"kind": "Group", "name": "keda-admins"}], name="read-all", role_kind="ClusterRole")
    _grant(admin, "keda", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["*"]}],
           [{"kind": "Group", "name": "system:authenticated"}], name="configmaps")
    carol_api, dave_api = sim.api_client(user="carol"), sim.api_client(user="dave")
    carol, dave = client.CoreV1Api(carol_api), client.CoreV1Api(dave_api)
    assert client.AppsV1Api(carol_api).read_namespaced_deployment("keda-operator", "keda").metadata.name
    assert carol.read_namespaced_service_account("keda-operator", "keda").metadata.name == "keda-operator"
    _forbidden(lambda: carol.list_namespaced_service_account("keda"))
    _forbidden(lambda: dave.read_namespaced_service_account("keda-operator", "keda"))
    # every authenticated user is in system:authenticated; `*` verbs cover them all
    dave.patch_namespaced_config_map("settings", "keda", {"data": {"a": "1"}})
    assert carol.read_namespaced_config_map("settings", "keda").data == {"a": "1"}
    dave.delete_namespaced_config_map("settings", "keda")
    carol_api.close()
    dave_api.close()


def test_subresources_need_their_own_rules(sim: KubeSim, admin: Any, bob: Any) -> None:
    _grant(admin, "keda", [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "patch"]},
                           {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}], BOB)
    apps, core = client.AppsV1Api(bob), client.CoreV1Api(bob)
    scale = _forbidden(lambda: apps.patch_namespaced_deployment_scale("keda-operator", "keda",
                                                                      {"spec": {"replicas": 2}}))
    assert scale["message"] == ('deployments.apps "keda-operator" is forbidden: User "bob" cannot patch resource '
                                '"deployments/scale" in API group "apps" in the namespace "keda"')
    assert scale["details"] == {"name": "keda-operator", "group": "apps", "kind": "deployments"}
    [pod] = [p.metadata.name for p in core.list_namespaced_pod("keda", label_selector="app=keda-operator").items]
    logs = _forbidden(lambda: core.read_namespaced_pod_log(pod, "keda"))
    assert f'pods "{pod}" is forbidden: User "bob" cannot get resource "pods/log" in API group "" in the ' \
           'namespace "keda"' == logs["message"]

    _grant(admin, "keda", [{"apiGroups": ["apps"], "resources": ["*/scale"], "verbs": ["patch"]},
                           {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]}], BOB, name="subs")
    assert apps.patch_namespaced_deployment_scale("keda-operator", "keda", {"spec": {"replicas": 2}}).spec.replicas == 2
    sim.write_log("keda", pod, "main", ["started"])
    assert core.read_namespaced_pod_log(pod, "keda") == "started\n"


def test_service_account_subjects_and_a_missing_role(sim: KubeSim, admin: Any) -> None:
    operator = "system:serviceaccount:keda:keda-operator"
    sim.add_user(operator)
    rbac = client.RbacAuthorizationV1Api(admin)
    rbac.create_namespaced_role_binding("keda", {
        "metadata": {"name": "ghost"}, "subjects": [{"kind": "ServiceAccount", "name": "keda-operator"}],
        "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": "ghost"}})
    api = sim.api_client(user=operator)
    core = client.CoreV1Api(api)
    denied = _forbidden(lambda: core.list_namespaced_secret("keda"))
    assert denied["message"] == (f'secrets is forbidden: User "{operator}" cannot list resource "secrets" in API '
                                 'group "" in the namespace "keda": RBAC: role.rbac.authorization.k8s.io "ghost" '
                                 "not found")
    _grant(admin, "keda", [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
           [{"kind": "Group", "name": "system:serviceaccounts:keda"}], name="sa-group")
    assert core.list_namespaced_secret("keda").items == []
    rules = client.AuthorizationV1Api(api).create_self_subject_rules_review({"spec": {"namespace": "keda"}})
    assert rules.status.evaluation_error == 'role.rbac.authorization.k8s.io "ghost" not found'
    api.close()


def test_bindings_take_effect_and_are_revoked_at_once(admin: Any, bob: Any) -> None:
    core = client.CoreV1Api(bob)
    _forbidden(lambda: core.read_namespaced_config_map("settings", "keda"))
    _grant(admin, "keda", [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}], BOB)
    assert core.read_namespaced_config_map("settings", "keda").metadata.name == "settings"
    client.RbacAuthorizationV1Api(admin).delete_namespaced_role_binding("grant", "keda")
    _forbidden(lambda: core.read_namespaced_config_map("settings", "keda"))


# -- non-resource paths
def test_discovery_and_version_are_open_to_any_authenticated_user(sim: KubeSim, bob: Any) -> None:
    status, version, _ = Kube(bob, "keda", sim).raw("GET", "/version")
    assert (status, version["gitVersion"]) == (200, "v1.34.2")
    assert client.CoreApi(bob).get_api_versions().versions == ["v1"]
    assert "apps" in {g.name for g in client.ApisApi(bob).get_api_versions().groups}
    assert client.AppsV1Api(bob).get_api_resources().group_version == "apps/v1"
    # the issuer documents are granted to ServiceAccounts only (system:service-account-issuer-discovery)
    issuer = _forbidden(lambda: client.WellKnownApi(bob).get_service_account_issuer_open_id_configuration())
    assert issuer["message"] == 'forbidden: User "bob" cannot get path "/.well-known/openid-configuration"'
    assert issuer["details"] == {}
    sim.add_user("system:serviceaccount:keda:keda-operator")
    operator = sim.api_client(user="system:serviceaccount:keda:keda-operator")
    assert client.OpenidApi(operator).get_service_account_issuer_open_id_keyset()
    operator.close()


# -- reviews
def test_access_reviews_answer_as_requests_are_enforced(admin: Any, bob: Any) -> None:
    _grant(admin, "keda", [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"],
                            "resourceNames": ["keda-operator"]}], BOB, name="keda-patcher")
    assert _can(bob, "patch", "deployments", "keda", "keda-operator", "apps") == (
        True, 'RBAC: allowed by RoleBinding "keda-patcher/keda" of Role "keda-patcher" to User "bob"')
    apps = client.AppsV1Api(bob)
    apps.patch_namespaced_deployment("keda-operator", "keda", {"metadata": {"labels": {"x": "y"}}})
    for verb, name, namespace, sub in [("patch", "keda-metrics-apiserver", "keda", ""), ("list", "", "keda", ""),
                                       ("patch", "keda-operator", "other", ""), ("get", "keda-operator", "keda", ""),
                                       ("patch", "keda-operator", "keda", "scale")]:
        assert _can(bob, verb, "deployments", namespace, name, "apps", sub) == (False, "")
    assert _can(bob, "create", "selfsubjectaccessreviews", group="authorization.k8s.io")[0]
    assert _can(admin, "delete", "nodes") == (True, "")

    rules = client.AuthorizationV1Api(bob).create_self_subject_rules_review({"spec": {"namespace": "keda"}}).status
    granted = [r.to_dict() for r in rules.resource_rules]
    assert {"verbs": ["patch"], "api_groups": ["apps"], "resources": ["deployments"],
            "resource_names": ["keda-operator"]} in granted
    urls = {u for r in rules.non_resource_rules for u in r.non_resource_urls}
    assert {"/api", "/apis/*", "/version"} <= urls and "*" not in urls  # discovery, from the bootstrap policy
    elsewhere = client.AuthorizationV1Api(bob).create_self_subject_rules_review({"spec": {"namespace": "other"}})
    assert all(r.resources != ["deployments"] for r in elsewhere.status.resource_rules)
    assert not rules.incomplete and rules.evaluation_error is None


def test_subject_access_reviews_and_who_am_i(sim: KubeSim, admin: Any, bob: Any) -> None:
    _grant(admin, None, [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}],
           [{"kind": "Group", "name": "auditors"}], role_kind="ClusterRole")
    authorization = client.AuthorizationV1Api(admin)

    def review(groups: list[str]) -> bool:
        return bool(authorization.create_subject_access_review({"spec": {
            "user": "erin", "groups": groups, "resourceAttributes": {"verb": "list", "resource": "namespaces"}}
        }).status.allowed)

    assert review(["auditors"]) and not review([]) and review(["system:masters"])
    _forbidden(lambda: client.AuthorizationV1Api(bob).create_subject_access_review({"spec": {
        "user": "erin", "resourceAttributes": {"verb": "list", "resource": "namespaces"}}}))
    sim.add_user("erin", groups=["auditors"])
    erin = sim.api_client(user="erin")
    me = client.AuthenticationV1Api(erin).create_self_subject_review({}).status.user_info
    assert (me.username, me.groups) == ("erin", ["auditors", "system:authenticated"])
    assert client.CoreV1Api(erin).list_namespace().items
    erin.close()


# -- the admin and the connection plumbing
def test_the_admin_is_a_superuser_whatever_the_bindings(admin: Any) -> None:
    authorization = client.AuthorizationV1Api(admin)
    assert authorization.create_self_subject_access_review({"spec": {"resourceAttributes": {
        "verb": "*", "group": "*", "resource": "*"}}}).status.allowed
    rules = authorization.create_self_subject_rules_review({"spec": {"namespace": "keda"}}).status
    assert rules.resource_rules[0].to_dict() == {"verbs": ["*"], "api_groups": ["*"], "resources": ["*"],
                                                 "resource_names": None}
    assert rules.non_resource_rules[0].to_dict() == {"verbs": ["*"], "non_resource_urls": ["*"]}
    me = client.AuthenticationV1Api(admin).create_self_subject_review({}).status.user_info
    assert (me.username, me.groups) == ("kubernetes-admin", ["system:masters", "system:authenticated"])
    assert client.RbacAuthorizationV1Api(admin).list_cluster_role().items == []  # the bootstrap policy is not stored
    assert client.CoreV1Api(admin).delete_namespaced_config_map("settings", "keda")


def test_a_users_kubeconfig_and_unknown_tokens(sim: KubeSim, tmp_path: Path) -> None:
    path = sim.write_kubeconfig(tmp_path / "bob", context="dev", user="bob")
    api = config.new_client_from_config(config_file=str(path))
    denied = _forbidden(lambda: client.CoreV1Api(api).list_namespace())
    assert denied["message"].startswith('namespaces is forbidden: User "bob" cannot list resource "namespaces"')
    api.close()
    assert sim.kubeconfig("dev", user="bob")["users"][0]["name"] == "dev-bob"
    with pytest.raises(KeyError, match="no user 'mallory'"):
        sim.kubeconfig(user="mallory")
    # a TokenRequest token is still no credential for the API itself
    admin = sim.api_client()
    token = client.CoreV1Api(admin).create_namespaced_service_account_token(
        "keda-operator", "keda", {"spec": {"audiences": ["api://AzureADTokenExchange"]}}).status.token
    admin.close()
    kubeconfig = sim.kubeconfig()
    kubeconfig["users"][0]["user"]["token"] = token
    stranger = config.new_client_from_config_dict(kubeconfig)
    with pytest.raises(ApiException) as unknown:
        client.CoreV1Api(stranger).list_namespace()
    assert unknown.value.status == 401
    stranger.close()
