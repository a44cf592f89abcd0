"""RBAC authorization as a kube-apiserver with `--authorization-mode=Node,RBAC` decides it.

Pure functions over the stored rbac.authorization.k8s.io/v1 objects, following upstream closely so that
decisions and wording match a real cluster: request attributes as k8s.io/apiserver's RequestInfoFactory
derives them, the system:masters authorizer ahead of RBAC, the RBAC rule resolver (ClusterRoleBindings, then
RoleBindings of the request's namespace; rules, `*`, `*/subresource`, resourceNames, nonResourceURLs), the
`Forbidden` Status of responsewriters.Forbidden, and the answers of the access and rules reviews.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.kit.kubesim.errors import ApiError

MASTERS = "system:masters"
AUTHENTICATED = "system:authenticated"
_RBAC = "rbac.authorization.k8s.io"
_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool, which decodes `watch`

Rule = Mapping[str, Any]


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()

    @property
    def privileged(self) -> bool:
        """kube-apiserver allows system:masters before RBAC is consulted, whatever the bindings say."""
        return MASTERS in self.groups


def authenticated_user(name: str, groups: Sequence[str] = ()) -> User:
    """The user as an authenticator hands it on: a ServiceAccount's groups, then system:authenticated."""
    extra = [AUTHENTICATED]
    parts = name.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        extra[:0] = ["system:serviceaccounts", f"system:serviceaccounts:{parts[2]}"]
    return User(name, tuple(dict.fromkeys([*groups, *extra])))


ADMIN = authenticated_user("kubernetes-admin", [MASTERS])


@dataclass(frozen=True)
class Attributes:
    user: User
    verb: str
    path: str = ""
    resource_request: bool = False
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


@dataclass(frozen=True)
class Policy:
    """The stored RBAC objects (all namespaces)."""
    roles: Sequence[Mapping[str, Any]] = ()
    cluster_roles: Sequence[Mapping[str, Any]] = ()
    role_bindings: Sequence[Mapping[str, Any]] = ()
    cluster_role_bindings: Sequence[Mapping[str, Any]] = ()


def request_attributes(user: User, method: str, path: str, query: Mapping[str, list[str]]) -> Attributes:
    """What the authorizer is asked about a request, derived from its URL alone (before routing, as upstream)."""
    parts = [p for p in path.split("/") if p]
    non_resource = Attributes(user, method.lower(), path)
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return non_resource
    rest, group = parts[1:], ""
    if parts[0] == "apis":
        if len(rest) < 3:  # /apis/<group>/<version> is discovery, not a resource
            return non_resource
        group, rest = rest[0], rest[1:]
    rest = rest[1:]
    if rest[0] in ("watch", "proxy"):
        if len(rest) < 2:
            return non_resource
        verb, rest = rest[0], rest[1:]
    else:
        verb = _VERBS.get(method.upper(), "")
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 and verb != "proxy" else ""
    if not name and verb == "get":
        verb = "watch" if (query.get("watch") or [""])[-1] in _TRUE else "list"
        name = _selected_name((query.get("fieldSelector") or [""])[-1])
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(user, verb, path, True, group, rest[0], sub, namespace, name)


def _selected_name(selector: str) -> str:
    """A `metadata.name=x` field selector names the object, so a resourceNames rule can allow that list/watch."""
    for term in selector.split(","):
        if "!=" in term:
            continue
        key, sep, value = term.partition("==") if "==" in term else term.partition("=")
        if sep and key.strip() == "metadata.name" and value not in ("", ".", "..") and not set(value) & {"/", "%"}:
            return value
    return ""


# -- the default policy every cluster bootstraps; applied here without being stored as objects
def _cluster_role(name: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "rules": list(rules)}


def _get_urls(*urls: str) -> dict[str, Any]:
    return {"verbs": ["get"], "nonResourceURLs": list(urls)}


_BOOTSTRAP_ROLES = [
    _cluster_role("cluster-admin", {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                  {"verbs": ["*"], "nonResourceURLs": ["*"]}),
    _cluster_role("system:basic-user",
                  {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                   "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
                  {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]}),
    _cluster_role("system:discovery", _get_urls("/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                                                "/openapi", "/openapi/*", "/readyz", "/version", "/version/")),
    _cluster_role("system:public-info-viewer", _get_urls("/healthz", "/livez", "/readyz", "/version", "/version/")),
    _cluster_role("system:service-account-issuer-discovery",
                  _get_urls("/.well-known/openid-configuration", "/.well-known/openid-configuration/",
                            "/openid/v1/jwks", "/openid/v1/jwks/")),
]
_BOOTSTRAP_BINDINGS = [
    {"metadata": {"name": name}, "roleRef": {"apiGroup": _RBAC, "kind": "ClusterRole", "name": name},
     "subjects": [{"apiGroup": _RBAC, "kind": "Group", "name": g} for g in groups]}
    for name, groups in [("cluster-admin", [MASTERS]), ("system:basic-user", [AUTHENTICATED]),
                         ("system:discovery", [AUTHENTICATED]),
                         ("system:public-info-viewer", [AUTHENTICATED, "system:unauthenticated"]),
                         ("system:service-account-issuer-discovery", ["system:serviceaccounts"])]
]


# -- resolving which rules apply (upstream's DefaultRuleResolver.VisitRulesFor)
def _grants(policy: Policy, user: User, namespace: str) -> Iterator[tuple[str, list[Rule], str]]:
    """(the binding as upstream describes it, its role's rules, the error resolving that role) per applying binding."""
    for binding in [*_BOOTSTRAP_BINDINGS, *policy.cluster_role_bindings]:
        subject = _subject_for(user, binding, "")
        if subject is not None:
            rules, error = _role_rules(policy, binding.get("roleRef") or {}, "")
            yield _describe("ClusterRoleBinding", binding, subject, ""), rules, error
    if not namespace:
        return
    for binding in policy.role_bindings:
        if binding["metadata"].get("namespace") != namespace:
            continue
        subject = _subject_for(user, binding, namespace)
        if subject is not None:
            rules, error = _role_rules(policy, binding.get("roleRef") or {}, namespace)
            yield _describe("RoleBinding", binding, subject, namespace), rules, error


def _subject_for(user: User, binding: Mapping[str, Any], namespace: str) -> Mapping[str, Any] | None:
    subjects: list[Mapping[str, Any]] = binding.get("subjects") or []
    for subject in subjects:
        kind, name = subject.get("kind"), subject.get("name")
        if kind == "User" and name == user.name:
            return subject
        if kind == "Group" and name in user.groups:
            return subject
        sa_namespace = subject.get("namespace") or namespace  # an unqualified ServiceAccount is the binding's own
        if kind == "ServiceAccount" and sa_namespace and user.name == f"system:serviceaccount:{sa_namespace}:{name}":
            return subject
    return None


def _role_rules(policy: Policy, ref: Mapping[str, Any], namespace: str) -> tuple[list[Rule], str]:
    kind, name = ref.get("kind"), str(ref.get("name", ""))
    if kind == "Role":
        found = [r for r in policy.roles if r["metadata"].get("namespace") == namespace
                 and r["metadata"].get("name") == name]
    elif kind == "ClusterRole":
        found = [r for r in [*policy.cluster_roles, *_BOOTSTRAP_ROLES] if r["metadata"].get("name") == name]
    else:
        return [], f"unsupported role reference kind: {_q(str(kind))}"
    if not found:  # the lister's NotFound, as the RBAC authorizer reports it
        return [], f"{str(kind).lower()}.{_RBAC} {_q(name)} not found"
    return list(found[0].get("rules") or []), ""


def _describe(kind: str, binding: Mapping[str, Any], subject: Mapping[str, Any], namespace: str) -> str:
    name = binding["metadata"]["name"] + (f"/{namespace}" if namespace else "")
    who = subject.get("name", "")
    if subject.get("kind") == "ServiceAccount":
        who = f"{who}/{subject.get('namespace') or namespace}"
    ref = binding.get("roleRef") or {}
    return f"{kind} {_q(name)} of {ref.get('kind')} {_q(str(ref.get('name', '')))} to {subject.get('kind')} {_q(who)}"


def rule_allows(attrs: Attributes, rule: Rule) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if not attrs.resource_request:
        return any(url in ("*", attrs.path) or (url.endswith("*") and attrs.path.startswith(url.rstrip("*")))
                   for url in rule.get("nonResourceURLs") or [])
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attrs.group not in groups:
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    if not any(r in ("*", combined) or (attrs.subresource and r == f"*/{attrs.subresource}")
               for r in rule.get("resources") or []):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names  # a create or plain list has no name, so never matches resourceNames


def authorize(policy: Policy, attrs: Attributes) -> tuple[bool, str]:
    """(allowed, reason): RBAC never denies outright, it only finds no rule; a missing role shows in the reason."""
    if attrs.user.privileged:
        return True, ""
    errors: list[str] = []
    for source, rules, error in _grants(policy, attrs.user, attrs.namespace):
        if error:
            errors.append(error)
        if any(rule_allows(attrs, rule) for rule in rules):
            return True, f"RBAC: allowed by {source}"
    return False, f"RBAC: {_aggregate(errors)}" if errors else ""


def forbidden(attrs: Attributes, reason: str) -> ApiError:
    who = f"User {_q(attrs.user.name)} cannot {attrs.verb}"
    if not attrs.resource_request:
        message = f"{who} path {_q(attrs.path)}"
    else:
        resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        where = f"in the namespace {_q(attrs.namespace)}" if attrs.namespace else "at the cluster scope"
        message = f"{who} resource {_q(resource)} in API group {_q(attrs.group)} {where}"
    for raw, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        message = message.replace(raw, escaped)
    if reason:
        message = f"{message}: {reason}"
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    if not qualified:
        prefix = "forbidden"
    elif attrs.name:
        prefix = f"{qualified} {_q(attrs.name)} is forbidden"
    else:
        prefix = f"{qualified} is forbidden"
    details = {k: v for k, v in (("name", attrs.name), ("group", attrs.group), ("kind", attrs.resource)) if v}
    return ApiError(403, "Forbidden", f"{prefix}: {message}", details)


# -- the authorization API's reviews, answered by the same authorizer
def review_status(policy: Policy, caller: User, plural: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    if plural == "selfsubjectreviews":
        return {"userInfo": {"username": caller.name, "groups": list(caller.groups)}}
    if plural == "selfsubjectrulesreviews":
        if not spec.get("namespace"):
            raise ApiError.bad_request("no namespace on request")
        return rules_status(policy, caller, str(spec["namespace"]))
    # a SubjectAccessReview is about the user and groups it names, exactly (no system:authenticated added)
    user = caller if plural == "selfsubjectaccessreviews" else \
        User(str(spec.get("user", "")), tuple(spec.get("groups") or ()))
    allowed, reason = authorize(policy, review_attributes(user, spec))
    return {"allowed": allowed, "reason": reason} if reason else {"allowed": allowed}


def review_attributes(user: User, spec: Mapping[str, Any]) -> Attributes:
    resource = spec.get("resourceAttributes")
    if resource is None:
        other = spec.get("nonResourceAttributes") or {}
        return Attributes(user, str(other.get("verb", "")), str(other.get("path", "")))
    def text(key: str) -> str:
        return str(resource.get(key) or "")

    return Attributes(user, text("verb"), "", True, text("group"), text("resource"), text("subresource"),
                      text("namespace"), text("name"))


def rules_status(policy: Policy, user: User, namespace: str) -> dict[str, Any]:
    resource_rules: list[dict[str, Any]] = []
    non_resource_rules: list[dict[str, Any]] = []
    errors: list[str] = []
    for _, rules, error in _grants(policy, user, namespace):
        if error:
            errors.append(error)
        for rule in rules:
            verbs = list(rule.get("verbs") or [])
            if rule.get("resources"):
                resource_rules.append({"verbs": verbs, **{k: list(rule[k]) for k in ("apiGroups", "resources",
                                                                                      "resourceNames") if rule.get(k)}})
            if rule.get("nonResourceURLs"):
                non_resource_rules.append({"verbs": verbs, "nonResourceURLs": list(rule["nonResourceURLs"])})
    status: dict[str, Any] = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                              "incomplete": False}
    if errors:
        status["evaluationError"] = _aggregate(errors)
    return status


def _aggregate(errors: list[str]) -> str:
    """utilerrors.NewAggregate(...).Error(): duplicates once, several in brackets."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _q(text: str) -> str:
    """Go's %q for the names and paths that appear in messages."""
    return json.dumps(text, ensure_ascii=False)
