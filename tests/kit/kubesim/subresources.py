"""Subresources other than status: pods/log, serviceaccounts/token (TokenRequest) and deployments/scale."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from tests.kit.kubesim.errors import ApiError
from tests.kit.kubesim.objects import ObjectApi, WriteOptions
from tests.kit.kubesim.registry import ResourceType
from tests.kit.sim.oidc import OidcIssuer
from tests.kit.sim.openapi import Cause
from tests.kit.sim.server import Request, Response


class Subresources:
    def __init__(self, api: ObjectApi, issuer: OidcIssuer, default_audiences: list[str]) -> None:
        self.api = api
        self.issuer = issuer
        self.default_audiences = default_audiences

    def serve(self, request: Request, rtype: ResourceType, namespace: str, name: str, sub: str) -> Response:
        if (rtype.plural, sub) == ("pods", "log") and request.method == "GET":
            return self._log(request, rtype, namespace, name)
        if (rtype.plural, sub) == ("serviceaccounts", "token") and request.method == "POST":
            return self._token(request, rtype, namespace, name)
        if (rtype.plural, sub) == ("deployments", "scale"):
            return self._scale(request, rtype, namespace, name)
        raise ApiError.method_not_allowed()

    # -- pods/log
    def _log(self, request: Request, rtype: ResourceType, namespace: str, name: str) -> Response:
        pod = self.api.get(rtype, namespace, name)
        names = [c["name"] for c in pod["spec"].get("containers") or []]
        container = request.param("container")
        if not container:
            if len(names) != 1:
                raise ApiError.bad_request(f"a container name must be specified for pod {name}, choose one of: "
                                           f"[{' '.join(names)}]")
            container = names[0]
        elif container not in names:
            raise ApiError.bad_request(f"container {container} is not valid for pod {name}")
        lines = list(self.api.store.logs.get((namespace, name, container), []))
        since = request.param("sinceSeconds")
        if since:
            cutoff = self.api.store.clock.now() - int(since)
            lines = [line for line in lines if line.at >= cutoff]
        tail = request.param("tailLines")
        if tail is not None:
            lines = lines[-int(tail):] if int(tail) > 0 else []
        stamps = request.param("timestamps") in ("true", "1")
        text = "".join((f"{_nano(line.at)} " if stamps else "") + line.text + "\n" for line in lines)
        limit = request.param("limitBytes")
        body = text.encode()[: int(limit)] if limit else text.encode()
        return Response(200, body, content_type="text/plain")

    # -- serviceaccounts/token
    def _token(self, request: Request, rtype: ResourceType, namespace: str, name: str) -> Response:
        sa = self.api.get(rtype, namespace, name)
        body = json.loads(request.body or b"{}")
        spec = dict(body.get("spec") or {})
        expiration = int(spec.get("expirationSeconds") or 3600)
        if expiration < 600:
            raise ApiError.invalid("TokenRequest", "authentication.k8s.io", name, [Cause(
                "FieldValueInvalid", "spec.expirationSeconds",
                f"Invalid value: {expiration}: may not specify a duration less than 10 minutes")])
        audiences = list(spec.get("audiences") or self.default_audiences)
        claims: dict[str, Any] = {"kubernetes.io": {"namespace": namespace,
                                                    "serviceaccount": {"name": name, "uid": sa["metadata"]["uid"]}}}
        bound = spec.get("boundObjectRef")
        if bound:
            claims["kubernetes.io"][str(bound.get("kind", "")).lower()] = {"name": bound.get("name"),
                                                                          "uid": bound.get("uid", "")}
        now = self.api.store.clock.now()
        token = self.issuer.mint(f"system:serviceaccount:{namespace}:{name}", audiences, expiration, claims, now=now)
        spec.update(audiences=audiences, expirationSeconds=expiration, boundObjectRef=bound)
        return Response(201, {
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None}, "spec": spec,
            "status": {"token": token, "expirationTimestamp": self.api.store.clock.stamp(now + expiration)}})

    # -- deployments/scale
    def _scale(self, request: Request, rtype: ResourceType, namespace: str, name: str) -> Response:
        deployment = self.api.get(rtype, namespace, name)
        if request.method in ("PUT", "PATCH"):
            body = json.loads(request.body or b"{}")
            replicas = (body.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError.invalid("Scale", "autoscaling", name, [Cause(
                    "FieldValueInvalid", "spec.replicas", f"Invalid value: {replicas}: must be greater than or "
                                                          "equal to 0")])
            updated = copy.deepcopy(deployment)
            updated["spec"]["replicas"] = replicas
            deployment = self.api.update(rtype, namespace, name, updated, WriteOptions(manager="scale")).obj
        elif request.method != "GET":
            raise ApiError.method_not_allowed()
        status = deployment.get("status") or {}
        selector = ",".join(f"{k}={v}" for k, v in deployment["spec"]["selector"].get("matchLabels", {}).items())
        return Response(200, {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: deployment["metadata"][k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                                 "creationTimestamp")},
            "spec": {"replicas": deployment["spec"].get("replicas", 1)},
            "status": {"replicas": status.get("replicas", 0), "selector": selector}})


def _nano(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
