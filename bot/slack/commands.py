"""`/keda-auth` arguments: parsed, checked, and refused with the usage before anything starts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.diagnosis.chain import Scope
from bot.errors import InputError

VERBS = ("check", "fix", "audit", "status", "whoami", "help")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_CLUSTER = re.compile(r"^[A-Za-z0-9][-A-Za-z0-9_.:@/]{0,252}$")
_PROPOSAL = re.compile(r"^p[0-9a-f]{20}$")
_FINDING = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_SINCE = re.compile(r"^\d+[smhd]$")


@dataclass(frozen=True)
class Command:
    verb: str
    cluster: str | None = None
    scope: Scope = field(default_factory=Scope)
    target: str | None = None  # fix: a finding id or a proposal id
    since: str = "24h"


def parse(text: str, clusters: tuple[str, ...] = ()) -> Command:
    words = text.split()
    if not words:
        return Command("help")
    verb, args = words[0].lower(), words[1:]
    if verb not in VERBS:
        raise InputError(f"unknown command {words[0]!r}")
    if verb == "check":
        return _check(args, clusters)
    if verb == "fix":
        if len(args) != 1 or not (_PROPOSAL.match(args[0]) or _FINDING.match(args[0])):
            raise InputError("fix takes one finding id (e.g. wi-pod-label-missing) or one proposal id")
        return Command("fix", target=args[0])
    if verb == "audit":
        if len(args) > 1 or (args and not _SINCE.match(args[0])):
            raise InputError("audit takes an optional period such as 24h, 90m or 7d")
        return Command("audit", since=args[0] if args else "24h")
    if args:
        raise InputError(f"{verb} takes no arguments")
    return Command(verb)


def _check(args: list[str], clusters: tuple[str, ...]) -> Command:
    """`check [cluster] [namespace[/scaledobject]]`: a first word that names a known cluster is the cluster."""
    cluster = None
    if args and (args[0] in clusters or (not clusters and len(args) == 2)):
        cluster = args.pop(0)
    if len(args) > 1:
        raise InputError("check takes at most a cluster and a namespace[/scaledobject]")
    if cluster is not None and not _CLUSTER.match(cluster):
        raise InputError(f"{cluster!r} is not a cluster name")
    if not args:
        return Command("check", cluster)
    namespace, _, name = args[0].partition("/")
    for part in (namespace, name) if name else (namespace,):
        if not _NAME.match(part):
            raise InputError(f"{part!r} is not a Kubernetes name")
    return Command("check", cluster, Scope(namespace, name or None))
