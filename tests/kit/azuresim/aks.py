"""Microsoft.ContainerService/managedClusters, answered as AKS does: PUT returns 201/200 with
provisioningState Creating/Updating and an Azure-AsyncOperation URL, the operation reports Succeeded,
and the poller's final GET shows Succeeded. `ContainerServiceClient...begin_create_or_update` therefore
completes through the real LRO poller. Enabling the OIDC issuer mints a stable
`https://<region>.oic.prod-aks.azure.com/<tenant>/<uuid>/` issuer URL for the cluster.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from typing import Any

from tests.kit.azuresim.clock import arm_time
from tests.kit.azuresim.errors import ArmError
from tests.kit.azuresim.ids import ResourceId
from tests.kit.azuresim.kinds import Kind
from tests.kit.azuresim.spec import AKS_GET_EXAMPLE, Schema
from tests.kit.azuresim.store import Resource
from tests.kit.azuresim.world import ArmResponse, Ctx

AKS_VERSIONS = ("2024-09-01", "2025-01-01", "2025-05-01", "2025-10-01", "2026-01-01", "2026-05-01", "2026-07-01",
                "2026-08-01")
DEFAULT_KUBERNETES = "1.33.5"


def region(location: str) -> str:
    return location.replace(" ", "").lower()


def _default_pool() -> dict[str, Any]:
    return {"name": "nodepool1", "count": 3, "vmSize": "Standard_D4ds_v5", "mode": "System", "osType": "Linux"}


class ClusterKind(Kind):
    type = "Microsoft.ContainerService/managedClusters"
    api_versions = AKS_VERSIONS
    tracked = True
    schema = Schema(example=AKS_GET_EXAMPLE)

    def properties(self, ctx: Ctx, rid: ResourceId, given: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        props: dict[str, Any] = copy.deepcopy(existing.body["properties"]) if existing else self._defaults(ctx, rid)
        for key, value in given.items():
            if key not in ("provisioningState", "fqdn", "azurePortalFQDN", "currentKubernetesVersion"):
                props[key] = copy.deepcopy(value)
        version = str(props.get("kubernetesVersion") or DEFAULT_KUBERNETES)
        props["kubernetesVersion"] = version
        props["currentKubernetesVersion"] = version if version.count(".") == 2 else f"{version}.5"
        for pool in props.get("agentPoolProfiles") or []:
            pool.setdefault("orchestratorVersion", props["currentKubernetesVersion"])
            pool["currentOrchestratorVersion"] = pool["orchestratorVersion"]
            pool["provisioningState"] = "Succeeded"
        self._oidc(ctx, rid, props, existing)
        props["provisioningState"] = "Succeeded"
        return props

    def _defaults(self, ctx: Ctx, rid: ResourceId) -> dict[str, Any]:
        location = region(str(ctx.json_body().get("location", "")))
        prefix = f"{rid.name}-{rid.resource_group}-{rid.subscription[:6]}"[:54]
        suffix = secrets.token_hex(4)
        return {
            "dnsPrefix": prefix, "fqdn": f"{prefix}-{suffix}.hcp.{location}.azmk8s.io",
            "azurePortalFQDN": f"{prefix}-{suffix}.portal.hcp.{location}.azmk8s.io",
            "agentPoolProfiles": [_default_pool()], "enableRBAC": True, "maxAgentPools": 100,
            "nodeResourceGroup": f"MC_{rid.resource_group}_{rid.name}_{location}",
            "networkProfile": {"networkPlugin": "azure", "networkPluginMode": "overlay", "podCidr": "10.244.0.0/16",
                               "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10",
                               "outboundType": "loadBalancer", "loadBalancerSku": "standard",
                               "ipFamilies": ["IPv4"]},
            "servicePrincipalProfile": {"clientId": "msi"},
        }

    def _oidc(self, ctx: Ctx, rid: ResourceId, props: dict[str, Any], existing: Resource | None) -> None:
        wanted = bool((props.get("oidcIssuerProfile") or {}).get("enabled"))
        before = (existing.body["properties"].get("oidcIssuerProfile") or {}) if existing else {}
        if before.get("enabled") and not wanted:
            raise ArmError(400, "OIDCIssuerFeatureCannotBeDisabled",
                           "OIDC issuer feature cannot be disabled once it has been enabled.")
        if not wanted:
            props["oidcIssuerProfile"] = {"enabled": False}
            return
        issuer = before.get("issuerURL")
        if not issuer:
            tenant = ctx.subscription(rid.subscription).tenant_id
            location = region(str(existing.body["location"] if existing else ctx.json_body().get("location", "")))
            issuer = f"https://{location}.oic.prod-aks.azure.com/{tenant}/{uuid.uuid4()}/"
        props["oidcIssuerProfile"] = {"enabled": True, "issuerURL": issuer}

    def extra(self, ctx: Ctx, rid: ResourceId, body: dict[str, Any], existing: Resource | None) -> dict[str, Any]:
        extra: dict[str, Any] = {"eTag": secrets.token_hex(8), "sku": body.get("sku") or {"name": "Base",
                                                                                            "tier": "Free"}}
        identity = body.get("identity") or (existing.body.get("identity") if existing else None)
        if identity and str(identity.get("type", "")).lower() == "systemassigned":
            identity = {**identity, "principalId": identity.get("principalId") or str(uuid.uuid4()),
                        "tenantId": ctx.subscription(rid.subscription).tenant_id}
        if identity:
            extra["identity"] = identity
        return extra

    def view(self, ctx: Ctx, resource: Resource) -> dict[str, Any]:
        body = ctx.store.snapshot(resource)
        op = ctx.store.operations.get(str(resource.state.get("operation", "")).lower())
        if op is not None and ctx.now < op.done_at:
            body["properties"]["provisioningState"] = resource.state.get("pending", "Creating")
        return body

    def put_response(self, ctx: Ctx, resource: Resource, created: bool) -> ArmResponse:
        if ctx.world.settings.lro_seconds <= 0:
            return super().put_response(ctx, resource, created)
        op = ctx.store.add_operation(resource.id, ctx.now, ctx.world.settings.lro_seconds)
        resource.state.update(operation=op.id, pending="Creating" if created else "Updating")
        body = ctx.store.snapshot(resource)
        body["properties"]["provisioningState"] = resource.state["pending"]
        return ArmResponse(201 if created else 200, body, self._lro_headers(ctx, resource, op.id), self.schema)

    def delete_response(self, ctx: Ctx, resource: Resource | None) -> ArmResponse:
        if resource is None:
            return ArmResponse(204)
        op = ctx.store.add_operation(resource.id, ctx.now, 0.0)
        headers = self._lro_headers(ctx, resource, op.id)
        headers["Location"] = headers["Azure-AsyncOperation"].replace("/operations/", "/operationresults/")
        return ArmResponse(202, None, headers)

    def _lro_headers(self, ctx: Ctx, resource: Resource, op_id: str) -> dict[str, str]:
        sub = resource.id.split("/")[2]
        location = region(str(resource.body.get("location", "")))
        url = (f"{ctx.world.arm_url}/subscriptions/{sub}/providers/Microsoft.ContainerService/locations/{location}"
               f"/operations/{op_id}?api-version={ctx.api_version}")
        return {"Azure-AsyncOperation": url, "Retry-After": str(ctx.world.settings.lro_retry_after)}


def operation_status(ctx: Ctx, subscription: str, op_id: str, results: bool) -> ArmResponse:
    """GET .../locations/{loc}/operations/{id} (status JSON) or .../operationresults/{id} (Location polling)."""
    ctx.subscription(subscription)
    op = ctx.store.operations.get(op_id.lower())
    if op is None:
        raise ArmError(404, "NotFound", f"Operation '{op_id}' was not found.")
    done = ctx.now >= op.done_at
    if results:
        return ArmResponse(204 if done else 202, None, {} if done else {"Retry-After": "1"})
    body: dict[str, Any] = {"name": op.id, "status": "Succeeded" if done else "InProgress",
                            "startTime": arm_time(op.started)}
    if done:
        body["endTime"] = arm_time(op.done_at)
    return ArmResponse(200, body)
