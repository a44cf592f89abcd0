"""What a real control plane does after a write: the deployment and replicaset controllers, the scheduler and
kubelet's status, the namespace controller, the CRD controller and garbage collection.

They run synchronously after each persisted write, so a test sees a finished rollout on its next read:
a pod-template change (e.g. `kubectl rollout restart`) makes a new ReplicaSet whose pods go through
admission (and thus the Workload Identity webhook) while the old pods are deleted.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from tests.kit.kubesim.errors import ApiError
from tests.kit.kubesim.objects import ObjectApi, WriteOptions
from tests.kit.kubesim.registry import ResourceType
from tests.kit.kubesim.store import random_suffix

NODE_NAME = "aks-nodepool1-31718369-vmss000000"
_HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

TypeOf = Callable[[str, str], ResourceType]  # (group, plural)


def template_hash(template: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_HASH_ALPHABET[b % len(_HASH_ALPHABET)] for b in digest[:10])


def _owned_by(obj: dict[str, Any], uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])


def _owner_ref(obj: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


class Controllers:
    def __init__(self, api: ObjectApi, type_of: TypeOf, register_crd: Callable[[dict[str, Any]], None],
                 unregister_crd: Callable[[dict[str, Any]], None]) -> None:
        self.api = api
        self.store = api.store
        self.type_of = type_of
        self.register_crd = register_crd
        self.unregister_crd = unregister_crd
        self._queue: deque[tuple[str, ResourceType, dict[str, Any], bool]] = deque()
        self._draining = False

    def _options(self, manager: str, subresource: str = "") -> WriteOptions:
        return WriteOptions(manager=manager, subresource=subresource)

    def _list(self, group: str, plural: str, namespace: str | None) -> list[dict[str, Any]]:
        return [obj for _, obj in self.store.items(self.type_of(group, plural), namespace)]

    # -- hooks: queue the work and drain it once the outermost write is done, like informers would
    def after_write(self, rtype: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if old is not None and (rtype.group, rtype.plural) in (("apps", "deployments"), ("apps", "replicasets")) \
                and _desired(old) == _desired(obj):
            return  # a controller's own status write: nothing to reconcile
        self._queue.append(("write", rtype, copy.deepcopy(obj), old is None))
        self._drain()

    def after_delete(self, rtype: ResourceType, obj: dict[str, Any], _: dict[str, Any] | None) -> None:
        self._queue.append(("delete", rtype, copy.deepcopy(obj), False))
        self._drain()

    def _drain(self) -> None:
        if self._draining:
            return
        self._draining = True
        try:
            while self._queue:
                action, rtype, obj, created = self._queue.popleft()
                if action == "write":
                    self._on_write(rtype, obj, created)
                else:
                    self._on_delete(rtype, obj)
        finally:
            self._draining = False

    def _on_write(self, rtype: ResourceType, obj: dict[str, Any], created: bool) -> None:
        key = (rtype.group, rtype.plural)
        meta = obj["metadata"]
        latest = self.store.get(rtype, meta.get("namespace", ""), meta["name"])
        if latest is None or latest["metadata"]["uid"] != meta["uid"]:
            return
        if key == ("", "namespaces") and created:
            self._new_namespace(latest)
        elif key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self.register_crd(latest)
            self._crd_status(latest)
        elif key == ("apps", "deployments"):
            self.reconcile_deployment(latest)
        elif key == ("apps", "replicasets"):
            self.reconcile_replicaset(latest)
        elif key == ("", "pods"):
            if created:
                self._start_pod(latest)
            else:
                self._pod_changed(latest)
        if key not in (("", "events"), ("apps", "replicasets")):
            self._retry_failed_replicasets()

    def _on_delete(self, rtype: ResourceType, obj: dict[str, Any]) -> None:
        key = (rtype.group, rtype.plural)
        if key == ("", "namespaces"):
            self._empty_namespace(obj["metadata"]["name"])
        elif key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self.unregister_crd(obj)
        self._collect_garbage(obj["metadata"]["uid"])
        if key == ("", "pods"):
            for ref in obj["metadata"].get("ownerReferences") or []:
                if ref.get("kind") == "ReplicaSet":
                    owner = self.store.get(self.type_of("apps", "replicasets"), obj["metadata"]["namespace"],
                                           ref["name"])
                    if owner is not None:
                        self.reconcile_replicaset(owner)

    # -- namespaces
    def _new_namespace(self, namespace: dict[str, Any]) -> None:
        name = namespace["metadata"]["name"]
        self.api.create(self.type_of("", "serviceaccounts"), name, {"metadata": {"name": "default"}},
                        self._options("kube-controller-manager"))
        self.api.create(self.type_of("", "configmaps"), name, {
            "metadata": {"name": "kube-root-ca.crt", "annotations": {
                "kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver "
                                             "when using internal endpoints such as the internal service IP or "
                                             "kubernetes.default.svc. No other usage is guaranteed across "
                                             "distributions of Kubernetes clusters."}},
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nsimulated\n-----END CERTIFICATE-----\n"}},
            self._options("kube-controller-manager"))

    def _empty_namespace(self, namespace: str) -> None:
        for bucket in list(self.store.objects.values()):
            for key in [k for k in bucket if k[0] == namespace]:
                bucket.pop(key)

    def _collect_garbage(self, uid: str) -> None:
        for (group, plural), bucket in list(self.store.objects.items()):
            for key, obj in list(bucket.items()):
                if _owned_by(obj, uid) and key in bucket:
                    self.api.delete(self.type_of(group, plural), key[0], key[1])

    # -- CRDs
    def _crd_status(self, crd: dict[str, Any]) -> None:
        now = self.store.clock.stamp()
        status = {
            "acceptedNames": copy.deepcopy(crd["spec"]["names"]),
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                 "message": "no conflicts found", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                 "message": "the initial names have been accepted", "lastTransitionTime": now}],
            "storedVersions": [v["name"] for v in crd["spec"]["versions"] if v.get("storage")],
        }
        if crd.get("status", {}).get("acceptedNames") != status["acceptedNames"]:
            self.api.update(self.type_of("apiextensions.k8s.io", "customresourcedefinitions"), "",
                            crd["metadata"]["name"], dict(crd, status=status),
                            self._options("kube-apiserver", "status"))

    # -- deployments
    def reconcile_deployment(self, deployment: dict[str, Any]) -> None:
        namespace, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
        rs_type = self.type_of("apps", "replicasets")
        owned = [rs for rs in self._list("apps", "replicasets", namespace)
                 if _owned_by(rs, deployment["metadata"]["uid"])]
        template = copy.deepcopy(deployment["spec"]["template"])
        pod_hash = template_hash(template)
        replicas = int(deployment["spec"].get("replicas", 1))
        current = next((rs for rs in owned if rs["metadata"]["labels"].get("pod-template-hash") == pod_hash), None)
        revisions = [int(rs["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", "0"))
                     for rs in owned]
        if current is None:
            revision = str(max(revisions, default=0) + 1)
            template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = pod_hash
            selector = copy.deepcopy(deployment["spec"]["selector"])
            selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
            rs_body = {"metadata": {
                "name": f"{name}-{pod_hash}", "labels": dict(template["metadata"]["labels"]),
                "annotations": {"deployment.kubernetes.io/revision": revision,
                                "deployment.kubernetes.io/desired-replicas": str(replicas),
                                "deployment.kubernetes.io/max-replicas": str(replicas + 1)},
                "ownerReferences": [_owner_ref(deployment)]},
                "spec": {"replicas": replicas, "selector": selector, "template": template}}
            self._annotate_revision(deployment, revision)
            self.api.create(rs_type, namespace, rs_body, self._options("kube-controller-manager"))
            self._event(deployment, "Normal", "ScalingReplicaSet",
                        f"Scaled up replica set {name}-{pod_hash} from 0 to {replicas}", "deployment-controller")
        elif int(current["spec"].get("replicas", 0)) != replicas:
            self.api.update(rs_type, namespace, current["metadata"]["name"],
                            _with_replicas(current, replicas), self._options("kube-controller-manager"))
        for rs in owned:
            if rs is not current and int(rs["spec"].get("replicas", 0)) != 0:
                fresh = self.store.get(rs_type, namespace, rs["metadata"]["name"])
                if fresh is not None:
                    self.api.update(rs_type, namespace, rs["metadata"]["name"], _with_replicas(fresh, 0),
                                    self._options("kube-controller-manager"))
                    self._event(deployment, "Normal", "ScalingReplicaSet",
                                f"Scaled down replica set {rs['metadata']['name']} from "
                                f"{rs['spec'].get('replicas')} to 0", "deployment-controller")
        self._deployment_status(namespace, name)

    def _annotate_revision(self, deployment: dict[str, Any], revision: str) -> None:
        fresh = copy.deepcopy(deployment)
        fresh["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = revision
        self.api.update(self.type_of("apps", "deployments"), fresh["metadata"]["namespace"],
                        fresh["metadata"]["name"], fresh, self._options("kube-controller-manager"))

    def _deployment_status(self, namespace: str, name: str) -> None:
        deployment = self.store.get(self.type_of("apps", "deployments"), namespace, name)
        if deployment is None:
            return
        owned = [rs for rs in self._list("apps", "replicasets", namespace)
                 if _owned_by(rs, deployment["metadata"]["uid"])]
        pod_hash = template_hash(deployment["spec"]["template"])
        new = next((rs for rs in owned if rs["metadata"]["labels"].get("pod-template-hash") == pod_hash), None)
        wanted = int(deployment["spec"].get("replicas", 1))
        total = sum(int(rs.get("status", {}).get("replicas", 0)) for rs in owned)
        ready = sum(int(rs.get("status", {}).get("readyReplicas", 0)) for rs in owned)
        updated = int((new or {}).get("status", {}).get("replicas", 0))
        now = self.store.clock.stamp()
        failure = next((c for c in (new or {}).get("status", {}).get("conditions", [])
                        if c.get("type") == "ReplicaFailure"), None)
        conditions = [{"type": "Available", "status": "True" if ready >= wanted else "False",
                       "reason": "MinimumReplicasAvailable" if ready >= wanted else "MinimumReplicasUnavailable",
                       "message": "Deployment has minimum availability." if ready >= wanted
                       else "Deployment does not have minimum availability.",
                       "lastUpdateTime": now, "lastTransitionTime": now}]
        if failure is not None:
            conditions.append(dict(failure, lastUpdateTime=now))
        else:
            conditions.append({"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                               "message": f'ReplicaSet "{(new or {}).get("metadata", {}).get("name", "")}" has '
                                          "successfully progressed.", "lastUpdateTime": now,
                               "lastTransitionTime": now})
        status: dict[str, Any] = {"observedGeneration": deployment["metadata"]["generation"], "replicas": total,
                                  "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
                                  "conditions": conditions}
        if wanted - ready > 0:
            status["unavailableReplicas"] = wanted - ready
        old_status = {k: v for k, v in deployment.get("status", {}).items() if k != "conditions"}
        new_status = {k: v for k, v in status.items() if k != "conditions"}
        old_types = [(c["type"], c["status"]) for c in deployment.get("status", {}).get("conditions", [])]
        if old_status != new_status or old_types != [(c["type"], c["status"]) for c in conditions]:
            self.api.update(self.type_of("apps", "deployments"), namespace, name, dict(deployment, status=status),
                            self._options("kube-controller-manager", "status"))

    # -- replicasets
    def reconcile_replicaset(self, rs: dict[str, Any]) -> None:
        namespace = rs["metadata"]["namespace"]
        pod_type = self.type_of("", "pods")
        pods = [p for p in self._list("", "pods", namespace) if _owned_by(p, rs["metadata"]["uid"])]
        wanted = int(rs["spec"].get("replicas", 1))
        failure: str | None = None
        for _ in range(wanted - len(pods)):
            template = copy.deepcopy(rs["spec"]["template"])
            meta = template.setdefault("metadata", {})
            meta.update(generateName=f"{rs['metadata']['name']}-", ownerReferences=[_owner_ref(rs)])
            meta.pop("name", None)
            try:
                created = self.api.create(pod_type, namespace, {"apiVersion": "v1", "kind": "Pod", **template},
                                          self._options("kube-controller-manager")).obj
            except ApiError as exc:
                failure = f"Error creating: {exc.message}"
                self._event(rs, "Warning", "FailedCreate", failure, "replicaset-controller")
                break
            self._event(rs, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}",
                        "replicaset-controller")
        newest_first = sorted(pods, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)
        for pod in newest_first[:max(0, len(pods) - wanted)]:
            self.api.delete(pod_type, namespace, pod["metadata"]["name"])
            self._event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                        "replicaset-controller")
        self._replicaset_status(rs, failure)

    def _replicaset_status(self, rs: dict[str, Any], failure: str | None) -> None:
        namespace, name = rs["metadata"]["namespace"], rs["metadata"]["name"]
        fresh = self.store.get(self.type_of("apps", "replicasets"), namespace, name)
        if fresh is None:
            return
        pods = [p for p in self._list("", "pods", namespace) if _owned_by(p, fresh["metadata"]["uid"])]
        ready = sum(1 for p in pods if p.get("status", {}).get("phase") == "Running")
        status: dict[str, Any] = {"replicas": len(pods), "fullyLabeledReplicas": len(pods), "readyReplicas": ready,
                                  "availableReplicas": ready, "observedGeneration": fresh["metadata"]["generation"]}
        kept = [c for c in fresh.get("status", {}).get("conditions", []) if c.get("type") == "ReplicaFailure"]
        if failure is not None:
            status["conditions"] = [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                                     "message": failure, "lastTransitionTime": self.store.clock.stamp()}]
        elif kept and len(pods) < int(fresh["spec"].get("replicas", 1)):
            status["conditions"] = kept
        self.api.update(self.type_of("apps", "replicasets"), namespace, name, dict(fresh, status=status),
                        self._options("kube-controller-manager", "status"))
        for ref in fresh["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "Deployment":
                self._deployment_status(namespace, ref["name"])

    # -- pods: scheduled and started at once
    def _start_pod(self, pod: dict[str, Any]) -> None:
        now = self.store.clock.stamp()
        containers = pod["spec"].get("containers") or []
        status = {
            "phase": "Running", "hostIP": "10.224.0.4", "podIP": f"10.244.0.{len(pod['metadata']['uid']) % 200 + 10}",
            "startTime": now, "qosClass": "BestEffort",
            "conditions": [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
                           for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                                     "PodScheduled")],
            "containerStatuses": [{
                "name": c["name"], "image": c.get("image", ""), "imageID": f"{c.get('image', '')}@sha256:"
                + hashlib.sha256(str(c.get("image")).encode()).hexdigest(),
                "containerID": f"containerd://{uuid.uuid4().hex}{uuid.uuid4().hex}", "ready": True,
                "started": True, "restartCount": 0, "state": {"running": {"startedAt": now}}, "lastState": {}}
                for c in containers],
        }
        self.api.update(self.type_of("", "pods"), pod["metadata"]["namespace"], pod["metadata"]["name"],
                        dict(pod, status=status), self._options("kubelet", "status"))

    def _retry_failed_replicasets(self) -> None:
        """The replicaset controller retries failed pod creations; here, whenever something else changed."""
        for rs in self._list("apps", "replicasets", None):
            failed = any(c.get("type") == "ReplicaFailure" for c in rs.get("status", {}).get("conditions", []))
            if failed and int(rs["spec"].get("replicas", 1)) > 0:
                self._queue.append(("write", self.type_of("apps", "replicasets"), copy.deepcopy(rs), False))

    def _pod_changed(self, pod: dict[str, Any]) -> None:
        for ref in pod["metadata"].get("ownerReferences") or []:
            if ref.get("kind") == "ReplicaSet":
                owner = self.store.get(self.type_of("apps", "replicasets"), pod["metadata"]["namespace"], ref["name"])
                if owner is not None:
                    self._replicaset_status(owner, None)

    # -- events
    def _event(self, involved: dict[str, Any], type_: str, reason: str, message: str, component: str) -> None:
        meta = involved["metadata"]
        now = self.store.clock.stamp()
        self.api.create(self.type_of("", "events"), meta["namespace"], {
            "metadata": {"name": f"{meta['name']}.{random_suffix(16)}"},
            "involvedObject": {"kind": involved["kind"], "namespace": meta["namespace"], "name": meta["name"],
                               "uid": meta["uid"], "apiVersion": involved["apiVersion"],
                               "resourceVersion": meta.get("resourceVersion", "")},
            "reason": reason, "message": message, "type": type_, "source": {"component": component},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1, "reportingComponent": component,
            "reportingInstance": ""}, self._options(component))


def _desired(obj: dict[str, Any]) -> tuple[Any, ...]:
    meta = obj["metadata"]
    return obj.get("spec"), meta.get("labels"), meta.get("annotations"), meta.get("ownerReferences")


def _with_replicas(obj: dict[str, Any], replicas: int) -> dict[str, Any]:
    fresh = copy.deepcopy(obj)
    fresh["spec"]["replicas"] = replicas
    return fresh
