"""Parse YAML streams and JSON into documents with the line each document starts at.

A document that does not parse is reported with its path and line; the documents around it in the
same file are still read.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

_DOC_SEPARATOR = re.compile(r"^---(?:[ \t].*)?$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Document:
    data: Any
    line: int


@dataclass(frozen=True, slots=True)
class ParseFailure:
    line: int | None
    message: str


def parse_json(text: str) -> Iterator[Document | ParseFailure]:
    try:
        yield Document(json.loads(text), 1)
    except json.JSONDecodeError as exc:
        yield ParseFailure(exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")


def _yaml_documents(text: str, line_offset: int) -> Iterator[Document]:
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            yield Document(loader.construct_document(node), node.start_mark.line + 1 + line_offset)
    finally:
        loader.dispose()


def _failure(exc: yaml.YAMLError, line_offset: int) -> ParseFailure:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 + line_offset if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return ParseFailure(line, f"invalid YAML: {problem}")


def parse_yaml(text: str) -> Iterator[Document | ParseFailure]:
    try:
        documents = list(_yaml_documents(text, 0))
    except yaml.YAMLError:
        documents = None
    if documents is not None:
        yield from documents
        return
    # Re-read document by document so one broken document does not hide its neighbours.
    starts = {0, *(m.start() for m in _DOC_SEPARATOR.finditer(text))}
    bounds = [*sorted(starts), len(text)]
    for begin, end in itertools.pairwise(bounds):
        chunk = text[begin:end]
        offset = text.count("\n", 0, begin)
        try:
            yield from _yaml_documents(chunk, offset)
        except yaml.YAMLError as exc:
            failure = _failure(exc, offset)
            # libyaml reports an unclosed bracket at end of input; point at the document's last line instead.
            last_line = offset + chunk.rstrip("\n").count("\n") + 1
            first_line = offset + 1 + (1 if chunk.startswith("---") else 0)
            line = min(failure.line or last_line, last_line)
            yield ParseFailure(line, f"{failure.message} (in the document starting at line {first_line})")
