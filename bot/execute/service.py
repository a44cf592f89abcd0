"""Connect an executor to the cluster and Azure a plan targets, and re-check them afterwards: the service
functions the CLI and the Slack app share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from bot.diagnosis.chain import Scope
from bot.diagnosis.engine import Report, diagnose
from bot.execute.arm_api import ArmApi
from bot.execute.executor import Executor
from bot.execute.kube_api import KubeApi
from bot.live.kube_config import connect
from bot.live.options import LiveOptions
from bot.live.session import collect_live, default_credential
from bot.plan.plan import Plan
from remediations.model import FicPut, RoleAssignmentPut


@contextmanager
def executor_for(plan: Plan, options: LiveOptions, *, credential: Any = None,
                 rollout_timeout: float = 300.0) -> Iterator[Executor]:
    """Only the connections the plan needs: a Kubernetes-only plan never asks Azure for a token."""
    needs_azure = any(isinstance(s.action, FicPut | RoleAssignmentPut) for s in plan.steps)
    needs_kube = any(not isinstance(s.action, FicPut | RoleAssignmentPut) for s in plan.steps)
    connection = connect(options.kubeconfig, options.context) if needs_kube else None
    arm = None
    if needs_azure and options.azure:
        arm = ArmApi(credential or default_credential(options), base_url=options.arm_endpoint,
                     connection_verify=options.connection_verify)
    try:
        yield Executor(KubeApi(connection.api_client) if connection else None, arm, rollout_timeout=rollout_timeout)
    finally:
        if arm is not None:
            arm.close()
        if connection is not None:
            connection.api_client.close()


def rechecker(options: LiveOptions, *, credential: Any = None, scope: Scope | None = None,
              now: Callable[[], datetime] | None = None) -> Callable[[], Report]:
    """A fresh live check, as `keda-auth check` runs it."""
    def recheck() -> Report:
        assembled, _ = collect_live(options, credential=credential, now=now)
        return diagnose(assembled.snapshot(), scope=scope)

    return recheck
