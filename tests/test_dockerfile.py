"""The Dockerfile and .dockerignore, checked without a Docker engine: a small Dockerfile parser, Docker's
.dockerignore matching, and the wheel built for real from exactly what the build stage copies."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parent.parent


# -- a Dockerfile parser ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    args: str  # the rest, continuations joined
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON (exec) form's argv, or None for the shell form."""
        if not self.args.startswith("["):
            return None
        value = json.loads(self.args)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), self
        return value

    def flags_and_words(self) -> tuple[dict[str, str], list[str]]:
        """`--from=build --chown=1:1 a b c` -> ({"from": "build", "chown": "1:1"}, ["a", "b", "c"])."""
        words = shlex.split(self.args)
        flags: dict[str, str] = {}
        while words and words[0].startswith("--"):
            name, _, value = words.pop(0)[2:].partition("=")
            flags[name] = value
        return flags, words


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> tuple[list[Instruction], list[Stage]]:
    """Instructions (comment lines dropped, also inside continuations; `\\` continues a line) and stages."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue  # comments and parser directives; blank lines between instructions
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        joined = " ".join(p for p in pending if p)
        pending = []
        keyword, _, args = joined.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
    assert not pending, "the Dockerfile ends inside a line continuation"
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            _, words = instruction.flags_and_words()
            assert len(words) in (1, 3), instruction
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif instruction.keyword not in ("ARG",) or stages:
            assert stages, f"{instruction.keyword} before the first FROM"
            stages[-1].instructions.append(instruction)
    return instructions, stages


@cache
def dockerfile() -> tuple[tuple[Instruction, ...], tuple[Stage, ...]]:
    instructions, stages = parse_dockerfile((ROOT / "Dockerfile").read_text(encoding="utf-8"))
    return tuple(instructions), tuple(stages)


def stages() -> tuple[Stage, ...]:
    return dockerfile()[1]


def final() -> Stage:
    return stages()[-1]


def build_stage() -> Stage:
    return next(s for s in stages() if s.name == "build")


def copies(stage: Stage) -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY/ADD from the build context (not --from another stage)."""
    out = []
    for instruction in stage.instructions:
        if instruction.keyword in ("COPY", "ADD"):
            flags, words = instruction.flags_and_words()
            if "from" not in flags:
                out.append((words[:-1], words[-1]))
    return out


def env(stage: Stage) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        for word in shlex.split(instruction.args):
            key, sep, value = word.partition("=")
            assert sep, f"ENV in key=value form: {instruction.args}"
            values[key] = value
    return values


def labels(stage: Stage) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in stage.all("LABEL"):
        for word in shlex.split(instruction.args):
            key, _, value = word.partition("=")
            values[key] = value
    return values


def test_the_parser_joins_continuations_and_skips_comments() -> None:
    instructions, parsed = parse_dockerfile(
        "# syntax=docker/dockerfile:1\nARG X=1\nFROM a:1 AS one\nRUN echo a \\\n  # a comment\n  && echo b\n"
        "FROM b:2\nCOPY --from=one /x /y\nCMD [\"serve\"]\n")
    assert [i.keyword for i in instructions] == ["ARG", "FROM", "RUN", "FROM", "COPY", "CMD"]
    assert instructions[2].args == "echo a && echo b" and instructions[2].line == 4
    assert [(s.image, s.name) for s in parsed] == [("a:1", "one"), ("b:2", None)]
    assert parsed[1].all("CMD")[0].exec_form() == ["serve"] and copies(parsed[1]) == []


# -- the stages -------------------------------------------------------------------------------------------------------


def test_multi_stage_with_a_named_build_stage_and_a_slim_final_stage() -> None:
    assert len(stages()) >= 2
    assert stages()[0].name == "build"
    assert build_stage().image.startswith("python:3.11") and build_stage().image.endswith("-slim")
    assert final().image == "python:3.11-slim"
    assert final().name != "build"


def test_the_final_stage_has_no_build_tools_and_installs_only_the_built_wheels() -> None:
    runs = " ".join(i.args for i in final().all("RUN"))
    for forbidden in ("gcc", "g++", "build-essential", "apt-get install", "apt install", "make ", "-dev ", "git "):
        assert forbidden not in runs, forbidden
    installs = [i.args for i in final().all("RUN") if "pip install" in i.args]
    assert len(installs) == 1
    [install] = installs
    assert "--no-cache-dir" in install and "--no-index" in install, "no pip cache; nothing from an index"
    assert "from=build" in install, "the wheels come from the build stage"
    assert copies(final()) == [], "no source from the build context in the final image"
    build_runs = " ".join(i.args for i in build_stage().all("RUN"))
    assert "pip wheel" in build_runs and "--no-cache-dir" in build_runs


def test_runs_as_a_numeric_non_root_user_set_before_the_entrypoint() -> None:
    users = final().all("USER")
    entrypoint = final().all("ENTRYPOINT")
    assert users and entrypoint
    assert users[-1].line < entrypoint[-1].line
    uid, _, gid = users[-1].args.partition(":")
    assert uid.isdigit() and int(uid) != 0, "numeric (runAsNonRoot can verify it) and not root"
    assert not gid or (gid.isdigit() and int(gid) != 0)
    assert uid == "10001"
    assert any(f"--uid {uid}" in i.args for i in final().all("RUN")), "the user exists in /etc/passwd"


def test_entrypoint_cmd_and_port() -> None:
    assert final().all("ENTRYPOINT")[-1].exec_form() == ["keda-auth"]
    assert final().all("CMD")[-1].exec_form() == ["serve"]
    assert [i.args for i in final().all("EXPOSE")] == ["3000"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["keda-auth"] == "bot.cli:main"


def test_no_healthcheck_kubernetes_probes_are_used() -> None:
    instructions, _ = dockerfile()
    assert not [i for i in instructions if i.keyword == "HEALTHCHECK"]


def test_read_only_root_filesystem_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    values = env(final())
    assert values["PYTHONDONTWRITEBYTECODE"] == "1"
    assert values["HOME"] == "/tmp"
    assert values["XDG_STATE_HOME"].startswith("/tmp/")
    # What the store falls back to when KEDA_AUTH_DB is unset, under that environment.
    from bot.store.db import default_db_path, resolve_url

    for key in ("HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(key, values[key])
    monkeypatch.delenv("KEDA_AUTH_DB", raising=False)
    assert default_db_path().is_relative_to("/tmp")
    assert resolve_url() == f"sqlite:///{values['XDG_STATE_HOME']}/keda-auth/keda-auth.db"
    workdirs = final().all("WORKDIR")
    assert not workdirs or workdirs[-1].args.startswith("/tmp")


def test_oci_labels() -> None:
    values = labels(final())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert values["org.opencontainers.image.title"] == project["name"]
    assert values["org.opencontainers.image.licenses"] == project["license"]["text"]
    assert values["org.opencontainers.image.version"] == "${VERSION}"
    args = {i.args.partition("=")[0]: i.args.partition("=")[2] for i in final().all("ARG")}
    assert args["VERSION"] == project["version"], "the default image version follows pyproject.toml"
    assert {"org.opencontainers.image.description", "org.opencontainers.image.revision"} <= set(values)


# -- the build context ------------------------------------------------------------------------------------------------


def test_every_copy_source_exists() -> None:
    for stage in stages():
        for sources, _ in copies(stage):
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def wheel_inputs() -> set[str]:
    """What the wheel build reads, from pyproject.toml: packages, force-included trees, the readme, itself."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    return {"pyproject.toml", pyproject["project"]["readme"], *wheel["packages"], *wheel["force-include"]}


def test_the_build_stage_copies_everything_the_wheel_needs() -> None:
    assert wheel_inputs() == {"pyproject.toml", "README.md", "bot", "remediations", "templates", "migrations"}
    copied = {source.rstrip("/") for sources, _ in copies(build_stage()) for source in sources}
    assert wheel_inputs() <= copied


def _ignore_patterns() -> list[tuple[re.Pattern[str], bool]]:
    """.dockerignore as Docker reads it (moby/patternmatcher): comments skipped, paths cleaned, `!` re-includes,
    `**` any number of directories, `*` and `?` within one, the last matching pattern wins."""
    patterns = []
    for raw in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        text = os.path.normpath(line[1:].strip() if include else line).lstrip("/")
        regex, i = "", 0
        while i < len(text):
            if text.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif text.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif text[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif text[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif text[i] == "[":
                end = text.index("]", i)
                regex, i = regex + "[" + text[i + 1:end].replace("!", "^", 1) + "]", end + 1
            else:
                regex, i = regex + re.escape(text[i]), i + 1
        patterns.append((re.compile(f"^{regex}$"), include))
    return patterns


def ignored(path: str) -> bool:
    """Whether Docker leaves `path` (relative, POSIX) out of the build context."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]  # the path or one of its parents
    excluded = False
    for pattern, include in _ignore_patterns():
        if any(pattern.match(c) for c in candidates):
            excluded = not include
    return excluded


def context_files() -> Iterator[str]:
    """The repository files Docker would send as the build context."""
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel = Path(dirpath).relative_to(ROOT)
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            path = (rel / name).as_posix()
            if not ignored(path):
                yield path


def test_the_dockerignore_keeps_the_wheel_inputs_and_drops_the_rest() -> None:
    assert not ignored("pyproject.toml") and not ignored("README.md")
    for tree in ("bot", "remediations", "templates", "migrations"):
        files = [p.relative_to(ROOT).as_posix() for p in (ROOT / tree).rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts]
        assert files, tree
        kept = [f for f in files if not ignored(f)]
        assert kept == files, f"{tree}: {sorted(set(files) - set(kept))[:5]} would be missing from the context"
    for dropped in (".git/HEAD", ".venv/bin/python", "tests/test_dockerfile.py", "bench/x.py", "examples/x/y.json",
                    "bot/__pycache__/cli.cpython-311.pyc", "migrations/versions/__pycache__/x.pyc", ".env",
                    "keda-auth.db", "bundle-prod/manifest.json"):
        assert ignored(dropped), dropped
    top = {PurePosixPath(p).parts[0] for p in context_files()}
    assert top == {"pyproject.toml", "README.md", "bot", "remediations", "templates", "migrations"}


def stage_build_context(into: Path) -> Path:
    """The build stage's WORKDIR after its COPY instructions, from the .dockerignore-filtered context."""
    context = set(context_files())
    workdir = PurePosixPath("/")
    for instruction in build_stage().instructions:
        if instruction.keyword == "WORKDIR":
            workdir = workdir / instruction.args
        if instruction.keyword not in ("COPY", "ADD"):
            continue
        flags, words = instruction.flags_and_words()
        assert "from" not in flags
        *sources, dest = words
        target = workdir / dest
        for named in sources:
            source = named.rstrip("/")
            files = [f for f in context if f == source or f.startswith(source + "/")]
            assert files, f"COPY {source}: nothing in the build context"
            for rel in files:
                if rel == source:  # a file: into the destination directory (trailing /) or as it
                    out = target / PurePosixPath(rel).name if dest.endswith("/") else target
                else:  # a directory: its contents into the destination
                    out = target / PurePosixPath(rel).relative_to(source)
                path = into / out.relative_to("/")
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ROOT / rel, path)
    return into / workdir.relative_to("/")


def test_the_wheel_built_from_the_build_stage_context_carries_templates_and_migrations(tmp_path: Path) -> None:
    source = stage_build_context(tmp_path / "image")
    out = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir",
                    "--disable-pip-version-check", "-q", "-w", str(out), "."],
                   cwd=source, check=True, capture_output=True, timeout=120)
    [wheel] = out.glob("keda_auth-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    migrations = {f"bot/_migrations/versions/{p.name}" for p in (ROOT / "migrations" / "versions").glob("*.py")}
    assert migrations and migrations <= names
    assert {"bot/_migrations/env.py", "bot/_migrations/script.py.mako"} <= names
    templates = {f"bot/_templates/{p.relative_to(ROOT / 'templates').as_posix()}"
                 for p in (ROOT / "templates").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert templates and templates <= names
    assert {"bot/cli.py", "bot/store/db.py", "remediations/fixes/role_assignment.py"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "keda-auth = bot.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
