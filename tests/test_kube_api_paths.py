"""A fix's target is read and patched at its real API path, cluster-scoped kinds included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.execute.kube_api import KubeApi
from remediations.model import KubeRef
from tests.kit.scenario import ensure_keda_crds
from tests.kit.targets import Kube

CTA = KubeRef("keda.sh", "v1alpha1", "ClusterTriggerAuthentication", "clustertriggerauthentications", "",
              "kat-cluster-auth")


@pytest.fixture
def cluster_auth(kube: Kube) -> Iterator[Kube]:
    ensure_keda_crds(kube)
    kube.custom.create_cluster_custom_object("keda.sh", "v1alpha1", "clustertriggerauthentications", {
        "apiVersion": "keda.sh/v1alpha1", "kind": "ClusterTriggerAuthentication",
        "metadata": {"name": CTA.name}, "spec": {"podIdentity": {"provider": "azure-workload", "identityId": ""}}})
    yield kube
    kube.custom.delete_cluster_custom_object("keda.sh", "v1alpha1", "clustertriggerauthentications", CTA.name)


def test_a_cluster_trigger_authentication_is_read_dry_run_and_patched(cluster_auth: Kube) -> None:
    api = KubeApi(cluster_auth.client)
    before = api.get(CTA)
    assert before is not None and before["spec"]["podIdentity"]["identityId"] == ""
    remove = [{"op": "remove", "path": "/spec/podIdentity/identityId"}]
    api.patch(CTA, remove, dry_run=True)
    assert "identityId" in (api.get(CTA) or {})["spec"]["podIdentity"], "the dry-run changed the object"
    api.patch(CTA, remove)
    assert "identityId" not in (api.get(CTA) or {})["spec"]["podIdentity"]
