"""The approval policy: who may approve which fixes, from where, against which clusters and namespaces.

Nothing changes in a cluster without an authorised approval. The policy is a YAML file, found in this order:
the path given to `load_policy`; `$KEDA_AUTH_POLICY`; `$XDG_CONFIG_HOME/keda-auth/policy.yaml` (else
`~/.config/keda-auth/policy.yaml`). When none of them exists, the built-in policy denies everything.

Configuration reference:

```yaml
kill_switch: false            # true stops every apply and undo, break-glass included
allow:
  channels: [C0123ABCD]       # Slack channels where fixes may be proposed and approved; empty/missing denies all
  clusters: [aks-prod-weu, "aks-dev-*"]   # fnmatch globs against the plan's cluster name; empty denies
  namespaces: [keda, "orders-*"]          # every Kubernetes namespace a plan touches must match; empty denies
  cli: true                   # proposals from the command line (default true)
tiers:                        # one per risk tier a plan can have: restart, patch, azure-rbac (azure_rbac accepted)
  restart:
    approvers: [U0123ABCD, "cli:alice"]   # Slack user ids (U…/W…) and command-line users ("cli:<os user>")
    groups: [S0456EFGH]       # Slack user groups (subteam ids S…); members resolved at approval time
    required: 1               # distinct approvals needed (default 1)
    requester_may_approve: false   # default false
    expiry: 30m  # how long a proposal may wait for approval and apply: "90s", "30m", "2h" or seconds (default 30m)
  patch: {...}
  azure-rbac: {...}
```

Unknown or repeated keys, wrong types and malformed ids are errors naming the file and key path: a typo must never
silently loosen or tighten the policy. `required` ≥ 1; 0 < `expiry` ≤ 7 days ("1d" works too). A tier not listed,
or listed with no approvers and no groups, means nobody may approve plans of that tier; `manual` is not a tier, as
manual plans are carried out by a person and never applied. A plan touching no namespace (Azure only) has none to
check against `allow.namespaces`. The kill switch stops applying, not approving. An empty file (or `{}`) denies all.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

import yaml

from bot.errors import InputError
from remediations.catalogue import Risk

ENV_VAR = "KEDA_AUTH_POLICY"
DEFAULT_EXPIRY = timedelta(minutes=30)
MAX_EXPIRY = timedelta(days=7)

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_CLI_ID = re.compile(r"^cli:[A-Za-z0-9._@-]+$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_APPROVER_ID = re.compile(f"{_USER_ID.pattern}|{_CLI_ID.pattern}")
_DURATION = re.compile(r"(\d+)\s*([smhd]?)")
_SECONDS_PER_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

_TIER_NAMES: Mapping[Risk, str] = MappingProxyType(
    {Risk.MANUAL: "manual", Risk.RESTART: "restart", Risk.PATCH: "patch", Risk.AZURE_RBAC: "azure-rbac"})
_APPROVABLE = {name: risk for risk, name in _TIER_NAMES.items() if risk is not Risk.MANUAL}
_TOP_KEYS = ("kill_switch", "allow", "tiers")
_ALLOW_KEYS = ("channels", "clusters", "namespaces", "cli")
_TIER_KEYS = ("approvers", "groups", "required", "requester_may_approve", "expiry")


GroupResolver = Callable[[str], frozenset[str]]  # Slack user group id -> its members' user ids


class PolicyError(InputError):
    """The policy cannot be read or says something invalid; the message names the file and the key path."""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str  # a sentence a person can act on, for allow and for deny alike

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class TierRule:
    approvers: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    required: int = 1
    requester_may_approve: bool = False
    expiry: timedelta = DEFAULT_EXPIRY


@dataclass(frozen=True)
class Policy:
    tiers: Mapping[Risk, TierRule]
    channels: tuple[str, ...] = ()
    clusters: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    allow_cli: bool = True
    kill_switch: bool = False
    source: str = "built-in deny-all policy"

    def __post_init__(self) -> None:
        # A caller may hand in a dict or lists; copy them so nobody can widen a policy after the gate has read it.
        object.__setattr__(self, "tiers", MappingProxyType(dict(self.tiers)))
        for name in ("channels", "clusters", "namespaces"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def tier(self, risk: Risk) -> TierRule | None:
        return self.tiers.get(risk)

    def expiry(self, risk: Risk) -> timedelta:
        rule = self.tier(risk)
        return rule.expiry if rule is not None else DEFAULT_EXPIRY

    def may_approve(self, actor: str, requester: str, risk: Risk, groups_of: GroupResolver | None = None) -> Verdict:
        """`groups_of(group_id)` returns a Slack user group's member ids; None means groups cannot be resolved here,
        so an actor who could only qualify through a group is refused saying so. The kill switch is not consulted."""
        return self._authorise("approve", actor, requester, risk, groups_of)

    def may_reject(self, actor: str, requester: str, risk: Risk, groups_of: GroupResolver | None = None) -> Verdict:
        """Reject is authorised like approve, except the requester may always withdraw their own proposal."""
        if actor == requester:
            return Verdict(True, "you requested this fix, so you may withdraw it")
        return self._authorise("reject", actor, requester, risk, groups_of)

    def _authorise(self, verb: str, actor: str, requester: str, risk: Risk, groups_of: GroupResolver | None
                   ) -> Verdict:
        name, rule = tier_name(risk), self.tier(risk)
        if risk is Risk.MANUAL:
            return Verdict(False, "manual plans are carried out by a person, never approved for apply")
        if rule is None:
            return Verdict(False, f"no one may {verb} {name} plans under {self.source}: add tiers.{name}")
        if actor == requester and not rule.requester_may_approve:
            return Verdict(False, "you requested this fix; a different approver is required")
        needed = f"{name} plans need {rule.required} distinct approval{'' if rule.required == 1 else 's'}"
        if actor in rule.approvers:
            return Verdict(True, f"{actor} may {verb} {name} plans as a listed approver ({needed})")
        if not rule.approvers and not rule.groups:
            return Verdict(False, f"no one may {verb} {name} plans: tiers.{name} in {self.source} names no approvers")
        # Groups hold Slack users only, so a command-line user never qualifies through one.
        if rule.groups and _USER_ID.fullmatch(actor):
            if groups_of is None:
                return Verdict(False, f"{actor} is not a listed approver for {name} plans and its approver groups "
                               f"({_listing(rule.groups)}) cannot be resolved here; ask a listed approver")
            for group in sorted(rule.groups):
                if actor in groups_of(group):
                    return Verdict(True, f"{actor} may {verb} {name} plans as a member of group {group} ({needed})")
        return Verdict(False, f"{actor} is not an approver for {name} plans (approvers: {_listing(rule.approvers)}, "
                       f"groups: {_listing(rule.groups)})")

    def channel_allowed(self, channel: str) -> Verdict:
        if not self.channels:
            return Verdict(False, f"no channel may propose or approve fixes: allow.channels is empty in {self.source}")
        if channel not in self.channels:
            return Verdict(False, f"channel {channel} is not in allow.channels ({_listing(self.channels)}) of "
                           f"{self.source}; use one of those or add it there")
        return Verdict(True, f"channel {channel} is in allow.channels of {self.source}")

    def cli_allowed(self) -> Verdict:
        if not self.allow_cli:
            return Verdict(False, f"command-line proposals are off (allow.cli in {self.source}); propose it in Slack")
        return Verdict(True, f"command-line proposals are allowed by {self.source}")

    def scope_allowed(self, cluster: str | None, namespaces: Iterable[str]) -> Verdict:
        touched, src = sorted(set(namespaces)), self.source
        if not self.clusters:
            return Verdict(False, f"no cluster may be changed: allow.clusters is empty in {src}; add names there")
        if cluster is None or not _matches(cluster, self.clusters):
            what = "the plan names no cluster, so it" if cluster is None else f"cluster {cluster}"
            return Verdict(False, f"{what} does not match allow.clusters ({_listing(self.clusters)}) of {src}")
        if touched and not self.namespaces:
            return Verdict(False, f"no namespace may be changed: allow.namespaces is empty in {src}; add names there")
        outside = [ns for ns in touched if not _matches(ns, self.namespaces)]
        if outside:
            what = f"namespace {outside[0]} is" if len(outside) == 1 else f"namespaces {', '.join(outside)} are"
            return Verdict(False, f"{what} outside allow.namespaces ({_listing(self.namespaces)}) of {src}")
        where = f" and namespaces {', '.join(touched)} are" if touched else " is"
        return Verdict(True, f"cluster {cluster}{where} within the allowlists of {src}")

    def may_apply(self) -> Verdict:
        if self.kill_switch:
            return Verdict(False, f"the kill switch is on ({self.source}); no fix is applied or undone until it is off")
        return Verdict(True, f"the kill switch is off ({self.source})")


DENY_ALL = Policy(tiers=MappingProxyType({}))


def tier_name(risk: Risk) -> str:
    return _TIER_NAMES[risk]


def parse_duration(value: object, where: str) -> timedelta:
    """"90s", "30m", "2h", "1d", or an int of seconds; `where` ("file: key.path") prefixes the error."""
    seconds: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        seconds = int(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)]
    if seconds is None:
        raise PolicyError(f'{where}: must be a duration such as "90s", "30m", "2h", "1d" or a number of seconds, '
                          f"got {value!r}")
    if seconds <= 0:
        raise PolicyError(f"{where}: must be longer than zero, got {value!r}")
    return timedelta(seconds=seconds)


def parse_policy(text: str, source: str) -> Policy:
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: as safe as safe_load
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from None
    reader = _Reader(source)
    top = reader.mapping(data, "", _TOP_KEYS)  # empty or `{}`: everything below defaults to deny-all
    allow = reader.mapping(top.get("allow"), "allow", _ALLOW_KEYS)
    tiers: dict[Risk, TierRule] = {}
    for key, body in reader.mapping(top.get("tiers"), "tiers", None).items():
        path = f"tiers.{key}"
        if key == "manual":
            reader.fail(path, "manual plans are carried out by a person and never applied, so they have no "
                              "approvers; remove this tier")
        risk = _APPROVABLE.get(key.replace("_", "-"))
        if risk is None:
            reader.fail(path, f"unknown tier; expected one of {', '.join(_APPROVABLE)}{_hint(key, _APPROVABLE)}")
        if risk in tiers:
            reader.fail(path, f"the {tier_name(risk)} tier is given twice")
        tiers[risk] = _tier_rule(reader, body, path)
    return Policy(
        tiers=MappingProxyType(tiers),
        channels=reader.ids(allow.get("channels"), "allow.channels", _CHANNEL_ID.fullmatch, "a Slack channel id (C…)"),
        clusters=reader.ids(allow.get("clusters"), "allow.clusters"),
        namespaces=reader.ids(allow.get("namespaces"), "allow.namespaces"),
        allow_cli=reader.boolean(allow.get("cli", True), "allow.cli"),
        kill_switch=reader.boolean(top.get("kill_switch", False), "kill_switch"),
        source=source,
    )


def default_policy_path() -> Path:
    # The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "keda-auth" / "policy.yaml"


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """`path` → that file (it must exist). Else `$KEDA_AUTH_POLICY` (it must exist), else the default path if it
    exists, else DENY_ALL. A policy someone named but that is missing is an error, never a silent deny-all."""
    if path is not None:
        return _read(Path(path).expanduser(), "")
    named = os.environ.get(ENV_VAR)
    if named:
        return _read(Path(named).expanduser(), f" (named by ${ENV_VAR})")
    default = default_policy_path()
    # exists() rather than is_file(): a directory in its place is a mistake worth reporting.
    return _read(default, "") if default.exists() else DENY_ALL


def _read(path: Path, named_by: str) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{path}: policy file not found{named_by}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read the policy file{named_by}: {exc}") from None
    return parse_policy(text, str(path))


def _tier_rule(reader: _Reader, value: object, path: str) -> TierRule:
    body = reader.mapping(value, path, _TIER_KEYS)
    required = body.get("required", 1)
    if isinstance(required, bool) or not isinstance(required, int) or required < 1:
        reader.fail(f"{path}.required", f"must be an integer ≥ 1, got {required!r}")
    expiry = DEFAULT_EXPIRY
    if "expiry" in body:
        expiry = parse_duration(body["expiry"], f"{reader.source}: {path}.expiry")
        if expiry > MAX_EXPIRY:
            reader.fail(f"{path}.expiry", f"must be at most 7 days, got {body['expiry']!r}")
    return TierRule(
        approvers=frozenset(reader.ids(body.get("approvers"), f"{path}.approvers", _APPROVER_ID.fullmatch,
                                       'a Slack user id (U…/W…) or a command-line user ("cli:<os user>")')),
        groups=frozenset(reader.ids(body.get("groups"), f"{path}.groups", _GROUP_ID.fullmatch, "a Slack group (S…)")),
        required=required,
        requester_may_approve=reader.boolean(body.get("requester_may_approve", False), f"{path}.requester_may_approve"),
        expiry=expiry,
    )


class _Reader:
    """Type checks that report `<file>: <key path>: <problem>`."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, problem: str) -> NoReturn:
        raise PolicyError(f"{self.source}: {path or 'the top level'}: {problem}")

    def mapping(self, value: object, path: str, keys: Collection[str] | None) -> dict[str, Any]:
        # A bare `allow:` or `restart:` loads as null; treat it as an empty section, not a type error.
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, got {type(value).__name__} {value!r}")
        for key in value:
            where = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str):
                self.fail(where, "keys must be text")
            if keys is not None and key not in keys:
                self.fail(where, f"unknown key; expected one of {', '.join(keys)}{_hint(key, keys)}")
        return value

    def boolean(self, value: object, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, got {value!r}")
        return value

    def ids(self, value: object, path: str, valid: Callable[[str], object] = bool, what: str = "") -> tuple[str, ...]:
        """A list of non-empty strings (a bare key means empty), each accepted by `valid`; duplicates dropped."""
        if value is None:
            return ()
        if not isinstance(value, list):
            self.fail(path, f"must be a list, got {type(value).__name__} {value!r}")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item:
                self.fail(f"{path}[{index}]", f"must be non-empty text, got {item!r}")
            if not valid(item):
                self.fail(f"{path}[{index}]", f"{item!r} is not {what}")
        return tuple(dict.fromkeys(value))


class _StrictLoader(yaml.SafeLoader):
    """safe_load, except that a key given twice is an error: PyYAML would silently keep the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[str] = set()
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"{key.value!r} is given twice", key.start_mark)
                seen.add(key.value)
        return super().construct_mapping(node, deep)


def _matches(name: str, globs: Iterable[str]) -> bool:
    return any(fnmatchcase(name, glob) for glob in globs)


def _listing(items: Iterable[str]) -> str:
    return ", ".join(sorted(items)) or "none"


def _hint(key: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(choices), n=1)
    return f" (did you mean {close[0]}?)" if close else ""

