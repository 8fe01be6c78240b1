"""Load stage: blueprint files -> plain documents that remember where each field was written.

This module finds and reads the files (sorted, symlinks kept inside the folder, size and
encoding checked); yaml_reader turns each file's text into documents.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from avrgen.errors import BlueprintError, Problem
from avrgen.model.document import Document
from avrgen.pipeline.blueprint_files import blueprint_files
from avrgen.pipeline.yaml_reader import MAX_DEPTH, MAX_NODES, SafeLoader, parse_documents

MAX_FILE_BYTES = 8 * 1024 * 1024

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "Document",
    "SafeLoader",
    "blueprint_files",
    "load_blueprints",
    "parse_documents",
    "read_plain_yaml",
]


def load_blueprints(
    folder: Path, parse: Callable[[str, str], list[Document]] | None = None
) -> list[Document]:
    """Load every blueprint document under `folder`; reports the problems of all files at once.

    `parse` (text, file name) -> documents stands in for parse_documents (cache.DocumentCache).
    """
    documents: list[Document] = []
    problems: list[Problem] = []
    for path in blueprint_files(folder):
        name = path.as_posix()
        try:
            documents.extend((parse or parse_documents)(_read_text(path, name), name))
        except BlueprintError as exc:
            problems.extend(exc.problems)
    if problems:
        raise BlueprintError(problems)
    return documents


def read_plain_yaml(path: Path) -> Any:
    """One small YAML file that is not a blueprint (a catalog template), as plain typed data.

    It passes every check a blueprint file does first (size, UTF-8, depth, alias expansion,
    tags, duplicate and merge keys), so a template folder named by someone else's settings
    cannot crash, hang or exhaust avrgen either.
    """
    name = path.as_posix()
    text = _read_text(path, name)
    parse_documents(text, name)
    try:
        return yaml.load(text, Loader=SafeLoader)
    except yaml.YAMLError as exc:
        message = getattr(exc, "problem", None) or "invalid YAML"
        raise BlueprintError([Problem(name, 0, "", f"invalid YAML: {message}")]) from None


def _read_text(path: Path, name: str) -> str:
    try:
        with path.open("rb") as handle:  # read at most the limit, even if the file grows
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise BlueprintError([Problem(name, 0, "", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise BlueprintError([Problem(name, 0, "", f"file larger than {MAX_FILE_BYTES} bytes")])
    try:
        text = raw.decode("utf-8-sig")  # a BOM is harmless: accept it
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BlueprintError([Problem(name, line, "", "not valid UTF-8 text")]) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise BlueprintError([Problem(name, line, "", "NUL byte in file")])
    return text
