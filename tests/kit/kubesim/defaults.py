"""Defaulting and the semantic validation the API server does in Go code for the kinds the project touches.

Schema checks (types, required fields, enums) come from the official spec in `validation.py`; this module
adds what the spec cannot say: name rules, selectors matching templates, unique container and volume
names, mounts that reference volumes, and which parts of a Pod may change after creation.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from tests.kit.sim.openapi import Cause

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_LABEL_NAMED = {"Namespace", "Service"}


def name_causes(kind: str, name: str) -> list[Cause]:
    if kind in _LABEL_NAMED:
        if len(name) > 63 or not _LABEL.match(name):
            return [Cause("FieldValueInvalid", "metadata.name",
                          f'Invalid value: "{name}": a lowercase RFC 1123 label must consist of lower case '
                          "alphanumeric characters or '-', and must start and end with an alphanumeric character "
                          "(e.g. 'my-name',  or '123-abc', regex used for validation is "
                          "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")]
        return []
    if len(name) > 253 or not _SUBDOMAIN.match(name):
        return [Cause("FieldValueInvalid", "metadata.name",
                      f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                      "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character "
                      "(e.g. 'example.com', regex used for validation is "
                      "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")]
    return []


def label_causes(labels: dict[str, Any] | None, path: str) -> list[Cause]:
    causes = []
    for key, value in (labels or {}).items():
        name = key.rsplit("/", 1)[-1]
        if len(name) > 63 or not _LABEL_NAME.match(name):
            causes.append(Cause("FieldValueInvalid", path, f'Invalid value: "{key}": name part must consist of '
                                "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                                "alphanumeric character"))
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            causes.append(Cause("FieldValueInvalid", f"{path}", f'Invalid value: "{value}": a valid label must be '
                                "an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
                                "start and end with an alphanumeric character"))
    return causes


# -- defaulting (what `kubectl get -o yaml` shows that nobody wrote)
def default_container(container: dict[str, Any]) -> None:
    image = str(container.get("image", ""))
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"
    container.setdefault("imagePullPolicy", "Always" if tag == "latest" else "IfNotPresent")
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for env in container.get("env") or []:
        ref = (env.get("valueFrom") or {}).get("fieldRef")
        if ref is not None:
            ref.setdefault("apiVersion", "v1")


def default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    if "serviceAccount" in spec and "serviceAccountName" not in spec:
        spec["serviceAccountName"] = spec["serviceAccount"]
    for container in spec.get("containers") or []:
        default_container(container)
    for container in spec.get("initContainers") or []:
        default_container(container)


def apply_defaults(kind: str, obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if kind == "Pod" and isinstance(spec, dict):
        default_pod_spec(spec)
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    elif kind in ("Deployment", "ReplicaSet") and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        if kind == "Deployment":
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
            if strategy.get("type", "RollingUpdate") == "RollingUpdate":
                strategy.setdefault("type", "RollingUpdate")
                strategy.setdefault("rollingUpdate", {"maxUnavailable": "25%", "maxSurge": "25%"})
        template_spec = (spec.get("template") or {}).get("spec")
        if isinstance(template_spec, dict):
            default_pod_spec(template_spec)
    elif kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
    elif kind == "Service" and isinstance(spec, dict):
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))


# -- semantic validation
def _pod_spec_causes(spec: dict[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    containers = spec.get("containers") or []
    if not containers:
        causes.append(Cause("FieldValueRequired", f"{path}.containers", "Required value"))
    volumes = [v.get("name") for v in spec.get("volumes") or []]
    seen_volumes: set[str] = set()
    for i, name in enumerate(volumes):
        if name in seen_volumes:
            causes.append(Cause("FieldValueDuplicate", f"{path}.volumes[{i}].name", f'Duplicate value: "{name}"'))
        seen_volumes.add(name)
    seen: set[str] = set()
    for group in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(group) or []):
            cpath = f"{path}.{group}[{i}]"
            name = container.get("name")
            if name in seen:
                causes.append(Cause("FieldValueDuplicate", f"{cpath}.name", f'Duplicate value: "{name}"'))
            seen.add(name)
            for j, env in enumerate(container.get("env") or []):
                if not _ENV_NAME.match(str(env.get("name", ""))):
                    causes.append(Cause("FieldValueInvalid", f"{cpath}.env[{j}].name",
                                        f'Invalid value: "{env.get("name")}": a valid environment variable name '
                                        "must consist of alphabetic characters, digits, '_', '-', or '.', and must "
                                        "not start with a digit"))
            mounts: set[str] = set()
            for j, mount in enumerate(container.get("volumeMounts") or []):
                if mount.get("name") not in seen_volumes:
                    causes.append(Cause("FieldValueNotFound", f"{cpath}.volumeMounts[{j}].name",
                                        f'Not found: "{mount.get("name")}"'))
                if mount.get("mountPath") in mounts:
                    causes.append(Cause("FieldValueInvalid", f"{cpath}.volumeMounts[{j}].mountPath",
                                        f'Invalid value: "{mount.get("mountPath")}": must be unique'))
                mounts.add(mount.get("mountPath"))
    return causes


def semantic_causes(kind: str, obj: dict[str, Any]) -> list[Cause]:
    meta = obj.get("metadata") or {}
    causes = label_causes(meta.get("labels"), "metadata.labels")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        causes += _pod_spec_causes(spec, "spec")
    elif kind in ("Deployment", "ReplicaSet"):
        template = spec.get("template") or {}
        causes += label_causes((template.get("metadata") or {}).get("labels"), "spec.template.metadata.labels")
        causes += _pod_spec_causes(template.get("spec") or {}, "spec.template.spec")
        selector = spec.get("selector") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if selector and any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
            causes.append(Cause("FieldValueInvalid", "spec.template.metadata.labels",
                                f"Invalid value: map[string]string{_go_map(labels)}: `selector` does not match "
                                "template `labels`"))
        if isinstance(spec.get("replicas"), int) and spec["replicas"] < 0:
            causes.append(Cause("FieldValueInvalid", "spec.replicas", f"Invalid value: {spec['replicas']}: must be "
                                                                      "greater than or equal to 0"))
    return causes


def _go_map(labels: dict[str, Any]) -> str:
    return "{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"


# Fields of a running Pod's spec that an update may change (everything else is immutable).
_MUTABLE_POD_FIELDS = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")


def pod_update_causes(old: dict[str, Any], new: dict[str, Any]) -> list[Cause]:
    before, after = copy.deepcopy(old.get("spec") or {}), copy.deepcopy(new.get("spec") or {})
    for spec in (before, after):
        for key in _MUTABLE_POD_FIELDS:
            spec.pop(key, None)
        for group in ("containers", "initContainers"):
            for container in spec.get(group) or []:
                container.pop("image", None)
    if before != after:
        return [Cause("FieldValueForbidden", "spec",
                      "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
                      "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
                      "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set "
                      "to 1 if it was previously negative)")]
    return []
