"""Read what Azure knows about KEDA's identities: the identities themselves, their federated credentials and
role assignments (custom role definitions too), the AKS cluster, and the resources the triggers read.

ARM is asked per distinct identity, subscription and cluster, concurrently on a bounded pool and never twice
for the same thing: a FIC list and one role-assignment list per subscription for each identity, one GET or a
shared list for the cluster, shared per-subscription lists for everything else. A failed call never raises;
it becomes a Gap naming the Azure role that would have let us read (see azure_failures).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError

from bot.diagnosis.facts import BUILTIN_ROLES
from bot.live.azure_failures import SUBSCRIPTIONS_TYPE, reader_on, sign_in_gap
from bot.live.azure_http import ARM_SCOPE, PUBLIC_ARM, ArmSession, ArmSettings, SharedToken
from bot.live.azure_run import AzureRun, Need, Progress
from bot.live.azure_select import (
    T_AKS,
    T_FIC,
    T_IDENTITY,
    T_RA,
    T_RD,
    IdentityFilter,
    cluster_clues,
    parse_resource,
    pick_cluster,
    properties,
    subscriptions_in_play,
)
from bot.live.azure_targets import submit_target_lists
from bot.live.azure_wire import to_wire
from bot.live.collection import AzureResult, AzureWants
from bot.snapshot.model import id_segments

_SUBSCRIPTIONS_API = "2022-12-01"
_TARGET_STEMS = ("servicebus", "eventhubs", "storage", "keyvaults")
_AKS_HINT = "name the cluster explicitly: --aks RESOURCE_ID (Azure role Reader on the cluster is enough)"


def collect_azure(credential: TokenCredential, wants: AzureWants, *, subscriptions: Iterable[str] = (),
                  aks_resource_id: str | None = None, base_url: str | None = None,
                  connection_verify: str | bool | None = None, workers: int = 8, attempts: int = 4,
                  progress: Progress | None = None, backoff: float = 0.8, connect_timeout: float = 10.0,
                  read_timeout: float = 60.0) -> AzureResult:
    """Everything `wants` asks about, as ARM wire JSON by bundle stem, with a Gap for what could not be read.

    `attempts` bounds every request (first try included; 429s wait for their Retry-After, other failures
    back off exponentially from `backoff` seconds). `progress(done, total, label)` is called after each task.
    """
    shared = SharedToken(credential)
    try:
        shared.get_token(ARM_SCOPE)  # kept: every client of the run uses this one token
    except (AzureError, ValueError) as error:
        return AzureResult(gaps=[sign_in_gap(error)])
    settings = ArmSettings(base_url or PUBLIC_ARM, connection_verify, attempts, backoff, connect_timeout,
                           read_timeout)
    session = ArmSession(shared, settings)
    run = AzureRun(session, workers=workers, progress=progress)
    try:
        reader = _Reader(run, wants, aks_resource_id)
        in_play = reader.subscriptions([subscriptions] if isinstance(subscriptions, str) else list(subscriptions))
        if in_play:
            reader.start()
            run.pool.wait()
            # Identities holding a role on a target are read too (their credentials and roles): a role given
            # to the workload's identity, or to a recreated KEDA identity, is a likely cause.
            reader.keep_role_holders(run.resources())
            run.pool.wait()
            reader.settle_cluster()
        resources = run.resources()
        return AzureResult(tenant_id=reader.tenant_id or _tenant_of(resources.get("identities", ())),
                           subscriptions=tuple(in_play), cluster=reader.cluster, resources=resources,
                           collected=set(run.collected), gaps=list(run.gaps), requests=session.requests)
    finally:
        run.close()
        session.close()


def _tenant_of(identities: Iterable[Mapping[str, Any]]) -> str | None:
    return next((str(t) for i in identities if (t := properties(i).get("tenantId"))), None)


class _Reader:
    def __init__(self, run: AzureRun, wants: AzureWants, aks_resource_id: str | None) -> None:
        self.run = run
        self.session = run.session
        self.wants = wants
        self.aks_resource_id = aks_resource_id.strip() if aks_resource_id else None
        self.filter = IdentityFilter.of(wants)
        self.in_play: list[str] = []
        self.tenant_id: str | None = None
        self.cluster: str | None = None
        self._lock = threading.Lock()
        self._kept: set[str] = set()
        self._listed: list[dict[str, Any]] = []
        self._clusters: list[dict[str, Any]] = []
        self._cluster_lists_failed = False

    # -- subscriptions
    def subscriptions(self, explicit: list[str]) -> list[str]:
        """The subscriptions to read; when nothing names one, those the credential can see."""
        self.in_play = subscriptions_in_play(explicit, self.aks_resource_id, self.wants.subscription_hints)
        if not self.in_play:
            self.run.pool.submit("subscriptions", self._visible_subscriptions)
            self.run.pool.wait()
        return self.in_play

    def _visible_subscriptions(self) -> None:
        grant = ("Azure role Reader on the subscriptions holding KEDA's identities, its cluster and its targets "
                 "(Microsoft.Resources/subscriptions/read), or name them: --subscription ID")
        need = Need("the subscriptions the credential can see", grant, SUBSCRIPTIONS_TYPE)
        found = self.run.call("subscriptions", need, lambda: self.session.list_all("/subscriptions",
                                                                                   _SUBSCRIPTIONS_API))
        if found is None:
            return
        usable = [s for s in found if str(s.get("state", "Enabled")).lower() not in ("disabled", "deleted")]
        self.in_play = [str(s["subscriptionId"]) for s in usable if s.get("subscriptionId")]
        self.tenant_id = next((str(s["tenantId"]) for s in usable if s.get("tenantId")), None)
        if not self.in_play:
            self.run.gap(need, "the credential sees no enabled subscription")

    # -- the plan
    def start(self) -> None:
        pool = self.run.pool
        for sub in self.in_play:
            # Listed even when KEDA names no identity (its ServiceAccount lost the annotation): the identity
            # holding a role on a target is then the only way to name the clientId that is missing.
            if self.filter.wanted or self.wants.sb_namespaces or self.wants.eh_namespaces \
                    or self.wants.storage_accounts or self.wants.key_vaults:
                pool.submit(f"identities in {sub}", self._identities, sub)
            submit_target_lists(self.run, self.wants, sub)
        if self.aks_resource_id:
            pool.submit("AKS cluster", self._cluster_by_id, self.aks_resource_id)
        elif cluster_clues(self.wants.kube_issuer, self.wants.kube_server):
            for sub in self.in_play:
                pool.submit(f"AKS clusters in {sub}", self._clusters_in, sub)
        else:
            self.run.gap(Need("the AKS cluster of this kube context", _AKS_HINT, T_AKS),
                         "neither the cluster's OIDC issuer nor its API server address is known")

    # -- identities
    def _identities(self, sub: str) -> None:
        need = Need(f"user-assigned managed identities in subscription {sub}",
                    reader_on(f"subscription {sub}", f"{T_IDENTITY}/read"), T_IDENTITY)
        found = self.run.call(("identities", sub.lower()), need, lambda: [
            to_wire(i) for i in self.session.identities(sub).user_assigned_identities.list_by_subscription()])
        if found is None:
            # Listing is denied, but an identity named by its resource id may still be readable by itself.
            for ref in self.filter.resource_ids(sub):
                self.run.pool.submit(f"identity {ref.rsplit('/', 1)[-1]}", self._identity_by_id, ref)
            return
        # The identity set is known: what the identities' lists find (or do not) is the whole story.
        self.run.mark_collected(T_IDENTITY, T_FIC, T_RA, T_RD)
        with self._lock:
            self._listed += found
        for identity in found:
            if self.filter.matches(identity):
                self._keep(identity)

    def keep_role_holders(self, resources: Mapping[str, list[dict[str, Any]]]) -> None:
        """Identities given a role on a target itself (or below it). Roles inherited from a resource group or
        the subscription are kept as assignments, but their holders (admins, pipelines) are not KEDA's."""
        targets = [str(r.get("id", "")).rstrip("/").lower() for stem in _TARGET_STEMS for r in resources.get(stem, ())]
        holders: set[str] = set()
        for assignment in resources.get("role-assignments", ()):
            scope = str(properties(assignment).get("scope") or "").rstrip("/").lower()
            if any(t and (scope == t or scope.startswith(t + "/")) for t in targets):
                holders.add(str(properties(assignment).get("principalId") or "").lower())
        for identity in self._listed:
            if str(properties(identity).get("principalId") or "").lower() in holders - {""}:
                self._keep(identity)

    def _identity_by_id(self, identity_id: str) -> None:
        parsed = parse_resource(identity_id, T_IDENTITY)
        assert parsed is not None  # resource_ids() only yields identity ids
        sub, group, name = parsed
        need = Need(f"managed identity {identity_id}", reader_on(f"identity {identity_id}", f"{T_IDENTITY}/read"),
                    T_IDENTITY, identity_id)
        found = self.run.call(("identity", identity_id.lower()), need, lambda: to_wire(
            self.session.identities(sub).user_assigned_identities.get(group, name)))
        if found is not None:
            self._keep(found)

    def _keep(self, identity: dict[str, Any]) -> None:
        identity_id = str(identity.get("id", "")).rstrip("/")
        with self._lock:
            if not identity_id or identity_id.lower() in self._kept:
                return
            self._kept.add(identity_id.lower())
        self.run.add("identities", [identity])
        name = str(identity.get("name", identity_id.rsplit("/", 1)[-1]))
        self.run.pool.submit(f"federated credentials of {name}", self._fics, identity_id, name)
        principal = str(properties(identity).get("principalId") or "")
        if principal:
            for sub in self.in_play:
                self.run.pool.submit(f"role assignments of {name} in {sub}", self._role_assignments, principal,
                                     name, sub)

    def _fics(self, identity_id: str, name: str) -> None:
        where = id_segments(identity_id)
        sub, group = where.get("subscriptions", ""), where.get("resourcegroups", "")
        need = Need(f"federated identity credentials of identity {name}",
                    reader_on(f"identity {identity_id}", f"{T_FIC}/read"), T_FIC, identity_id)
        found = self.run.call(("fics", identity_id.lower()), need, lambda: [
            to_wire(f) for f in self.session.identities(sub).federated_identity_credentials.list(group, name)])
        if found is not None:
            self.run.add("federated-credentials", found)
            self.run.mark_collected(T_FIC)

    # -- role assignments and custom role definitions
    def _role_assignments(self, principal: str, name: str, sub: str) -> None:
        need = Need(f"role assignments of identity {name} (principal {principal}) in subscription {sub}",
                    reader_on(f"subscription {sub}", f"{T_RA}/read"), T_RA, principal)
        # assignedTo() at subscription scope: assignments there, inherited from above, and on every child scope.
        found = self.run.call(("assignments", principal.lower(), sub.lower()), need, lambda: [
            to_wire(a) for a in self.session.authorization(sub).role_assignments.list_for_subscription(
                filter=f"assignedTo('{principal}')")])
        if found is None:
            return
        self.run.add("role-assignments", found)
        self.run.mark_collected(T_RA, T_RD)
        for assignment in found:
            role_id = str(properties(assignment).get("roleDefinitionId") or "")
            guid = role_id.rstrip("/").rsplit("/", 1)[-1].lower()
            if guid and guid not in BUILTIN_ROLES:
                self.run.pool.submit(f"role definition {guid}", self._role_definition, role_id, guid, sub)

    def _role_definition(self, role_id: str, guid: str, sub: str) -> None:
        scope = id_segments(role_id).get("subscriptions", sub)
        need = Need(f"custom role definition {guid}",
                    reader_on(f"subscription {scope}", f"{T_RD}/read"), T_RD, guid)
        found = self.run.call(("role", guid), need, lambda: to_wire(
            self.session.authorization(scope).role_definitions.get_by_id(role_id)))
        if found is not None:
            self.run.add("role-definitions", [found])

    # -- the AKS cluster
    def _cluster_by_id(self, cluster_id: str) -> None:
        need = Need(f"AKS cluster {cluster_id}", reader_on(f"AKS cluster {cluster_id}", f"{T_AKS}/read"), T_AKS)
        parsed = parse_resource(cluster_id, T_AKS)
        if parsed is None:
            self.run.gap(need, "not an AKS resource id: expected /subscriptions/SUB/resourceGroups/RG/providers/"
                               "Microsoft.ContainerService/managedClusters/NAME")
            return
        sub, group, name = parsed
        found = self.run.call(("cluster", cluster_id.lower()), need, lambda: to_wire(
            self.session.containers(sub).managed_clusters.get(group, name)))
        if found is not None:
            with self._lock:
                self._clusters.append(found)

    def _clusters_in(self, sub: str) -> None:
        need = Need(f"AKS clusters in subscription {sub}",
                    reader_on(f"subscription {sub}", f"{T_AKS}/read") + f", or {_AKS_HINT}", T_AKS)
        found = self.run.call(("clusters", sub.lower()), need, lambda: [
            to_wire(c) for c in self.session.containers(sub).managed_clusters.list()])
        with self._lock:
            if found is None:
                self._cluster_lists_failed = True
            else:
                self._clusters += found

    def settle_cluster(self) -> None:
        """Keep only the cluster behind the kube context; the others are not this bundle's business."""
        wants = self.wants
        chosen: Mapping[str, Any] | None
        if self.aks_resource_id:
            chosen = self._clusters[0] if self._clusters else None  # its failure is already a gap
        else:
            chosen = pick_cluster(self._clusters, wants.kube_issuer, wants.kube_server)
            clues = cluster_clues(wants.kube_issuer, wants.kube_server)
            if chosen is None and clues and not self._cluster_lists_failed:
                self.run.gap(Need("the AKS cluster of this kube context", _AKS_HINT, T_AKS),
                             f"no AKS cluster in subscriptions {', '.join(self.in_play)} has {clues}")
        if chosen is not None:
            self.run.add("aks", [dict(chosen)])
            self.run.mark_collected(T_AKS)
            self.cluster = str(chosen.get("name") or "") or None
