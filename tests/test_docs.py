"""The operator's guide in docs/: the generated pages match the code, every check has its page, every relative
link resolves, and every environment variable the code reads is documented."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import docs_gen
from bot.approval import policy
from bot.diagnosis.registry import all_checks
from tests.kit.fixtures import REPO, SHARED

DOCS = REPO / "docs"
CATALOGUE = SHARED / "knowledge" / "failure-modes.md"
REGENERATE = "regenerate with `python -m bot.docs_gen` and commit the result"
GENERATED_FILES = ("reference/cli.md", "reference/policy.md")

# Files being written by others that the docs already link to, as {path: what}. The link test accepts them while
# they are absent and fails once one exists, so that its entry is removed.
PENDING: dict[str, str] = {}


def _committed(relative: str) -> str:
    path = DOCS / relative
    return path.read_text(encoding="utf-8") if path.is_file() else f"<{relative} is not committed>"


def _differences(generated: list[Path], out: Path, transform: bool) -> list[str]:
    problems = []
    for path in generated:
        relative = path.relative_to(out).as_posix()
        committed = DOCS / relative
        if not committed.is_file():
            problems.append(f"docs/{relative} is missing")
            continue
        want = committed.read_bytes()
        if transform and relative.startswith("failure-modes/"):
            want = docs_gen.strip_catalogue(want.decode("utf-8")).encode("utf-8")
        if path.read_bytes() != want:
            problems.append(f"docs/{relative} is out of date")
    return problems


def test_generated_pages_match_the_code(tmp_path: Path) -> None:
    """What the code says (checks, remediations, CLI options, policy keys); the failure-modes.md prose aside, so
    this holds in a checkout without ../shared too."""
    generated = docs_gen.generate(tmp_path, None)
    problems = _differences(generated, tmp_path, transform=True)
    names = {p.relative_to(tmp_path).as_posix() for p in generated}
    assert set(GENERATED_FILES) <= names
    extra = sorted(f"failure-modes/{p.name}" for p in (DOCS / "failure-modes").glob("*.md")
                   if f"failure-modes/{p.name}" not in names)
    problems += [f"docs/{e} belongs to no check" for e in extra]
    assert not problems, "; ".join(problems) + f": {REGENERATE}"


def test_failure_mode_pages_carry_the_catalogue(tmp_path: Path) -> None:
    if not CATALOGUE.is_file():
        pytest.skip(f"{CATALOGUE} is absent (set KEDA_AUTH_SHARED): the catalogue's prose is not compared")
    generated = [p for p in docs_gen.generate(tmp_path, CATALOGUE) if "failure-modes" in p.parts]
    problems = _differences(generated, tmp_path, transform=False)
    assert not problems, "; ".join(problems) + f" (failure-modes.md changed?): {REGENERATE}"


def test_the_catalogue_is_parsed_for_every_failure_mode() -> None:
    if not CATALOGUE.is_file():
        pytest.skip(f"{CATALOGUE} is absent (set KEDA_AUTH_SHARED)")
    entries = docs_gen.parse_failure_modes(CATALOGUE.read_text(encoding="utf-8"))
    checks = {spec.id for spec in all_checks()}
    assert entries, "no failure mode parsed from Part B"
    for entry in entries.values():
        assert entry.id in checks, f"failure mode {entry.id} has no registered check"
        missing = [f for f in ("Symptom", "Root cause", "Detect", "Fix", "Sources") if not entry.fields.get(f)]
        assert not missing, f"{entry.id}: parsed no {', '.join(missing)} from failure-modes.md"


def test_every_check_has_a_page_and_every_page_a_check() -> None:
    checks = {spec.id for spec in all_checks()}
    pages = {p.stem for p in (DOCS / "failure-modes").glob("*.md")} - {"README"}
    assert not checks - pages, f"checks without a page: {sorted(checks - pages)}: {REGENERATE}"
    assert not pages - checks, f"pages without a check: {sorted(pages - checks)}: {REGENERATE}"
    index = _committed("failure-modes/README.md")
    assert all(f"]({check}.md)" in index for check in checks), f"docs/failure-modes/README.md: {REGENERATE}"


def test_the_policy_reference_lists_every_key_the_parser_accepts() -> None:
    accepted = ([*policy._TOP_KEYS] + [f"allow.{k}" for k in policy._ALLOW_KEYS]
                + [f"tiers.<tier>.{k}" for k in policy._TIER_KEYS])
    assert sorted(docs_gen.POLICY_KEYS) == sorted(accepted), "bot/docs_gen.py POLICY_KEYS and the parser differ"
    reference = _committed("reference/policy.md")
    for key in accepted:
        assert f"| `{key}` |" in reference, f"docs/reference/policy.md lacks {key}: {REGENERATE}"
    for tier in policy._APPROVABLE:
        assert f"`{tier}`" in reference, f"docs/reference/policy.md lacks the tier {tier}: {REGENERATE}"


# ----------------------------------------------------------------------------------------------------- links

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_CODE = re.compile(r"(`+).+?\1")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def _prose_lines(text: str) -> Iterator[str]:
    """Lines outside fenced code blocks, with inline code removed (a link in code is not a link)."""
    fenced = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield _INLINE_CODE.sub("", line)


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors, with -1, -2… for repeated headings."""
    seen: dict[str, int] = {}
    anchors = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match:
            base = docs_gen.slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            anchors.add(base if count == 0 else f"{base}-{count}")
    return anchors


def _links(path: Path) -> Iterator[str]:
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        for match in _LINK.finditer(line):
            yield match.group(1)


def test_every_relative_link_in_the_docs_resolves() -> None:
    pages = sorted(DOCS.rglob("*.md"))
    assert pages, "docs/ holds no page"
    broken = []
    for page in pages:
        where = page.relative_to(REPO).as_posix()
        for target in _links(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (page.parent / file_part).resolve() if file_part else page
            try:
                relative = resolved.relative_to(REPO).as_posix()
            except ValueError:
                broken.append(f"{where}: {target} leaves the repository")
                continue
            if relative in PENDING:
                assert not resolved.exists(), f"{relative} exists now: remove it from PENDING in tests/test_docs.py"
                continue
            if not resolved.exists():
                broken.append(f"{where}: {target} ({relative} does not exist)")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{where}: {target} (no heading #{anchor} in {relative})")
    assert not broken, "broken links:\n" + "\n".join(broken)


# --------------------------------------------------------------------------------------- environment variables

def _environ_keys(node: ast.AST) -> list[ast.expr]:
    """The key expressions of an environment read: os.environ.get(K), os.environ[K], os.getenv(K), envvar=K."""
    def is_environ(value: ast.expr) -> bool:
        return (isinstance(value, ast.Attribute) and value.attr == "environ" and isinstance(value.value, ast.Name)
                and value.value.id == "os")

    keys: list[ast.expr] = []
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and node.args and (
                (func.attr in ("get", "pop", "setdefault") and is_environ(func.value))
                or (func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os")):
            keys.append(node.args[0])
        for keyword in node.keywords:
            if keyword.arg == "envvar":
                value = keyword.value
                keys += list(value.elts) if isinstance(value, ast.List | ast.Tuple) else [value]
    elif isinstance(node, ast.Subscript) and is_environ(node.value):
        keys.append(node.slice)
    return keys


def environment_reads(root: Path) -> dict[str, set[str]]:
    """Every environment variable the code under `root` reads, with the files that read it. Keys may be literals,
    module-level string constants (ENV_VAR = "X"), or the argument of a function that reads its parameter from
    os.environ (`_secret("SLACK_BOT_TOKEN")`)."""
    trees = {path: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(root.rglob("*.py"))}
    constants: dict[str, set[str]] = {}
    readers: set[str] = set()
    for tree in trees.values():
        for statement in tree.body:
            if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant) \
                    and isinstance(statement.value.value, str):
                for target in statement.targets:
                    if isinstance(target, ast.Name):
                        constants.setdefault(target.id, set()).add(statement.value.value)
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                params = {a.arg for a in function.args.args + function.args.kwonlyargs}
                if any(isinstance(k, ast.Name) and k.id in params
                       for n in ast.walk(function) for k in _environ_keys(n)):
                    readers.add(function.name)
    found: dict[str, set[str]] = {}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            keys = _environ_keys(node)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in readers \
                    and node.args:
                keys.append(node.args[0])
            for key in keys:
                names = ({key.value} if isinstance(key, ast.Constant) and isinstance(key.value, str)
                         else constants.get(key.id, set()) if isinstance(key, ast.Name) else set())
                for name in names:
                    found.setdefault(name, set()).add(path.relative_to(REPO).as_posix())
    return found


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    reads = environment_reads(REPO / "bot")
    known = {"KEDA_AUTH_DB", "KEDA_AUTH_POLICY", "KEDA_AUTH_ARM_ENDPOINT", "KEDA_AUTH_CA_BUNDLE", "KUBECONFIG",
             "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "XDG_STATE_HOME", "XDG_CONFIG_HOME"}
    assert known <= set(reads), f"the scan missed {sorted(known - set(reads))}: fix environment_reads"
    configuration = _committed("configuration.md")
    undocumented = {name: sorted(files) for name, files in reads.items() if f"`{name}`" not in configuration}
    assert not undocumented, f"read by the code but not documented in docs/configuration.md: {undocumented}"


# ---------------------------------------------------------------------------------------------- entry point

def test_the_entry_point_writes_the_pages_and_refuses_a_missing_catalogue(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert docs_gen.main([str(tmp_path / "out"), "--code-only"]) == 0
    assert (tmp_path / "out" / "reference" / "cli.md").is_file()
    assert docs_gen.main([str(tmp_path / "other"), "--failure-modes", str(tmp_path / "nowhere.md")]) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


def test_a_page_without_the_catalogue_is_the_page_with_its_blocks_removed() -> None:
    page = f"# t\n\nA\n\n{docs_gen.BEGIN}\nprose\n{docs_gen.END}\n\nB\n\n{docs_gen.BEGIN}\nmore\n{docs_gen.END}\n"
    assert docs_gen.strip_catalogue(page) == "# t\n\nA\n\nB\n"
