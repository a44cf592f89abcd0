"""The `deploy/` manifests as objects, and what their RBAC alone allows.

`Grants` decides a request as the API server's RBAC authorizer would, but from the manifests' Roles and bindings
only: the cluster's default bindings (system:basic-user, system:discovery, ...) are left out, so a request it
allows is allowed because the manifests say so, not because a cluster happens to grant it to everybody.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.kit.kubesim import authz

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
OPTIONAL = DEPLOY / "optional"
AKS_ADDON = DEPLOY / "components" / "aks-addon"
BOT_NAMESPACE = "keda-auth"
BOT_SERVICE_ACCOUNT = "keda-auth"
BOT_USER = f"system:serviceaccount:{BOT_NAMESPACE}:{BOT_SERVICE_ACCOUNT}"
KEDA_NAMESPACE = "keda"  # where the manifests put the Roles of KEDA's namespace (the Helm chart's)
OPERATOR = "keda-operator"
RBAC_GROUP = "rbac.authorization.k8s.io"
ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")

Obj = dict[str, Any]


def documents(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def kustomization() -> Obj:
    loaded: Obj = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text(encoding="utf-8"))
    return loaded


def base() -> list[Obj]:
    """Every object of the base, in the kustomization's order (what `kubectl apply -k deploy/` applies)."""
    return [doc for name in kustomization()["resources"] for doc in documents(DEPLOY / name)]


def optional() -> list[Obj]:
    return [doc for path in sorted(OPTIONAL.glob("*.yaml")) for doc in documents(path)]


def of_kind(objects: Iterable[Obj], *kinds: str) -> list[Obj]:
    return [obj for obj in objects if obj["kind"] in kinds]


def one(objects: Iterable[Obj], kind: str, name: str) -> Obj:
    (found,) = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    return found


def relocated(objects: Iterable[Obj], keda_namespace: str, operator: str = OPERATOR) -> list[Obj]:
    """Copies with KEDA's namespace and operator name as a given cluster has them (the AKS add-on's kube-system,
    a test's namespace): what an overlay of the base would change."""
    out = []
    for original in objects:
        obj = copy.deepcopy(original)
        if obj["metadata"].get("namespace") == KEDA_NAMESPACE:
            obj["metadata"]["namespace"] = keda_namespace
        for rule in obj.get("rules") or []:
            if rule.get("resourceNames"):
                rule["resourceNames"] = [operator if n == OPERATOR else n for n in rule["resourceNames"]]
        out.append(obj)
    return out


def rules(objects: Iterable[Obj]) -> Iterator[tuple[Obj, Mapping[str, Any]]]:
    """(role, rule) for every rule of every Role and ClusterRole."""
    for role in of_kind(objects, *ROLE_KINDS):
        for rule in role.get("rules") or []:
            yield role, rule


@dataclass(frozen=True)
class Atom:
    """One permission a rule grants: a verb on one resource (and one name), or on one non-resource URL."""
    verb: str
    group: str = ""
    resource: str = ""
    name: str = ""
    url: str = ""

    def covers(self, attrs: authz.Attributes) -> bool:
        if attrs.verb != self.verb:
            return False
        if self.url or not attrs.resource_request:
            return attrs.path == self.url and not attrs.resource_request
        resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        return (attrs.group, resource) == (self.group, self.resource) and self.name in ("", attrs.name)

    def __str__(self) -> str:
        if self.url:
            return f"{self.verb} {self.url}"
        named = f"/{self.name}" if self.name else ""
        return f"{self.verb} {self.resource}{named}" + (f".{self.group}" if self.group else "")


def atoms(rule: Mapping[str, Any]) -> list[Atom]:
    found = [Atom(verb, url=url) for verb in rule.get("verbs") or [] for url in rule.get("nonResourceURLs") or []]
    for verb in rule.get("verbs") or []:
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                found += [Atom(verb, group, resource, name) for name in rule.get("resourceNames") or [""]]
    return found


class Grants:
    """RBAC decisions by `objects` alone, for `user` (ServiceAccount, User and Group subjects)."""

    def __init__(self, objects: Sequence[Obj], user: authz.User) -> None:
        self.objects = list(objects)
        self.user = user

    def _role(self, ref: Mapping[str, Any], namespace: str) -> Obj | None:
        for role in of_kind(self.objects, str(ref.get("kind"))):
            meta = role["metadata"]
            if meta["name"] == ref.get("name") and (ref.get("kind") == "ClusterRole" or
                                                    meta.get("namespace") == namespace):
                return role
        return None

    def _bound(self, binding: Obj) -> bool:
        namespace = binding["metadata"].get("namespace", "")
        for subject in binding.get("subjects") or []:
            kind, name = subject.get("kind"), subject.get("name")
            if kind == "ServiceAccount" and \
                    self.user.name == f"system:serviceaccount:{subject.get('namespace') or namespace}:{name}":
                return True
            if (kind == "User" and name == self.user.name) or (kind == "Group" and name in self.user.groups):
                return True
        return False

    def rules_for(self, namespace: str) -> Iterator[tuple[Obj, Mapping[str, Any]]]:
        """(role, rule) of every rule that applies to the user for a request in `namespace` ("" = cluster)."""
        for binding in of_kind(self.objects, *BINDING_KINDS):
            scope = binding["metadata"].get("namespace", "") if binding["kind"] == "RoleBinding" else ""
            if (scope and scope != namespace) or not self._bound(binding):
                continue
            role = self._role(binding.get("roleRef") or {}, scope)
            for rule in (role or {}).get("rules") or []:
                yield role or {}, rule

    def allows(self, attrs: authz.Attributes) -> bool:
        return any(authz.rule_allows(attrs, rule) for _, rule in self.rules_for(attrs.namespace))

    def attributes(self, method: str, path: str, query: Mapping[str, list[str]]) -> authz.Attributes:
        return authz.request_attributes(self.user, method, path, query)

    def resource(self, verb: str, group: str, resource: str, namespace: str = "", name: str = "") -> bool:
        plural, _, sub = resource.partition("/")
        return self.allows(authz.Attributes(self.user, verb, "", True, group, plural, sub, namespace, name))


def bot_user() -> authz.User:
    """The bot's ServiceAccount as the API server authenticates it (its groups included)."""
    return authz.authenticated_user(BOT_USER)


def create(api_client: Any, objects: Iterable[Obj], **options: Any) -> list[Any]:
    """Create each object through the official client (`dry_run="All"` and `field_validation="Strict"` pass
    through to the typed create call), in order."""
    from kubernetes import utils

    return [utils.create_from_dict(api_client, copy.deepcopy(obj), **options) for obj in objects]
