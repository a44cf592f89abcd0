"""ARM reads and writes for the executor: federated credentials (azure-mgmt-msi), role assignments
(azure-mgmt-authorization), and the caller's permissions at a scope (the ARM permissions API).

Every call shares one token, one transport and the reader's retry policy (bot/live/azure_http.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters
from azure.mgmt.msi.models import FederatedIdentityCredential

from bot.diagnosis.checks.rbac import allows
from bot.execute.errors import ExecuteError, WriteRefused
from bot.live.azure_http import PUBLIC_ARM, ArmSession, ArmSettings, SharedToken
from bot.snapshot.model import id_segments
from remediations.fixes.federated_credential import identity_parts
from remediations.model import FicPut, RoleAssignmentPut

PERMISSIONS_API = "2022-04-01"
IDENTITY_API = "2023-01-31"
FIC_WRITE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"
FIC_DELETE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete"
RA_WRITE = "Microsoft.Authorization/roleAssignments/write"
RA_DELETE = "Microsoft.Authorization/roleAssignments/delete"


@dataclass(frozen=True)
class Fic:
    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "issuer": self.issuer, "subject": self.subject, "audiences": list(self.audiences)}


@dataclass(frozen=True)
class Assignment:
    id: str
    role_guid: str
    scope: str
    principal_id: str


def _subscription(resource_id: str) -> str:
    sub = id_segments(resource_id).get("subscriptions")
    if not sub:
        raise ExecuteError(f"not an Azure resource id: {resource_id!r}")
    return sub


def _refused(what: str, exc: HttpResponseError, permission: str | None = None) -> WriteRefused:
    code = getattr(exc.error, "code", None) if exc.error else None
    message = " ".join(str(getattr(exc.error, "message", None) or exc.message or exc).split())
    status = exc.status_code
    if status == 403 or code == "AuthorizationFailed":
        hint = f" — the caller needs {permission}" if permission else ""
        return WriteRefused(f"not allowed to {what}: {message}{hint}", status, permission)
    return WriteRefused(f"{what} refused: {status} {code or ''} {message}".strip(), status)


class ArmApi:
    def __init__(self, credential: TokenCredential, *, base_url: str | None = None,
                 connection_verify: str | bool | None = None, attempts: int = 3) -> None:
        self.session = ArmSession(SharedToken(credential),
                                  ArmSettings(base_url or PUBLIC_ARM, connection_verify, attempts, 0.5))

    def close(self) -> None:
        self.session.close()

    # -- federated credentials
    def _fics(self, identity_id: str) -> Any:
        return self.session.identities(_subscription(identity_id)).federated_identity_credentials

    def identity_exists(self, identity_id: str) -> bool:
        status, body = self.session.send("GET", identity_id, IDENTITY_API)
        if status == 404:
            return False
        if status >= 400:
            raise ExecuteError(f"reading {identity_id} failed: {status} {body.get('error', {}).get('message', '')}")
        return True

    def list_fics(self, identity_id: str) -> list[Fic]:
        group, name = identity_parts(identity_id)
        try:
            return [Fic(f.name, f.issuer, f.subject, tuple(f.audiences or ()))
                    for f in self._fics(identity_id).list(group, name)]
        except HttpResponseError as exc:
            raise _refused(f"list the federated credentials of {name}", exc) from exc

    def put_fic(self, action: FicPut, fic: Fic) -> None:
        group, name = identity_parts(action.identity_id)
        body = FederatedIdentityCredential(issuer=fic.issuer, subject=fic.subject, audiences=list(fic.audiences))
        try:
            self._fics(action.identity_id).create_or_update(group, name, fic.name, body)
        except HttpResponseError as exc:
            raise _refused(f"write federated credential {fic.name} on {name}", exc, FIC_WRITE) from exc

    def delete_fic(self, action: FicPut) -> None:
        group, name = identity_parts(action.identity_id)
        try:
            self._fics(action.identity_id).delete(group, name, action.name)
        except ResourceNotFoundError:
            return
        except HttpResponseError as exc:
            raise _refused(f"delete federated credential {action.name} on {name}", exc, FIC_DELETE) from exc

    # -- role assignments
    def _ras(self, scope: str) -> Any:
        return self.session.authorization(_subscription(scope)).role_assignments

    def assignments_covering(self, principal_id: str, scope: str) -> list[Assignment]:
        """The principal's assignments at the scope or above (ARM lists inherited ones with the filter)."""
        try:
            found = self._ras(scope).list_for_scope(scope, filter=f"principalId eq '{principal_id}'")
            out = []
            for ra in found:
                role = str(ra.role_definition_id or "").rstrip("/").rsplit("/", 1)[-1].lower()
                out.append(Assignment(str(ra.id), role, str(ra.scope or ""), str(ra.principal_id or "")))
            return out
        except HttpResponseError as exc:
            raise _refused(f"list the role assignments at {scope}", exc) from exc

    def create_assignment(self, action: RoleAssignmentPut) -> str:
        """Returns "created", or "exists" when ARM says the same principal already holds the role there."""
        params = RoleAssignmentCreateParameters(role_definition_id=action.role_definition_id,
                                                principal_id=action.principal_id, principal_type="ServicePrincipal")
        try:
            self._ras(action.scope).create(action.scope, action.name, params)
            return "created"
        except HttpResponseError as exc:
            code = getattr(exc.error, "code", None) if exc.error else None
            if exc.status_code == 409 and code == "RoleAssignmentExists":
                return "exists"
            raise _refused(f"create a role assignment at {action.scope}", exc, RA_WRITE) from exc

    def assignment_exists(self, assignment_id: str) -> bool:
        try:
            self._ras(assignment_id).get_by_id(assignment_id)
            return True
        except ResourceNotFoundError:
            return False
        except HttpResponseError as exc:
            raise _refused(f"read role assignment {assignment_id}", exc) from exc

    def delete_assignment(self, assignment_id: str) -> None:
        try:
            self._ras(assignment_id).delete_by_id(assignment_id)
        except ResourceNotFoundError:
            return
        except HttpResponseError as exc:
            raise _refused(f"delete role assignment {assignment_id}", exc, RA_DELETE) from exc

    def role_definition_exists(self, scope: str, role_guid: str) -> bool:
        status, _ = self.session.send(
            "GET", f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}",
            PERMISSIONS_API)
        return status < 400

    # -- the caller's permissions
    def missing_actions(self, scope: str, actions: list[str]) -> list[str]:
        """Which of `actions` the caller may not perform at `scope`, from the ARM permissions API (what
        `az role assignment list` cannot tell: groups, inheritance and notActions all applied by ARM)."""
        status, body = self.session.send("GET", f"{scope.rstrip('/')}/providers/Microsoft.Authorization/permissions",
                                         PERMISSIONS_API)
        if status == 404:
            raise ExecuteError(f"{scope} does not exist")
        if status >= 400:
            message = (body.get("error") or {}).get("message", "")
            raise ExecuteError(f"reading the caller's permissions at {scope} failed: {status} {message}")
        grants = [p for p in body.get("value") or () if isinstance(p, dict)]
        return [a for a in actions if not any(_allows(g, a) for g in grants)]


def _allows(grant: dict[str, Any], action: str) -> bool:
    return allows([str(p) for p in grant.get("actions") or ()], [str(p) for p in grant.get("notActions") or ()],
                  action)
