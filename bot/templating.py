"""Render the human fix commands from the Jinja templates in `templates/`.

Sandboxed and StrictUndefined: a template can neither reach Python internals nor silently print an
empty value. Every value placed in a shell command goes through the `q` filter (POSIX shell quoting).
"""

from __future__ import annotations

import json
import shlex
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

import bot


def template_dir() -> Path:
    installed = Path(bot.__file__).parent / "_templates"  # where the wheel puts them
    if installed.is_dir():
        return installed
    return Path(bot.__file__).resolve().parent.parent / "templates"  # a source checkout


def _shell_quote(value: Any) -> str:
    if value is None:
        raise ValueError("refusing to shell-quote None: a template was given a missing value")
    return shlex.quote(str(value))


def _jmespath_raw(value: Any) -> str:
    """Escape a value for a JMESPath raw string literal ('...'), so it cannot close the literal."""
    return str(value).replace("\\", "\\\\").replace("'", "\\'")


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=FileSystemLoader(str(template_dir())),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["q"] = _shell_quote
    env.filters["compact_json"] = _compact_json
    env.filters["jmespath_raw"] = _jmespath_raw
    return env


def render(template: str, /, **values: Any) -> str:
    return environment().get_template(template).render(**values).strip()


def command(template: str, /, **values: Any) -> str:
    """A command template under templates/commands/, by its base name."""
    return render(f"commands/{template}.sh.j2", **values)
