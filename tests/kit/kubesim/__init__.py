"""A Kubernetes API-server simulator that the official `kubernetes` client talks to over real HTTPS.

    with KubeSim() as sim:
        client = sim.api_client()            # or sim.write_kubeconfig(path) for anything reading a kubeconfig
        CoreV1Api(client).create_namespace(...)

What it models and where: registry.py (the served kinds, from the official 1.36 OpenAPI spec),
objects.py (writes, metadata, validation, dry-run), patch.py, selectors.py, admission.py (ServiceAccount
plugin and the Azure Workload Identity webhook), controllers.py (rollouts, status, GC), subresources.py
(logs, TokenRequest, scale), apiserver.py (HTTP routes, discovery, lists), authz.py (RBAC for the users of
`add_user`; the kubeconfig's admin is system:masters). Seeding goes through the API; only users' credentials
(`add_user`), pod logs, the clock, faults and recorded states (`preload`) have simulator-side handles, because a
real cluster has no API for them.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.kit.kubesim import authz
from tests.kit.kubesim.admission import service_account_admission, workload_identity_webhook
from tests.kit.kubesim.apiserver import KubeApp
from tests.kit.kubesim.conformance import ResponseConformance
from tests.kit.kubesim.controllers import NODE_NAME, Controllers
from tests.kit.kubesim.errors import ApiError, status_for_fault
from tests.kit.kubesim.objects import ObjectApi
from tests.kit.kubesim.registry import ResourceType
from tests.kit.kubesim.store import LogLine, Store
from tests.kit.kubesim.subresources import Subresources
from tests.kit.kubesim.types import TypeRegistry
from tests.kit.sim.clock import Clock
from tests.kit.sim.faults import FaultInjector
from tests.kit.sim.oidc import OidcIssuer
from tests.kit.sim.server import Request, Response, SimServer
from tests.kit.sim.tls import authority

DEFAULT_ISSUER = "https://westeurope.oic.prod-aks.azure.com/72f988bf-86f1-41af-91ab-2d7cd011db47/" \
                 "3c1f9ad1-3f2a-4d0e-9f5c-6f3b2a1e9c11/"
ADMIN_TOKEN = "kubesim-admin-token"

__all__ = ["ADMIN_TOKEN", "ApiError", "KubeSim"]


class KubeSim:
    def __init__(self, *, issuer: str = DEFAULT_ISSUER, server_version: str = "v1.34.2",
                 token: str = ADMIN_TOKEN) -> None:
        self.store = Store()
        self.types = TypeRegistry(self.store)
        self.api = ObjectApi(self.store)
        self.issuer = OidcIssuer(issuer)
        self.token = token
        self._users: dict[str, authz.User] = {token: authz.ADMIN}  # bearer token -> who it authenticates
        self._tokens: dict[str, str] = {}  # user name -> the token its kubeconfig carries
        self.controllers = Controllers(self.api, self.types.storage, self.types.register_crd,
                                       self.types.unregister_crd)
        self.api.admit_create.append(self._admit)
        self.api.after_write.append(self.controllers.after_write)
        self.api.after_delete.append(self.controllers.after_delete)
        subresources = Subresources(self.api, self.issuer, [issuer])
        self._app = KubeApp(self.api, self.types, self.issuer, server_version, subresources, self._review_status)
        self.conformance = ResponseConformance()
        self.server = SimServer(self._authenticated, fault_body=_fault_body, tls=True, name="kubesim")
        self._bootstrap()

    # -- lifecycle
    def start(self) -> KubeSim:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> KubeSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def faults(self) -> FaultInjector:
        return self.server.faults

    @property
    def clock(self) -> Clock:
        return self.store.clock

    # -- how clients connect
    def add_user(self, name: str, groups: Sequence[str] = ()) -> str:
        """A bearer token for `name`, whose requests RBAC authorizes against the stored Roles and bindings.

        The user is in `groups` plus `system:authenticated` (and, for a `system:serviceaccount:<ns>:<name>`
        name, `system:serviceaccounts` and `system:serviceaccounts:<ns>`), as an authenticator would say;
        `system:masters` makes it a superuser like the admin. Each call issues another token; `kubeconfig`,
        `write_kubeconfig` and `api_client` with `user=name` use the latest.
        """
        token = f"kubesim-user-{secrets.token_urlsafe(16)}"
        self._users[token] = authz.authenticated_user(name, groups)
        self._tokens[name] = token
        return token

    def kubeconfig(self, context: str = "kubesim", user: str | None = None) -> dict[str, Any]:
        """The admin's kubeconfig, or `user`'s (one added with `add_user`)."""
        if user is not None and user not in self._tokens:
            raise KeyError(f"kubesim has no user {user!r}: add it with add_user() first")
        entry, token = (f"{context}-admin", self.token) if user is None else (f"{context}-{user}", self._tokens[user])
        return {
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": context, "cluster": {"server": self.url,
                                                       "certificate-authority": str(authority().ca_path)}}],
            "users": [{"name": entry, "user": {"token": token}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": entry}}],
        }

    def write_kubeconfig(self, path: Path, context: str = "kubesim", user: str | None = None) -> Path:
        path.write_text(yaml.safe_dump(self.kubeconfig(context, user)), encoding="utf-8")
        return path

    def api_client(self, user: str | None = None) -> Any:
        from kubernetes import client, config

        configuration = client.Configuration()
        loader = config.kube_config.KubeConfigLoader(config_dict=self.kubeconfig(user=user))
        loader.load_and_set(configuration)
        return client.ApiClient(configuration)

    # -- what a real cluster offers no API for
    def write_log(self, namespace: str, pod: str, container: str, lines: list[str], at: float | None = None) -> None:
        """Lines a container printed (the kubelet's side of `pods/log`)."""
        when = self.store.clock.now() if at is None else at
        with self.store.lock:
            self.store.logs.setdefault((namespace, pod, container), []).extend(LogLine(when, t) for t in lines)

    def preload(self, objects: list[dict[str, Any]]) -> None:
        """Store `objects` as a recorded cluster state (e.g. a ClusterState or a bundle), as they are.

        A real cluster's state is the product of its history (webhook mutations at pod creation, controllers,
        timestamps), which cannot be replayed through the API, so this bypasses it: no admission (the
        ServiceAccount plugin and the Workload Identity webhook do not touch a preloaded Pod), no schema
        validation, defaulting or pruning, and `status` is kept. The server's own fields are added as on any
        object (`uid` and `creationTimestamp` when absent, a `resourceVersion` from the global counter);
        namespaces need not exist. CustomResourceDefinitions are stored first and register their kinds at
        once, whatever their place in the list, so their instances can follow; their status is kept as given.

        Controllers are not told: they react only to `ObjectApi.after_write`/`after_delete` hooks, which a
        preload never calls, so a preloaded Deployment gets no ReplicaSet or pods and a preloaded namespace no
        `default` ServiceAccount. Later API writes behave as on a real cluster: writing a preloaded object makes
        its controller reconcile it, deleting one garbage-collects objects whose ownerReferences carry its uid,
        and any write makes the replicaset controller retry ReplicaSets with a `ReplicaFailure` condition,
        preloaded ones included.

        Raises ValueError for an apiVersion/kind the server does not serve (or serves at another version).
        """
        crds = [obj for obj in objects if _is_crd(obj)]
        with self.store.lock:
            for crd in crds:
                self.types.register_crd(self.api.record(self._served(crd), crd))
            for obj in objects:
                if not _is_crd(obj):
                    self.api.record(self._served(obj), obj)

    def compact(self) -> None:
        """Like an etcd compaction: continue tokens issued so far now answer 410 Expired."""
        with self.store.lock:
            self.store.compacted = self.store.revision + 1

    def resource(self, group: str, plural: str) -> ResourceType:
        return self.types.storage(group, plural)

    # -- internals
    def _authenticated(self, request: Request) -> Response:
        public = request.path in ("/.well-known/openid-configuration", "/openid/v1/jwks", "/healthz", "/readyz",
                                  "/livez", "/version")
        user = self._user_of(request)
        if user is None and not public:
            return Response(401, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
        denied = None if user is None else self._denial(user, request)
        response = Response(403, denied.status()) if denied is not None else self._app(request)
        self.conformance.check(request.method, request.path, response.body)
        return response

    def _user_of(self, request: Request) -> authz.User | None:
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        return self._users.get(token) if scheme.lower() == "bearer" else None

    def _denial(self, user: authz.User, request: Request) -> ApiError | None:
        """Authorization comes before routing, as upstream: a denied user cannot even learn what does not exist."""
        if user.privileged:
            return None
        attributes = authz.request_attributes(user, request.method, request.path, request.query)
        with self.store.lock:
            allowed, reason = authz.authorize(self._policy(), attributes)
        return None if allowed else authz.forbidden(attributes, reason)

    def _review_status(self, request: Request, plural: str, spec: dict[str, Any]) -> dict[str, Any]:
        caller = self._user_of(request)
        assert caller is not None, "reviews are not public paths, so the request was authenticated"
        with self.store.lock:
            return authz.review_status(self._policy(), caller, plural, spec)

    def _policy(self) -> authz.Policy:
        return authz.Policy(*(self._list("rbac.authorization.k8s.io", plural, None)
                              for plural in ("roles", "clusterroles", "rolebindings", "clusterrolebindings")))

    @property
    def spec_violations(self) -> list[str]:
        """Responses that did not match the official OpenAPI definitions (should stay empty)."""
        return list(self.conformance.violations)

    def _admit(self, rtype: ResourceType, obj: dict[str, Any], _: dict[str, Any] | None) -> None:
        if (rtype.group, rtype.plural) != ("", "pods"):
            return
        namespace = obj["metadata"]["namespace"]
        obj.setdefault("spec", {})
        service_account_admission(obj, namespace, self._find)
        workload_identity_webhook(obj, namespace, self._find, self._list)
        obj["spec"].setdefault("nodeName", NODE_NAME)

    def _find(self, group: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.store.get(self.types.storage(group, plural), namespace, name)

    def _list(self, group: str, plural: str, namespace: str | None) -> list[dict[str, Any]]:
        return [obj for _, obj in self.store.items(self.types.storage(group, plural), namespace)]

    def _served(self, obj: dict[str, Any]) -> ResourceType:
        """The served resource of an object's apiVersion and kind."""
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        kind = obj.get("kind")
        served = [t for t in self.types.all() if t.group == group and t.kind == kind]
        for rtype in served:
            if rtype.version == version:
                return rtype
        other = f" (served as {served[0].api_version})" if served else ""
        raise ValueError(f"kubesim does not serve {obj.get('apiVersion')} {kind}{other}: "
                         f"{obj.get('metadata', {}).get('name')}")

    def _bootstrap(self) -> None:
        from tests.kit.kubesim.objects import WriteOptions

        namespaces = self.types.storage("", "namespaces")
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.api.create(namespaces, "", {"metadata": {"name": name}}, WriteOptions(manager="kube-apiserver"))


def _is_crd(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "CustomResourceDefinition" and \
        str(obj.get("apiVersion", "")).startswith("apiextensions.k8s.io/")


def _fault_body(code: int, message: str) -> Response:
    return Response(code, status_for_fault(code, message))
