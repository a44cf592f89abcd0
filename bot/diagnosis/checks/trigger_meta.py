"""What a trigger's metadata and authentication say, shared by the trigger, Service Bus and RBAC checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.diagnosis import facts
from bot.diagnosis.chain import Trigger
from bot.diagnosis.findings import FixInput
from bot.diagnosis.registry import CheckContext
from bot.snapshot import K8sObject, Snapshot
from bot.snapshot.frozen import as_mapping, as_seq, as_str, dig

SB_DOC = "https://keda.sh/docs/latest/scalers/azure-service-bus/"
EH_DOC = "https://keda.sh/docs/latest/scalers/azure-event-hub/"
AUTH_DOC = "https://keda.sh/docs/latest/concepts/authentication/"
SB = "azure-servicebus"
EH = "azure-eventhub"
SB_PROVIDER = "/providers/microsoft.servicebus/namespaces/"
# Where a TriggerAuthentication can supply a parameter to the scaler (authParams).
_AUTH_PARAM_SOURCES = (("secretTargetRef",), ("env",), ("configMapTargetRef",), ("azureKeyVault", "secrets"))


def short_sb_name(value: str) -> str:
    """`sb://x.servicebus.windows.net/` or `x.servicebus.windows.net` -> `x`."""
    return value.split("://", 1)[-1].strip("/").split(".", 1)[0].split(":", 1)[0].split("/", 1)[0]


def sb_namespace_problem(trigger: Trigger) -> str | None:
    """"missing" or "fqdn" when KEDA cannot build the Service Bus endpoint for a workload-identity trigger."""
    if trigger.type != SB or not trigger.uses_workload_identity:
        return None
    value = trigger.meta("namespace")
    if value is None:
        return "missing"
    if any(c in value for c in "./:"):
        return "fqdn"
    return None


def sb_entity_problem(trigger: Trigger) -> str | None:
    """KEDA's own validation error for the entity keys (azure_servicebus_scaler.go Validate), if any."""
    if trigger.type != SB:
        return None
    queue, topic, sub = trigger.meta("queueName"), trigger.meta("topicName"), trigger.meta("subscriptionName")
    if queue and sub:
        return "subscription name provided with queue name"
    if queue and topic:
        return "both topic and queue name metadata provided"
    if topic and not sub:
        return "no subscription name provided with topic name"
    if not queue and not topic:
        return "no service bus entity type set"
    return None


def rbac_undecidable(trigger: Trigger) -> bool:
    """The scaler fails before any data-plane call: its role assignments cannot be judged yet."""
    return sb_namespace_problem(trigger) is not None or sb_entity_problem(trigger) is not None


def auth_params(auth: K8sObject | None) -> dict[str, str]:
    """parameter name -> where the TriggerAuthentication takes it from."""
    found: dict[str, str] = {}
    if auth is None:
        return found
    for path in _AUTH_PARAM_SOURCES:
        for entry in as_seq(dig(auth.spec, *path)):
            param = as_str(as_mapping(entry).get("parameter"))
            if param:
                found.setdefault(param, "spec." + ".".join(path))
    return found


def eventhub_storage_connection(trigger: Trigger) -> str | None:
    """Where a checkpoint-storage connection string comes from; KEDA prefers it over the identity."""
    for key in ("storageConnectionFromEnv", "storageConnection"):
        if trigger.meta(key):
            return f"trigger metadata {key}"
    where = auth_params(trigger.auth).get("storageConnection")
    if where and trigger.auth is not None:
        return f"{trigger.auth.ref} {where} (parameter storageConnection)"
    return None


@dataclass(frozen=True)
class Workload:
    """The object a ScaledObject/ScaledJob scales, and the ServiceAccount its pods run as."""

    ref: str
    service_account_name: str
    service_account: K8sObject | None

    @property
    def sa_ref(self) -> str:
        return self.service_account.ref if self.service_account else f"ServiceAccount/?/{self.service_account_name}"

    @property
    def client_id(self) -> str | None:
        if self.service_account is None:
            return None
        return as_str(self.service_account.annotations.get(facts.WI_CLIENT_ID)) or None


def scaled_workload(snapshot: Snapshot, owner: K8sObject) -> Workload | None:
    if owner.kind == "ScaledJob":
        pod_spec = as_mapping(dig(owner.spec, "jobTargetRef", "template", "spec"))
        ref = owner.ref
    else:
        target = as_mapping(owner.spec.get("scaleTargetRef"))
        name = as_str(target.get("name"))
        kind = as_str(target.get("kind")) or "Deployment"
        obj = snapshot.get(kind, owner.namespace, name) if name else None
        if obj is None:
            return None
        pod_spec = as_mapping(dig(obj.spec, "template", "spec"))
        ref = obj.ref
    sa_name = as_str(pod_spec.get("serviceAccountName")) or as_str(pod_spec.get("serviceAccount")) or "default"
    return Workload(ref, sa_name, snapshot.get("ServiceAccount", owner.namespace, sa_name))


def owner_kind(trigger: Trigger) -> str:
    return trigger.owner.kind.lower()


def patch_command(ctx: CheckContext, trigger: Trigger, ops: list[dict[str, Any]]) -> str:
    return ctx.command("kubectl-patch", namespace=trigger.owner.namespace, kind=owner_kind(trigger),
                       name=trigger.owner.name, patch_type="json", patch=ops)


def trigger_fix(ctx: CheckContext, remediation: str, trigger: Trigger, **params: str) -> FixInput:
    return ctx.fix(remediation, kind=trigger.owner.kind, namespace=trigger.owner.namespace, name=trigger.owner.name,
                   index=str(trigger.index), **params)


def meta_path(trigger: Trigger, key: str) -> str:
    return f"/spec/triggers/{trigger.index}/metadata/{key}"
