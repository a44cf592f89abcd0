"""Checks register here with the failure-mode id they detect (a stable contract, never renamed)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.diagnosis.chain import Chain
from bot.diagnosis.findings import Evidence, Finding, FixInput, MissingInput, Severity, Stage
from bot.templating import command

CheckResult = Iterable[Finding | MissingInput]


@dataclass(frozen=True)
class CheckSpec:
    id: str
    title: str
    stage: Stage
    severity: Severity
    fixes: tuple[str, ...]
    docs: tuple[str, ...]
    needs: tuple[str, ...]  # Kubernetes kinds / ARM types without which the check cannot decide
    fn: Callable[[CheckContext], CheckResult]
    summary: str = ""


class CheckContext:
    """What one check sees: the shared chain, plus helpers that fill in its registered defaults."""

    def __init__(self, chain: Chain, spec: CheckSpec) -> None:
        self.chain = chain
        self.snapshot = chain.snapshot
        self.spec = spec

    def finding(
        self,
        detail: str,
        *,
        objects: Sequence[str] = (),
        evidence: Sequence[Evidence] = (),
        commands: Sequence[str] = (),
        severity: Severity | None = None,
        title: str | None = None,
        fixes: Sequence[str] | None = None,
        fix_inputs: Sequence[FixInput] = (),
    ) -> Finding:
        return Finding(
            id=self.spec.id,
            severity=self.spec.severity if severity is None else severity,
            title=title or self.spec.title,
            detail=detail,
            objects=tuple(dict.fromkeys(objects)),
            evidence=tuple(evidence),
            fixes=self.spec.fixes if fixes is None else tuple(fixes),
            commands=tuple(dict.fromkeys(commands)),
            docs=self.spec.docs,
            stage=self.spec.stage,
            fix_inputs=tuple(dict.fromkeys(fix_inputs)),
        )

    @staticmethod
    def fix(remediation: str, /, **params: str) -> FixInput:
        return FixInput.of(remediation, **params)

    @staticmethod
    def command(template: str, /, **values: Any) -> str:
        return command(template, **values)


REGISTRY: dict[str, CheckSpec] = {}

# failure-modes.md Part B, in its order: within one stage of the chain, earlier modes are the root causes.
FAILURE_MODES = (
    "wi-pod-label-missing", "wi-sa-clientid-missing", "wi-pod-stale-not-restarted", "wi-webhook-absent",
    "wi-webhook-unavailable", "wi-kube-system-excluded", "wi-env-hardcoded-stale", "wi-token-expiration-invalid",
    "fic-missing-keda-sa", "fic-missing-override-identity", "fic-subject-wrong-namespace-or-sa",
    "fic-issuer-mismatch", "oidc-issuer-not-enabled", "fic-audience-mismatch", "fic-propagation-delay",
    "oidc-endpoint-unreachable", "identityid-not-clientid", "identity-recreated-drift", "tenant-mismatch",
    "sovereign-cloud-authority-mismatch", "rbac-role-missing", "rbac-role-insufficient-sb",
    "rbac-wrong-principal-or-scope", "rbac-propagation-delay", "sb-namespace-metadata", "sb-entity-metadata",
    "authref-unresolved", "provider-azure-removed", "identityid-empty-string", "crd-enum-mismatch-none",
    "keyvault-podidentity-location", "keda-2.9.x-regressions", "egress-or-timeout-to-entra",
    "eventhub-storage-auth-fallback", "multiple-keda-installs", "expect-workload-identity-reuse",
)
_ORDER = {check_id: index for index, check_id in enumerate(FAILURE_MODES)}


def chain_order(check_id: str) -> int:
    return _ORDER.get(check_id, len(_ORDER))


def check(
    check_id: str,
    *,
    title: str,
    stage: Stage,
    severity: Severity,
    fixes: Sequence[str] = (),
    docs: Sequence[str] = (),
    needs: Sequence[str] = (),
) -> Callable[[Callable[[CheckContext], CheckResult]], Callable[[CheckContext], CheckResult]]:
    def register(fn: Callable[[CheckContext], CheckResult]) -> Callable[[CheckContext], CheckResult]:
        if check_id in REGISTRY:
            raise ValueError(f"check id registered twice: {check_id}")
        REGISTRY[check_id] = CheckSpec(check_id, title, stage, severity, tuple(fixes), tuple(docs),
                                       tuple(needs), fn, (fn.__doc__ or "").strip())
        return fn

    return register


def all_checks() -> tuple[CheckSpec, ...]:
    import bot.diagnosis.checks  # noqa: F401  (registers every check module)

    return tuple(sorted(REGISTRY.values(), key=lambda s: (s.stage, chain_order(s.id), s.id)))
