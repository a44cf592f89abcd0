"""Small helpers shared by the check modules."""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.diagnosis import facts
from bot.diagnosis.chain import Chain, EnvVar, KedaInstall, container_env, operator_container
from bot.diagnosis.findings import MissingInput
from bot.snapshot import K8sObject
from bot.snapshot.frozen import as_mapping, as_seq, as_str

_SAFE_IN_QUERY = re.compile(r"[A-Za-z0-9._/:@ -]+")


def identity_lookup(client_id: str, why: str) -> MissingInput:
    """Ask for the managed identity behind a clientId. The value comes from user-written YAML, so it is
    only placed inside the double-quoted JMESPath query when it cannot break out of it."""
    quoted = client_id if _SAFE_IN_QUERY.fullmatch(client_id) else "<clientId>"
    return MissingInput(f"the managed identity with clientId {client_id}",
                        f"az identity list --query \"[?clientId=='{quoted}']\" -o json", why)


def shown(value: object) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, str) and value == "":
        return '"" (empty)'
    return str(value)


def relevant_installs(chain: Chain) -> Iterator[KedaInstall]:
    """Installs whose Workload Identity plumbing matters: only when something uses it."""
    if not chain.wi_in_use:
        return
    yield from chain.installs


def template_env(install: KedaInstall) -> dict[str, EnvVar]:
    return container_env(install.template_container)


def pod_container_name(pod: K8sObject) -> str:
    container = operator_container(as_mapping(pod.spec)) or {}
    return as_str(container.get("name")) or "keda-operator"


def token_volume(pod: K8sObject) -> tuple[str, str | None] | None:
    """(volume name, audience) of the projected Workload Identity token, if the webhook injected one."""
    for volume in as_seq(pod.spec.get("volumes")):
        vol = as_mapping(volume)
        name = as_str(vol.get("name")) or ""
        for source in as_seq(as_mapping(vol.get("projected")).get("sources")):
            token = as_mapping(as_mapping(source).get("serviceAccountToken"))
            if token and (name == facts.TOKEN_VOLUME_V15 or name.startswith(facts.TOKEN_VOLUME_V16_PREFIX)):
                return name, as_str(token.get("audience"))
    return None


def token_mount_path(pod: K8sObject, volume: str) -> str | None:
    container = operator_container(as_mapping(pod.spec)) or {}
    for mount in as_seq(container.get("volumeMounts")):
        m = as_mapping(mount)
        if m.get("name") == volume:
            path = as_str(m.get("mountPath")) or ""
            return path.rstrip("/") + "/azure-identity-token"
    return None


def expected_subject(install: KedaInstall) -> str:
    return install.subject
