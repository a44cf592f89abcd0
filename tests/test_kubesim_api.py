"""The API-server simulator as the official `kubernetes` client sees it: objects, errors, lists, patches, dry-run.

Every test runs against a real cluster too when KUBECONFIG is set; the few that need simulator-only
handles skip there with the reason.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from tests.kit.fixtures import FIXTURES, document
from tests.kit.kubesim import KubeSim
from tests.kit.sim.openapi import KUBE_RESPONSE, definition, validate
from tests.kit.targets import Kube

SWAGGER = FIXTURES / "openapi" / "kubernetes" / "swagger.json"


def _deployment(name: str = "web", env: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10",
                                                           "env": env or [{"name": "A", "value": "1"}]}],
                                           "volumes": [{"name": "data", "emptyDir": {}}]}}}}


def _status(exc: ApiException) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)
    return body


def _conforms(body: dict[str, Any], name: str) -> list[str]:
    return [c.text() for c in validate(body, definition(SWAGGER, name), KUBE_RESPONSE).causes]


def test_created_objects_carry_server_metadata(kube: Kube) -> None:
    created = kube.apps.create_namespaced_deployment(kube.namespace, _deployment())
    meta = created.metadata
    assert meta.uid and meta.resource_version and meta.generation == 1 and meta.creation_timestamp
    assert meta.managed_fields and meta.managed_fields[0].operation == "Update"
    assert meta.managed_fields[0].time is not None
    later = kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "later"}})
    assert int(later.metadata.resource_version) > int(meta.resource_version)


def test_generation_counts_spec_changes_only_and_noop_patch_keeps_resource_version(kube: Kube) -> None:
    kube.apps.create_namespaced_deployment(kube.namespace, _deployment())
    labelled = kube.apps.patch_namespaced_deployment("web", kube.namespace, {"metadata": {"labels": {"tier": "x"}}})
    assert labelled.metadata.generation == 1
    scaled = kube.apps.patch_namespaced_deployment("web", kube.namespace, {"spec": {"replicas": 2}})
    assert scaled.metadata.generation == 2
    settled = kube.apps.read_namespaced_deployment("web", kube.namespace)  # after the controller's status update
    again = kube.apps.patch_namespaced_deployment("web", kube.namespace, {"spec": {"replicas": 2}})
    assert again.metadata.resource_version == settled.metadata.resource_version


def test_not_found_and_already_exists_are_status_bodies(kube: Kube) -> None:
    with pytest.raises(ApiException) as missing:
        kube.core.read_namespaced_service_account("nope", kube.namespace)
    assert missing.value.status == 404
    assert _status(missing.value)["reason"] == "NotFound"
    assert _status(missing.value)["message"] == 'serviceaccounts "nope" not found'
    kube.core.create_namespaced_service_account(kube.namespace, {"metadata": {"name": "twice"}})
    with pytest.raises(ApiException) as twice:
        kube.core.create_namespaced_service_account(kube.namespace, {"metadata": {"name": "twice"}})
    assert twice.value.status == 409 and _status(twice.value)["reason"] == "AlreadyExists"
    assert not _conforms(_status(twice.value), "io.k8s.apimachinery.pkg.apis.meta.v1.Status")


def test_update_with_a_stale_resource_version_is_a_conflict(kube: Kube) -> None:
    first = kube.apps.create_namespaced_deployment(kube.namespace, _deployment())
    kube.apps.patch_namespaced_deployment("web", kube.namespace, {"spec": {"replicas": 3}})
    first.spec.replicas = 5
    with pytest.raises(ApiException) as stale:
        kube.apps.replace_namespaced_deployment("web", kube.namespace, first)
    assert stale.value.status == 409 and _status(stale.value)["reason"] == "Conflict"
    assert "the object has been modified" in _status(stale.value)["message"]
    assert kube.apps.read_namespaced_deployment("web", kube.namespace).spec.replicas == 3


def test_invalid_objects_are_422_with_field_causes(kube: Kube) -> None:
    broken = _deployment()
    broken["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    broken["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "absent", "mountPath": "/x"}]
    with pytest.raises(ApiException) as invalid:
        kube.apps.create_namespaced_deployment(kube.namespace, broken)
    status = _status(invalid.value)
    assert invalid.value.status == 422 and status["reason"] == "Invalid"
    fields = {c["field"] for c in status["details"]["causes"]}
    assert {"spec.template.metadata.labels", "spec.template.spec.containers[0].volumeMounts[0].name"} <= fields
    with pytest.raises(ApiException):
        kube.apps.read_namespaced_deployment("web", kube.namespace)  # nothing was stored


def test_label_and_field_selectors(kube: Kube) -> None:
    for name, tier in (("a", "web"), ("b", "api"), ("c", "web")):
        kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": name, "labels": {"tier": tier}}})
    kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "d"}})

    def names(**kwargs: str) -> list[str]:
        items = kube.core.list_namespaced_config_map(kube.namespace, **kwargs).items
        return sorted(i.metadata.name for i in items if i.metadata.name != "kube-root-ca.crt")

    assert names(label_selector="tier=web") == ["a", "c"]
    assert names(label_selector="tier in (api, web),tier!=api") == ["a", "c"]
    assert names(label_selector="!tier") == ["d"]
    assert names(field_selector="metadata.name!=a", label_selector="tier") == ["b", "c"]
    with pytest.raises(ApiException) as unsupported:
        kube.core.list_namespaced_config_map(kube.namespace, field_selector="data.x=1")
    assert unsupported.value.status == 400 and "field label not supported" in _status(unsupported.value)["message"]


def test_pods_select_on_phase_and_service_account(kube: Kube) -> None:
    kube.core.create_namespaced_service_account(kube.namespace, {"metadata": {"name": "robot"}})
    kube.apps.create_namespaced_deployment(kube.namespace, _deployment())
    pods = kube.core.list_namespaced_pod(kube.namespace, field_selector="status.phase=Running").items
    assert [p.metadata.name.startswith("web-") for p in pods] == [True]
    assert kube.core.list_namespaced_pod(kube.namespace, field_selector="spec.serviceAccountName=robot").items == []


def test_limit_and_continue_page_through_a_list(kube: Kube) -> None:
    for i in range(25):
        kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": f"cm-{i:02d}",
                                                                             "labels": {"page": "yes"}}})
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = kube.core.list_namespaced_config_map(kube.namespace, label_selector="page=yes", limit=10,
                                                    _continue=token)
        pages += 1
        seen += [i.metadata.name for i in page.items]
        token = page.metadata._continue
        if pages == 1:
            assert page.metadata.remaining_item_count == 15
        if not token:
            break
    assert pages == 3 and seen == sorted(f"cm-{i:02d}" for i in range(25))


def test_an_expired_continue_token_is_410(kube: Kube) -> None:
    sim = kube.require_sim("etcd compaction cannot be triggered through the API")
    for i in range(3):
        kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": f"cm-{i}"}})
    page = kube.core.list_namespaced_config_map(kube.namespace, limit=1)
    sim.compact()
    with pytest.raises(ApiException) as gone:
        kube.core.list_namespaced_config_map(kube.namespace, limit=1, _continue=page.metadata._continue)
    assert gone.value.status == 410 and _status(gone.value)["reason"] == "Expired"


def test_strategic_merge_patch_merges_containers_env_and_volumes_by_name(kube: Kube) -> None:
    kube.apps.create_namespaced_deployment(kube.namespace, _deployment(env=[{"name": "A", "value": "1"},
                                                                            {"name": "B", "value": "2"}]))
    patched = kube.apps.patch_namespaced_deployment("web", kube.namespace, {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"},
                                                {"name": "A", "$patch": "delete"}]}],
        "volumes": [{"name": "cache", "emptyDir": {}}]}}}})
    spec = patched.spec.template.spec
    assert [(e.name, e.value) for e in spec.containers[0].env] == [("B", "20"), ("C", "3")]
    assert spec.containers[0].image == "registry.k8s.io/pause:3.10"
    assert sorted(v.name for v in spec.volumes) == ["cache", "data"]


def test_merge_patch_replaces_lists_and_json_patch_tests_fail_cleanly(kube: Kube) -> None:
    kube.apps.create_namespaced_deployment(kube.namespace, _deployment())
    status, body, _ = kube.raw("PATCH", f"/apis/apps/v1/namespaces/{kube.namespace}/deployments/web",
                               {"spec": {"template": {"spec": {"containers": [
                                   {"name": "other", "image": "registry.k8s.io/pause:3.10"}]}}}},
                               "application/merge-patch+json")
    assert status == 200 and [c["name"] for c in body["spec"]["template"]["spec"]["containers"]] == ["other"]
    ops = [{"op": "test", "path": "/spec/replicas", "value": 7}, {"op": "replace", "path": "/spec/replicas",
                                                                  "value": 9}]
    with pytest.raises(ApiException) as failed:
        kube.apps.patch_namespaced_deployment("web", kube.namespace, ops)
    assert failed.value.status == 422
    assert kube.apps.read_namespaced_deployment("web", kube.namespace).spec.replicas == 1
    ops[0]["value"] = 1
    assert kube.apps.patch_namespaced_deployment("web", kube.namespace, ops).spec.replicas == 9


def test_dry_run_answers_with_the_result_but_persists_nothing(kube: Kube) -> None:
    kube.core.create_namespaced_service_account(kube.namespace, {"metadata": {"name": "keda-operator"}})
    before = kube.core.read_namespaced_service_account("keda-operator", kube.namespace)
    preview = kube.core.patch_namespaced_service_account(
        "keda-operator", kube.namespace, {"metadata": {"annotations": {"azure.workload.identity/client-id": "x"}}},
        dry_run="All")
    assert preview.metadata.annotations == {"azure.workload.identity/client-id": "x"}
    after = kube.core.read_namespaced_service_account("keda-operator", kube.namespace)
    assert after.metadata.annotations is None
    assert after.metadata.resource_version == before.metadata.resource_version
    kube.core.create_namespaced_config_map(kube.namespace, {"metadata": {"name": "ghost"}}, dry_run="All")
    with pytest.raises(ApiException):
        kube.core.read_namespaced_config_map("ghost", kube.namespace)


def test_unknown_fields_are_dropped_or_refused_under_strict_validation(kube: Kube) -> None:
    body = {"metadata": {"name": "cm"}, "data": {"k": "v"}, "bogus": 1}
    status, created, headers = kube.raw("POST", f"/api/v1/namespaces/{kube.namespace}/configmaps", body)
    assert status == 201 and "bogus" not in created
    assert 'unknown field \\"bogus\\"' in headers.get("Warning", "")
    strict, refused, _ = kube.raw("POST", f"/api/v1/namespaces/{kube.namespace}/configmaps",
                                  dict(body, metadata={"name": "cm2"}), query=[("fieldValidation", "Strict")])
    assert strict == 400 and 'unknown field "bogus"' in refused["message"]


def test_discovery_serves_built_ins_and_crds_for_the_dynamic_client(kube: Kube) -> None:
    sim = kube.require_sim("installs KEDA 2.20.2 CRDs cluster-wide")
    assert sim is not None
    crd = document("keda/crds/2.20.2/keda.sh_scaledobjects.yaml", "CustomResourceDefinition")
    kube.extensions.create_custom_resource_definition(crd)
    established = kube.extensions.read_custom_resource_definition(crd["metadata"]["name"])
    assert {c.type: c.status for c in established.status.conditions}["Established"] == "True"
    resources = {r.name: r for r in kube.apps.get_api_resources().resources}
    assert "deployments/status" in resources and "create" in resources["deployments"].verbs
    dynamic = kube.dynamic()
    scaled = dynamic.resources.get(api_version="keda.sh/v1alpha1", kind="ScaledObject")
    assert scaled.namespaced and "so" in scaled.short_names
    created = scaled.create(namespace=kube.namespace, body={
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "orders"},
        "spec": {"scaleTargetRef": {"name": "orders"}, "triggers": [
            {"type": "azure-servicebus", "metadata": {"queueName": "orders", "namespace": "sb"}}]}})
    assert created.metadata.generation == 1
    with pytest.raises(ApiException) as missing:
        kube.custom.patch_namespaced_custom_object("keda.sh", "v1alpha1", kube.namespace, "scaledobjects", "nope",
                                                   {"spec": {}})
    assert missing.value.status == 404


def test_strategic_merge_patch_on_a_custom_resource_is_415(kube: Kube) -> None:
    kube.require_sim("installs KEDA CRDs cluster-wide")
    kube.extensions.create_custom_resource_definition(
        document("keda/crds/2.20.2/keda.sh_triggerauthentications.yaml", "CustomResourceDefinition"))
    kube.custom.create_namespaced_custom_object("keda.sh", "v1alpha1", kube.namespace, "triggerauthentications", {
        "apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication", "metadata": {"name": "ta"},
        "spec": {"podIdentity": {"provider": "azure-workload"}}})
    status, body, _ = kube.raw("PATCH", f"/apis/keda.sh/v1alpha1/namespaces/{kube.namespace}/triggerauthentications/ta",
                               {"spec": {"podIdentity": {"identityId": "x"}}}, "application/strategic-merge-patch+json")
    assert status == 415 and body["reason"] == "UnsupportedMediaType"
    merged = kube.custom.patch_namespaced_custom_object("keda.sh", "v1alpha1", kube.namespace,
                                                        "triggerauthentications", "ta",
                                                        {"spec": {"podIdentity": {"identityId": "x"}}})
    assert merged["spec"]["podIdentity"] == {"provider": "azure-workload", "identityId": "x"}
    assert merged["metadata"]["generation"] == 2


@pytest.mark.parametrize(("version", "accepted"), [("2.13.1", False), ("2.14.0", True), ("2.20.2", True)])
def test_keda_crd_schemas_decide_what_a_trigger_authentication_may_say(version: str, accepted: bool) -> None:
    with KubeSim() as sim:
        from kubernetes import client

        api = sim.api_client()
        client.CoreV1Api(api).create_namespace({"metadata": {"name": "apps"}})
        client.ApiextensionsV1Api(api).create_custom_resource_definition(
            document(f"keda/crds/{version}/keda.sh_triggerauthentications.yaml", "CustomResourceDefinition"))
        body = {"apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication", "metadata": {"name": "ta"},
                "spec": {"podIdentity": {"provider": "none"}, "unknownField": True}}
        custom = client.CustomObjectsApi(api)
        if accepted:
            created = custom.create_namespaced_custom_object("keda.sh", "v1alpha1", "apps",
                                                             "triggerauthentications", body)
            assert "unknownField" not in created["spec"]  # pruned like a structural schema prunes
        else:
            with pytest.raises(ApiException) as refused:
                custom.create_namespaced_custom_object("keda.sh", "v1alpha1", "apps", "triggerauthentications", body)
            assert refused.value.status == 422
            assert 'spec.podIdentity.provider: Unsupported value: "none"' in _status(refused.value)["message"]
        api.close()


def test_responses_conform_to_the_official_schemas(kube: Kube) -> None:
    kube.core.create_namespaced_service_account(kube.namespace, {"metadata": {"name": "sa"}})
    kube.apps.create_namespaced_deployment(kube.namespace, _deployment())
    checks = {
        f"/apis/apps/v1/namespaces/{kube.namespace}/deployments/web": "io.k8s.api.apps.v1.Deployment",
        f"/apis/apps/v1/namespaces/{kube.namespace}/deployments": "io.k8s.api.apps.v1.DeploymentList",
        f"/api/v1/namespaces/{kube.namespace}/pods": "io.k8s.api.core.v1.PodList",
        f"/api/v1/namespaces/{kube.namespace}/serviceaccounts/sa": "io.k8s.api.core.v1.ServiceAccount",
        f"/api/v1/namespaces/{kube.namespace}/events": "io.k8s.api.core.v1.EventList",
        f"/apis/apps/v1/namespaces/{kube.namespace}/replicasets": "io.k8s.api.apps.v1.ReplicaSetList",
    }
    for path, name in checks.items():
        status, body, _ = kube.raw("GET", path)
        assert status == 200, path
        assert _conforms(body, name) == [], path


def test_deleting_cascades_to_owned_objects_and_pods_are_replaced(kube: Kube) -> None:
    kube.apps.create_namespaced_deployment(kube.namespace, _deployment())
    [pod] = kube.core.list_namespaced_pod(kube.namespace).items
    kube.core.delete_namespaced_pod(pod.metadata.name, kube.namespace)
    [replacement] = kube.core.list_namespaced_pod(kube.namespace).items
    assert replacement.metadata.name != pod.metadata.name
    kube.apps.delete_namespaced_deployment("web", kube.namespace)
    assert kube.apps.list_namespaced_replica_set(kube.namespace).items == []
    assert kube.core.list_namespaced_pod(kube.namespace).items == []


def test_faults_surface_through_the_client(kube: Kube) -> None:
    sim = kube.require_sim("fault injection")
    sim.faults.add(method="GET", path="/configmaps$", status=500, times=1)
    with pytest.raises(ApiException) as failed:
        kube.core.list_namespaced_config_map(kube.namespace)
    assert failed.value.status == 500
    assert kube.core.list_namespaced_config_map(kube.namespace).items is not None
    hung = sim.faults.add(method="GET", path="/secrets$", hang=True, times=None)
    with pytest.raises(Exception, match=r"(?i)timed? ?out"):
        kube.core.list_namespaced_secret(kube.namespace, _request_timeout=0.2)
    assert hung.fired == 4  # urllib3 retried the read timeout three times, as it does against a real server


def test_throttling_answers_429_with_retry_after(kube: Kube) -> None:
    sim = kube.require_sim("fault injection")
    sim.faults.add(method="GET", path="/serviceaccounts$", status=429, retry_after=1, times=5)
    status, body, headers = kube.raw("GET", f"/api/v1/namespaces/{kube.namespace}/serviceaccounts")
    assert status == 429 and headers.get("Retry-After") == "1" and body["reason"] == "TooManyRequests"


def test_requests_without_the_cluster_credentials_are_401() -> None:
    with KubeSim() as sim:
        from kubernetes import client, config

        kubeconfig = sim.kubeconfig()
        kubeconfig["users"][0]["user"]["token"] = "wrong"
        api = config.new_client_from_config_dict(kubeconfig)
        with pytest.raises(ApiException) as denied:
            client.CoreV1Api(api).list_namespace()
        assert denied.value.status == 401
        api.close()


def test_the_conformance_check_catches_an_off_spec_answer() -> None:
    from tests.kit.kubesim.conformance import ResponseConformance

    checker = ResponseConformance()
    checker.check("GET", "/apis/apps/v1/namespaces/x/deployments/web",
                  {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                   "spec": {"replicas": "two", "selector": {}, "template": {}}})
    assert checker.violations == ["GET /apis/apps/v1/namespaces/x/deployments/web → io.k8s.api.apps.v1.Deployment: "
                                  'spec.replicas: Invalid value: "string": spec.replicas in body must be of type '
                                  'integer: "string"']
