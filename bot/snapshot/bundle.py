"""Read an offline bundle (`keda-auth-bundle/v1`, see shared/specs/bundle-format.md) into a Snapshot.

The reader only ever opens files for reading: a bundle is evidence and is never modified.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.errors import BundleError
from bot.snapshot.documents import Document, ParseFailure, parse_json, parse_yaml
from bot.snapshot.frozen import as_mapping, as_seq, as_str, freeze
from bot.snapshot.gaps import Gap
from bot.snapshot.model import (
    ArmResource,
    InputProblem,
    K8sObject,
    PodLog,
    Snapshot,
    SourceRef,
    arm_properties,
)
from bot.snapshot.timeutil import parse_time

BUNDLE_FORMAT = "keda-auth-bundle/v1"
_K8S_SUFFIXES = {".yaml", ".yml", ".json"}
_MAX_LOG_LINES = 20_000


class SnapshotBuilder:
    """Build the Snapshot that `read_bundle` would give for bundle files, from objects already in memory.

    Lists are added by their bundle-relative path (`kubernetes/x.json`, `azure/y.json`), each as if that
    file held one `kind: List`; logs as (`logs/<ns>/<pod>.<container>.log`, lines, each written with a
    newline after it). Going through the reader's own code is what makes a live `check` and
    `check --bundle` on what `collect` wrote agree. `snapshot()` may be called more than once: a live
    collection reads the Kubernetes half before it knows what to ask Azure.
    """

    def __init__(self, origin: str) -> None:
        self._reader = _BundleReader(Path(origin))

    def add_lists(self, lists: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
        for rel_path in sorted(lists):
            self._reader.add_list(rel_path, lists[rel_path])

    def snapshot(self, manifest: Mapping[str, Any], logs: Sequence[tuple[str, Sequence[str]]] = (),
                 source: str = "cluster") -> Snapshot:
        reader = self._reader
        pods = reader.pod_keys()
        pod_logs = []
        for rel_path, lines in sorted(logs, key=lambda entry: entry[0]):
            _, namespace, name = rel_path.split("/", 2)
            # The text the written file would hold, read back by the same code.
            text = "".join(line + "\n" for line in lines)
            pod_logs.append(reader.pod_log(namespace, name[: -len(".log")], text, rel_path, pods))
        return reader.finish(manifest, tuple(pod_logs), source)


def snapshot_from_lists(origin: str, manifest: Mapping[str, Any], lists: Mapping[str, Sequence[Mapping[str, Any]]],
                        logs: Sequence[tuple[str, Sequence[str]]] = (), source: str = "cluster") -> Snapshot:
    builder = SnapshotBuilder(origin)
    builder.add_lists(lists)
    return builder.snapshot(manifest, logs, source)


def read_bundle(directory: str | Path) -> Snapshot:
    root = Path(directory)
    if not root.exists():
        raise BundleError(f"bundle directory not found: {root}")
    if not root.is_dir():
        raise BundleError(f"a bundle is a directory, not a file: {root}")
    reader = _BundleReader(root)
    return reader.read()


class _BundleReader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[InputProblem] = []
        self.objects: list[K8sObject] = []
        self.arm: list[ArmResource] = []

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def problem(self, path: Path, line: int | None, message: str, level: str = "error") -> None:
        self.problems.append(InputProblem(self.rel(path), line, message, level))

    def read(self) -> Snapshot:
        manifest = self._manifest()
        known_dirs = {"kubernetes", "azure", "logs"}
        for entry in sorted(self.root.iterdir()):
            if entry.name == "manifest.json" or entry.name.startswith("."):
                continue
            if entry.is_dir() and entry.name in known_dirs:
                continue
            self.problem(entry, None, "not part of the bundle format; ignored", "warning")
        for path in self._files("kubernetes"):
            self._read_kubernetes(path)
        for path in self._files("azure"):
            self._read_azure(path)
        logs = self._read_logs()
        if not self.objects and not self.arm and not manifest.get("collected") and not manifest.get("gaps"):
            raise BundleError(self._empty_message())
        return self.finish(manifest, logs, "bundle")

    def add_list(self, rel_path: str, items: Sequence[Mapping[str, Any]]) -> None:
        """Objects already in memory, as if read from `rel_path` holding one `kind: List`."""
        path = self.root / rel_path
        if rel_path.startswith("azure/"):
            for raw in items:
                resource = self._arm_resource(raw, path, 1)
                if resource is not None:
                    self.arm.append(resource)
        else:
            self.objects += self._expand({"apiVersion": "v1", "kind": "List", "items": list(items)}, path, 1,
                                         None, None)

    def finish(self, manifest: Mapping[str, Any], logs: tuple[PodLog, ...], source: str) -> Snapshot:
        now, now_source = self._now(manifest)
        collected = frozenset(
            str(k).lower() if "/" in str(k) else str(k) for k in as_seq(manifest.get("collected"))
        )
        gaps = tuple(Gap.from_json(dict(g)) for g in as_seq(manifest.get("gaps")) if isinstance(g, Mapping))
        return Snapshot(
            source=source,
            origin=str(self.root),
            now=now,
            now_source=now_source,
            manifest=freeze(dict(manifest)),
            objects=tuple(self.objects),
            arm=tuple(self.arm),
            logs=logs,
            problems=tuple(self.problems),
            collected_kinds=collected,
            gaps=gaps,
        )

    def _empty_message(self) -> str:
        lines = [
            f"no Kubernetes objects or Azure resources could be read from {self.root}.",
            "A bundle needs kubernetes/*.yaml|*.json and/or azure/*.json (see docs: bundle format).",
        ]
        lines += [f"  {p}" for p in self.problems if p.level == "error"]
        return "\n".join(lines)

    def _files(self, sub: str) -> Iterator[Path]:
        base = self.root / sub
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            if path.suffix.lower() in (_K8S_SUFFIXES if sub == "kubernetes" else {".json"}):
                yield path
            else:
                self.problem(path, None, f"unexpected file type in {sub}/; ignored", "warning")

    def _text(self, path: Path) -> str | None:
        try:
            return path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            self.problem(path, None, f"not UTF-8 text ({exc.reason}); skipped")
        except OSError as exc:
            self.problem(path, None, f"cannot be read: {exc.strerror}; skipped")
        return None

    def _documents(self, path: Path) -> Iterator[Document]:
        text = self._text(path)
        if text is None:
            return
        parsed = parse_json(text) if path.suffix.lower() == ".json" else parse_yaml(text)
        for item in parsed:
            if isinstance(item, ParseFailure):
                self.problem(path, item.line, item.message)
            else:
                yield item

    # -- manifest
    def _manifest(self) -> Mapping[str, Any]:
        path = self.root / "manifest.json"
        if not path.is_file():
            return {}
        docs = list(self._documents(path))
        if not docs:
            return {}
        manifest = docs[0].data
        if not isinstance(manifest, dict):
            self.problem(path, 1, "manifest.json must be a JSON object; ignored")
            return {}
        fmt = manifest.get("format")
        if fmt is not None and fmt != BUNDLE_FORMAT:
            self.problem(path, 1, f"format {fmt!r} is not {BUNDLE_FORMAT!r}; reading it anyway", "warning")
        if "collected_at" in manifest and parse_time(manifest["collected_at"]) is None:
            self.problem(path, 1, f"collected_at {manifest['collected_at']!r} is not an RFC 3339 time")
        return manifest

    # -- kubernetes/
    def _read_kubernetes(self, path: Path) -> None:
        for doc in self._documents(path):
            if doc.data is None:
                continue
            for obj in self._expand(doc.data, path, doc.line, None, None):
                self.objects.append(obj)

    def _expand(
        self, data: Any, path: Path, line: int, list_kind: str | None, list_api: str | None
    ) -> Iterator[K8sObject]:
        if not isinstance(data, Mapping):
            self.problem(path, line, "document is not a Kubernetes object (expected a mapping); skipped")
            return
        kind = as_str(data.get("kind")) or (list_kind[:-4] if list_kind and list_kind != "List" else None)
        api_version = as_str(data.get("apiVersion")) or list_api
        items = data.get("items")
        if kind and (kind == "List" or kind.endswith("List")) and isinstance(items, list):
            for item in items:
                yield from self._expand(item, path, line, kind, as_str(data.get("apiVersion")))
            return
        metadata = as_mapping(data.get("metadata"))
        name = as_str(metadata.get("name"))
        if not kind or not api_version or not name:
            missing = [k for k, v in (("kind", kind), ("apiVersion", api_version), ("metadata.name", name))
                       if not v]
            self.problem(path, line, f"object without {', '.join(missing)}; skipped")
            return
        if kind == "Secret":
            data = _secret_without_values(data)
        elif list_kind and not data.get("kind"):
            data = {**data, "kind": kind, "apiVersion": api_version}
        yield K8sObject(
            api_version=api_version,
            kind=kind,
            namespace=as_str(metadata.get("namespace")) or "",
            name=name,
            raw=freeze(data),
            source=SourceRef(self.rel(path), line),
        )

    # -- azure/
    def _read_azure(self, path: Path) -> None:
        for doc in self._documents(path):
            for raw in _arm_items(doc.data):
                resource = self._arm_resource(raw, path, doc.line)
                if resource is not None:
                    self.arm.append(resource)

    def _arm_resource(self, raw: Any, path: Path, line: int) -> ArmResource | None:
        if not isinstance(raw, Mapping):
            self.problem(path, line, "an entry is not a JSON object; skipped")
            return None
        rid = as_str(raw.get("id"))
        rtype = as_str(raw.get("type"))
        if not rid or not rtype:
            self.problem(path, line, "ARM resource without `id` or `type`; skipped")
            return None
        name = as_str(raw.get("name")) or rid.rstrip("/").rsplit("/", 1)[-1]
        return ArmResource(
            id=rid.rstrip("/"),
            type=rtype,
            name=name,
            properties=freeze(dict(arm_properties(raw))),
            raw=freeze(raw),
            source=SourceRef(self.rel(path), line),
        )

    # -- logs/
    def _read_logs(self) -> tuple[PodLog, ...]:
        base = self.root / "logs"
        if not base.is_dir():
            return ()
        pods = self.pod_keys()
        logs: list[PodLog] = []
        for path in sorted(base.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            rel = path.relative_to(base).parts
            if len(rel) != 2 or path.suffix != ".log":
                self.problem(path, None, "logs go in logs/<namespace>/<pod>[.<container>].log; ignored",
                             "warning")
                continue
            text = self._text(path)
            if text is None:
                continue
            logs.append(self.pod_log(rel[0], path.name[: -len(".log")], text, self.rel(path), pods))
        return tuple(logs)

    def pod_keys(self) -> set[tuple[str, str]]:
        return {(o.namespace, o.name) for o in self.objects if o.kind == "Pod"}

    @staticmethod
    def pod_log(namespace: str, stem: str, text: str, rel_path: str, pods: set[tuple[str, str]]) -> PodLog:
        """`<pod>.log` or `<pod>.<container>.log`; a dotted name that is a known pod is the pod's own log."""
        if (namespace, stem) in pods or "." not in stem:
            pod, container = stem, None
        else:
            pod, container = stem.rsplit(".", 1)
        lines = tuple(text.splitlines()[-_MAX_LOG_LINES:])
        return PodLog(namespace, pod, container, lines, SourceRef(rel_path, 1))

    # -- "now"
    def _now(self, manifest: Mapping[str, Any]) -> tuple[datetime | None, str]:
        collected = parse_time(manifest.get("collected_at"))
        if collected is not None:
            return collected, "manifest.json collected_at"
        newest = max(_timestamps(self.objects, self.arm), default=None)
        if newest is None:
            return None, "unknown (no manifest collected_at and no timestamps in the bundle)"
        return newest, "newest timestamp in the bundle"


def _arm_items(data: Any) -> Iterator[Any]:
    if isinstance(data, list):
        yield from data
    elif isinstance(data, dict) and isinstance(data.get("value"), list) and "id" not in data:
        yield from data["value"]
    elif data is not None:
        yield data


def _secret_without_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """Keep which keys a Secret has, never their values."""
    clean = {k: v for k, v in data.items() if k not in ("data", "stringData")}
    for key in ("data", "stringData"):
        values = data.get(key)
        if isinstance(values, Mapping):
            clean[key] = dict.fromkeys(values, "<redacted>")
    return clean


def _timestamps(objects: Iterable[K8sObject], arm: Iterable[ArmResource]) -> Iterator[datetime]:
    for obj in objects:
        meta = obj.metadata
        for value in (meta.get("creationTimestamp"),
                      obj.raw.get("lastTimestamp"), obj.raw.get("eventTime"), obj.raw.get("firstTimestamp")):
            parsed = parse_time(value)
            if parsed:
                yield parsed
        for entry in as_seq(meta.get("managedFields")):
            parsed = parse_time(as_mapping(entry).get("time"))
            if parsed:
                yield parsed
        for cond in as_seq(obj.status.get("conditions")):
            parsed = parse_time(as_mapping(cond).get("lastTransitionTime"))
            if parsed:
                yield parsed
    for res in arm:
        for value in (res.prop("createdOn"), res.prop("updatedOn"),
                      as_mapping(res.raw.get("systemData")).get("createdAt"),
                      as_mapping(res.raw.get("systemData")).get("lastModifiedAt")):
            parsed = parse_time(value)
            if parsed:
                yield parsed


