"""Which Azure resources belong in the bundle: the identities KEDA presents, the cluster behind the kube
context, the subscriptions in play. Pure functions over ARM wire JSON and `AzureWants`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.live.collection import AzureWants

T_IDENTITY = "Microsoft.ManagedIdentity/userAssignedIdentities"
T_FIC = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
T_RA = "Microsoft.Authorization/roleAssignments"
T_RD = "Microsoft.Authorization/roleDefinitions"
T_AKS = "Microsoft.ContainerService/managedClusters"


def parse_resource(resource_id: str, provider_type: str) -> tuple[str, str, str] | None:
    """(subscription, resource group, name) of a resource id of `provider_type`
    (e.g. Microsoft.ContainerService/managedClusters), or None if it is not one."""
    parts = [p for p in resource_id.strip().split("/") if p]
    namespace, type_name = provider_type.split("/", 1)
    if len(parts) != 8 or [p.lower() for p in (parts[0], parts[2], parts[4])] != [
            "subscriptions", "resourcegroups", "providers"]:
        return None
    if (parts[5].lower(), parts[6].lower()) != (namespace.lower(), type_name.lower()):
        return None
    return parts[1], parts[3], parts[7]


def properties(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    props = resource.get("properties")
    return props if isinstance(props, Mapping) else {}


def _lower(value: Any) -> str:
    return str(value).strip().rstrip("/").lower() if value else ""


@dataclass(frozen=True)
class IdentityFilter:
    """Keeps only the identities KEDA presents: never dump a tenant's identities into a bundle."""

    client_ids: frozenset[str]
    refs: frozenset[str]  # clientId, principalId, name or resource id, lower-cased

    @staticmethod
    def of(wants: AzureWants) -> IdentityFilter:
        return IdentityFilter(frozenset(_lower(c) for c in wants.client_ids if c),
                              frozenset(_lower(r) for r in wants.identity_refs if r))

    @property
    def wanted(self) -> bool:
        return bool(self.client_ids or self.refs)

    def matches(self, identity: Mapping[str, Any]) -> bool:
        props = properties(identity)
        client = _lower(props.get("clientId"))
        if client and client in self.client_ids:
            return True
        keys = {client, _lower(props.get("principalId")), _lower(identity.get("name")), _lower(identity.get("id"))}
        return bool((keys - {""}) & self.refs)

    def resource_ids(self, subscription: str) -> list[str]:
        """The refs that are identity resource ids in `subscription`: readable one by one when listing the
        subscription's identities is not allowed."""
        return sorted(r for r in self.refs
                      if (parsed := parse_resource(r, T_IDENTITY)) and parsed[0] == subscription.lower())


def server_host(server: str | None) -> str:
    if not server:
        return ""
    host = urlsplit(server if "://" in server else f"https://{server}").hostname
    return (host or "").lower()


def cluster_clues(issuer: str | None, server: str | None) -> str:
    """What identifies the kube context's cluster, for people ("" when nothing does)."""
    clues = [f"OIDC issuer {issuer}" if issuer else "", f"API server host {server_host(server)}" if server else ""]
    return " or ".join(c for c in clues if c)


def pick_cluster(clusters: Iterable[Mapping[str, Any]], issuer: str | None,
                 server: str | None) -> Mapping[str, Any] | None:
    """The AKS cluster whose OIDC issuer is the kube context's (trailing slash aside), else the one serving
    its API server host; None if neither identifies one."""
    candidates = list(clusters)
    wanted_issuer = _lower(issuer)
    if wanted_issuer:
        for cluster in candidates:
            profile = properties(cluster).get("oidcIssuerProfile")
            if isinstance(profile, Mapping) and _lower(profile.get("issuerURL")) == wanted_issuer:
                return cluster
    host = server_host(server)
    if host:
        for cluster in candidates:
            props = properties(cluster)
            if host in {_lower(props.get(k)) for k in ("fqdn", "privateFQDN", "azurePortalFQDN")}:
                return cluster
    return None


def subscriptions_in_play(explicit: Iterable[str], aks_resource_id: str | None,
                          hints: Iterable[str]) -> list[str]:
    """Explicit subscriptions first, then the AKS cluster's, then those the cluster's objects name; each
    once (subscription ids are case-insensitive)."""
    found: dict[str, str] = {}
    aks = parse_resource(aks_resource_id, T_AKS) if aks_resource_id else None
    for sub in (*explicit, *([aks[0]] if aks else []), *sorted(hints)):
        if sub and sub.strip():
            found.setdefault(sub.strip().lower(), sub.strip())
    return list(found.values())
