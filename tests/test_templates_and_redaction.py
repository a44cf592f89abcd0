"""Fix commands are rendered safely; secrets are scrubbed from any text."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from bot.redact import redact
from bot.templating import command, environment, template_dir
from tests.kit.fixtures import REPO

HOSTILE = ["it's", "$(rm -rf /)", "a b", "line1\nline2", "`id`", "; echo pwned", '"quoted"', "*"]


@pytest.mark.parametrize("value", HOSTILE)
def test_every_value_survives_the_shell_as_one_argument(value: str) -> None:
    rendered = command("kubectl-annotate", namespace=value, kind="serviceaccount", name=value,
                       key="azure.workload.identity/client-id", value=value)
    argv = shlex.split(rendered)
    assert argv[:3] == ["kubectl", "-n", value]
    assert argv[-1] == f"azure.workload.identity/client-id={value}"
    assert argv[argv.index("--") + 1:-1] == ["serviceaccount", value]  # positionals after --: never options
    fic = command("az-fic-create", fic_name=value, identity_name=value, resource_group=value,
                  issuer=value, subject=value, audience=value)
    assert shlex.split(fic).count(value) == 6


def test_missing_values_fail_loudly_instead_of_printing_blanks() -> None:
    with pytest.raises(UndefinedError):
        command("kubectl-rollout-restart", namespace="keda")


def test_templates_cannot_reach_python_internals() -> None:
    template = environment().from_string("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(SecurityError):
        template.render()


def test_every_template_parses_and_is_the_one_a_check_renders() -> None:
    files = {p.name.removesuffix(".sh.j2") for p in (template_dir() / "commands").glob("*.sh.j2")}
    for name in files:
        environment().get_template(f"commands/{name}.sh.j2")  # parses
    # Checks, remediation modules and undo commands all render templates, so all of them count as users.
    source = "\n".join(p.read_text() for folder in ("bot", "remediations") for p in (REPO / folder).rglob("*.py"))
    # Bare `command(` or `ctx.command(` only: click's `@cli.command("checks")` names a CLI verb, not a template.
    rendered = set(re.findall(r'(?<![\w.])(?:ctx\.)?command\(\s*"([a-z-]+)"', source))
    assert rendered - files == set(), "code renders a template that does not exist"
    assert files - rendered == set(), "a template no check, remediation or undo renders"


def test_templates_ship_inside_the_wheel(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                             "-w", str(tmp_path), str(REPO)], capture_output=True, text=True, check=False,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("keda_auth-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "bot/_templates/commands/kubectl-patch.sh.j2" in names
    assert "remediations/catalogue.py" in names


@pytest.mark.parametrize(("text", "secret"), [
    ("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=abcDEF123+/=", "abcDEF123"),
    ("DefaultEndpointsProtocol=https;AccountName=a;AccountKey=ZmFrZWtleQ==;EndpointSuffix=core", "ZmFrZWtleQ"),
    ("https://a.blob.core.windows.net/c?sv=2022-11-02&sig=AbC%2Bdef%3D&se=2026", "AbC%2Bdef"),
    ("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4eXoifQ.c2lnbmF0dXJl end", "c2lnbmF0dXJl"),
    ("Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz012345"),
    ("client_assertion=eyJ0eXAiOiJKV1QifQ.e30.sig&client_id=x", "eyJ0eXAiOiJKV1QifQ"),
])
def test_redaction_hides_secrets_and_keeps_equal_secrets_comparable(text: str, secret: str) -> None:
    once, twice = redact(text), redact(text)
    assert secret not in once
    assert "<redacted:" in once
    assert once == twice


def test_redaction_leaves_ordinary_text_alone() -> None:
    text = "AADSTS70021: No matching federated identity record found for system:serviceaccount:keda:keda-operator"
    assert redact(text) == text
