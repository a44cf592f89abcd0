"""Connect to a cluster the way kubectl would: a kubeconfig (and context), else the pod's in-cluster account.

Every connection gets its own `Configuration`, so the `kubernetes` package's process-wide default is never
read or changed: the bot may talk to several clusters, and tests start many simulators in one process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import (
    SERVICE_CERT_FILENAME,
    SERVICE_HOST_ENV_NAME,
    SERVICE_TOKEN_FILENAME,
    InClusterConfigLoader,
)
from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

from bot.errors import InputError

IN_CLUSTER_CONTEXT = "in-cluster"
DEFAULT_KUBECONFIG = "~/.kube/config"


@dataclass(frozen=True)
class KubeConnection:
    api_client: Any  # kubernetes.client.ApiClient
    context: str
    server: str

    def close(self) -> None:
        self.api_client.close()


def connect(kubeconfig: str | os.PathLike[str] | None = None, context: str | None = None, *, pool_size: int = 8,
            environ: Mapping[str, str] | None = None, token_file: str = SERVICE_TOKEN_FILENAME,
            ca_file: str = SERVICE_CERT_FILENAME) -> KubeConnection:
    """An ApiClient for `kubeconfig` (else `KUBECONFIG`, else ~/.kube/config) or, with none, in-cluster config.

    `pool_size` should match the reader's worker count, so concurrent lists never wait for a connection.
    `environ`, `token_file` and `ca_file` exist so in-cluster config can be pointed somewhere else in tests.
    """
    env = os.environ if environ is None else environ
    paths = _kubeconfig_paths(kubeconfig, env)
    configuration = _fresh_configuration(pool_size)
    if paths:
        name = _load_kubeconfig(paths, context, configuration)
    elif env.get(SERVICE_HOST_ENV_NAME):
        if context is not None:
            raise InputError(f"--context {context} needs a kubeconfig, but none was found "
                             f"({_where_looked(kubeconfig, env)}); running in-cluster there are no contexts")
        _load_in_cluster(configuration, env, token_file, ca_file)
        name = IN_CLUSTER_CONTEXT
    else:
        raise InputError(f"no kubeconfig found ({_where_looked(kubeconfig, env)}) and not running in a cluster "
                         f"({SERVICE_HOST_ENV_NAME} is not set); pass --kubeconfig, set KUBECONFIG, or run "
                         "`az aks get-credentials -g RESOURCE_GROUP -n CLUSTER`")
    return KubeConnection(client.ApiClient(configuration), name, str(configuration.host))


def _fresh_configuration(pool_size: int) -> Any:
    configuration = client.Configuration()
    configuration.connection_pool_maxsize = max(1, pool_size)
    # The reader retries on its own, with a bound and a request count; urllib3 retrying underneath would
    # multiply attempts and hide requests from that count.
    configuration.retries = False
    configuration.client_go_retries = False
    return configuration


def _kubeconfig_paths(explicit: str | os.PathLike[str] | None, env: Mapping[str, str]) -> str | None:
    """The kubeconfig path list to read (`:`-separated like KUBECONFIG), or None when no file exists."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise InputError(f"kubeconfig not found: {path}")
        return str(path)
    listed = env.get("KUBECONFIG")
    if listed:
        existing = [p for p in listed.split(os.pathsep) if p and Path(p).expanduser().is_file()]
        return os.pathsep.join(existing) or None
    default = Path(DEFAULT_KUBECONFIG).expanduser()
    return str(default) if default.is_file() else None


def _where_looked(explicit: str | os.PathLike[str] | None, env: Mapping[str, str]) -> str:
    if explicit is not None:
        return f"looked at {explicit}"
    if env.get("KUBECONFIG"):
        return f"KUBECONFIG={env['KUBECONFIG']}"
    return f"KUBECONFIG is not set and {DEFAULT_KUBECONFIG} does not exist"


def _load_kubeconfig(paths: str, context: str | None, configuration: Any) -> str:
    try:
        merged = KubeConfigMerger(paths).config
        if merged is None:
            raise ConfigException("no configuration found")
        name = context or _current_context(merged.value)
        available = _context_names(merged.value)
        if name not in available:
            listed = ", ".join(sorted(available)) or "none"
            what = f"context {name!r}" if context else f"current-context {name!r}"
            raise InputError(f"{what} is not in kubeconfig {paths} (available contexts: {listed})")
        # config_base_path=None resolves relative certificate paths from each file's own directory, as kubectl.
        loader = KubeConfigLoader(config_dict=merged, active_context=name, config_base_path=None)
        loader.load_and_set(configuration)
    except InputError:
        raise
    except (ConfigException, yaml.YAMLError, OSError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"kubeconfig {paths} cannot be used: {_short(exc)}") from exc
    return name


def _current_context(config: Mapping[str, Any]) -> str:
    current = config.get("current-context")
    if not current:
        listed = ", ".join(sorted(_context_names(config))) or "none"
        raise InputError(f"the kubeconfig sets no current-context; pass --context (available contexts: {listed})")
    return str(current)


def _context_names(config: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for entry in config.get("contexts") or []:
        # Merged entries are the client's ConfigNode wrappers; plain dicts otherwise.
        value = getattr(entry, "value", entry)
        if isinstance(value, Mapping) and value.get("name"):
            names.add(str(value["name"]))
    return names


def _load_in_cluster(configuration: Any, env: Mapping[str, str], token_file: str, ca_file: str) -> None:
    try:
        InClusterConfigLoader(token_filename=token_file, cert_filename=ca_file,
                              environ=env).load_and_set(configuration)
    except (ConfigException, OSError) as exc:
        raise InputError(f"in-cluster configuration cannot be used ({SERVICE_HOST_ENV_NAME} is set): "
                         f"{_short(exc)}") from exc
    # The in-cluster loader writes "bearer <token>" (the kubeconfig loader "Bearer"), and re-reads the token
    # file before requests. Send the canonical spelling either way: not every proxy or server in front of an
    # API server compares the scheme case-insensitively.
    reread = configuration.refresh_api_key_hook

    def refresh(conf: Any) -> None:
        if reread is not None:
            reread(conf)
        _canonical_bearer(conf)

    _canonical_bearer(configuration)
    configuration.refresh_api_key_hook = refresh


def _canonical_bearer(configuration: Any) -> None:
    token = configuration.api_key.get("BearerToken")
    if isinstance(token, str) and token[:7].lower() == "bearer ":
        configuration.api_key["BearerToken"] = "Bearer " + token[7:].strip()


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__
