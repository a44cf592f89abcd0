"""What every handler needs: the shared state and settings (World) and one request's context (Ctx)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.kit.azuresim.authz import Authorizer
from tests.kit.azuresim.errors import ArmError, subscription_not_found
from tests.kit.azuresim.spec import Schema, SpecRecorder
from tests.kit.azuresim.store import Settings, Store, Subscription
from tests.kit.azuresim.tokens import Caller, wrong_tenant
from tests.kit.sim.clock import Clock
from tests.kit.sim.server import Request


@dataclass
class World:
    tenant_id: str
    store: Store = field(default_factory=Store)
    clock: Clock = field(default_factory=Clock)
    settings: Settings = field(default_factory=Settings)
    spec: SpecRecorder = field(default_factory=SpecRecorder)
    arm_url: str = ""  # known once the servers listen
    authority: str = ""

    def __post_init__(self) -> None:
        self.authz = Authorizer(self.store, self.settings)


@dataclass
class ArmResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    schema: Schema | None = None


@dataclass
class Ctx:
    world: World
    request: Request
    caller: Caller
    api_version: str
    now: float
    error_schema: Schema | None = None  # set by the router once it knows which swagger owns the operation

    @property
    def store(self) -> Store:
        return self.world.store

    def require(self, action: str, scope: str) -> None:
        self.world.authz.require(self.caller, action, scope, self.now)

    def subscription(self, subscription_id: str) -> Subscription:
        """The subscription, checked against the caller's token tenant like ARM's front door does."""
        sub = self.store.subscription(subscription_id)
        if sub is None:
            raise subscription_not_found(subscription_id)
        if sub.tenant_id.lower() != self.caller.tenant_id.lower():
            raise wrong_tenant(self.caller, sub.tenant_id, self.world.authority)
        return sub

    def json_body(self) -> dict[str, Any]:
        try:
            body = self.request.json()
        except ValueError as exc:
            raise ArmError(400, "InvalidRequestContent",
                           f"The request content was invalid and could not be deserialized: '{exc}'.") from None
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent",
                           "The request content was invalid and could not be deserialized: 'expected an object'.")
        return body
