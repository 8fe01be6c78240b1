"""Load stage: blueprint files -> plain documents that remember where each field was written.

Every scalar stays the text the user wrote (no YAML 1.1 `no` -> False, `0123` -> 83): we
compose YAML nodes and build the data ourselves, so pydantic coerces only where a field
really is a number or a bool. Duplicate keys, merge keys, anchors that explode and
foreign tags are errors here, each with its file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from avrgen.errors import BlueprintError, Problem

try:  # the C parser is several times faster and keeps marks just as well
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

LOCK_NAME = "avrgen.lock"
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_NODES = 200_000  # per document, counting every alias expansion

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_MAP_TAG, _SEQ_TAG, _MERGE_TAG = _CORE + "map", _CORE + "seq", _CORE + "merge"

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Document:
    """One YAML document: its data (all scalars are str) and the line of every field."""

    file: str
    line: int
    data: dict[str, Any]
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int:
        """The line of the deepest written field on `path` (a missing field: its parent)."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return self.line

    @classmethod
    def from_dict(cls, data: dict[str, Any], file: str = "<test>", line: int = 1) -> Document:
        """A document without positions, for tests and programmatic use."""
        return cls(file=file, line=line, data=data)


class _Problem(Exception):
    def __init__(self, line: int, message: str) -> None:
        self.line, self.message = line, message


class _Builder:
    """Turns a composed node tree into plain data, recording the line of each path."""

    def __init__(self) -> None:
        self.lines: dict[Path_, int] = {}
        self.count = 0

    def build(self, node: yaml.Node, path: Path_, active: frozenset[int]) -> Any:
        self.count += 1
        line = node.start_mark.line + 1
        if self.count > MAX_NODES:
            raise _Problem(line, f"document too large (more than {MAX_NODES} values with aliases)")
        if id(node) in active:
            raise _Problem(line, "recursive alias")
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _ALLOWED_TAGS:
                raise _Problem(line, f"tag {node.tag!r} is not allowed (plain values only)")
            return node.value
        if node.tag not in (_MAP_TAG, _SEQ_TAG):
            raise _Problem(line, f"tag {node.tag!r} is not allowed (plain values only)")
        inner = active | {id(node)}
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = item.start_mark.line + 1
                items.append(self.build(item, (*path, index), inner))
            return items
        return self._mapping(node, path, inner)

    def _mapping(self, node: yaml.MappingNode, path: Path_, active: frozenset[int]) -> Any:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE_TAG:
                raise _Problem(key_line, "merge keys (<<) are not supported; write the keys out")
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Problem(key_line, "a key must be plain text")
            key = self.build(key_node, path, active)
            if key in result:
                first = self.lines[(*path, key)]
                raise _Problem(key_line, f"duplicate key {key!r} (first written on line {first})")
            self.lines[(*path, key)] = key_line
            result[key] = self.build(value_node, (*path, key), active)
        return result


def parse_documents(text: str, file: str) -> list[Document]:
    """Parse one file's text into documents; raises BlueprintError naming file and line."""
    documents: list[Document] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            builder = _Builder()
            data = builder.build(node, (), frozenset())
            line = node.start_mark.line + 1
            if not isinstance(data, dict):
                raise _Problem(line, "a document must be a mapping with a `kind`")
            documents.append(Document(file, line, data, builder.lines))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        raise BlueprintError([Problem(file, line, "", f"invalid YAML: {message}")]) from None
    except yaml.YAMLError as exc:
        raise BlueprintError([Problem(file, 0, "", f"invalid YAML: {exc}")]) from None
    except _Problem as exc:
        raise BlueprintError([Problem(file, exc.line, "", exc.message)]) from None
    finally:
        loader.dispose()
    return documents


def blueprint_files(folder: Path) -> list[Path]:
    """Every *.yaml / *.yml below `folder`, recursively, in sorted path order."""
    if not folder.is_dir():
        raise BlueprintError([Problem(str(folder), 0, "", "blueprint folder not found")])
    root = folder.resolve()
    found = []
    for path in _walk(folder, root, set()):
        if path.suffix in (".yaml", ".yml"):
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _walk(folder: Path, root: Path, seen: set[Path]) -> Iterator[Path]:
    real = folder.resolve()
    if real in seen or not real.is_relative_to(root):
        return  # a symlink loop, or a link leading out of the blueprint folder
    seen.add(real)
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from _walk(entry, root, seen)
        elif entry.is_file() and entry.resolve().is_relative_to(root):
            yield entry


def load_blueprints(folder: Path) -> list[Document]:
    """Load every blueprint document under `folder`; reports the problems of all files at once."""
    documents: list[Document] = []
    problems: list[Problem] = []
    for path in blueprint_files(folder):
        name = path.as_posix()
        try:
            documents.extend(parse_documents(_read_text(path, name), name))
        except BlueprintError as exc:
            problems.extend(exc.problems)
    if problems:
        raise BlueprintError(problems)
    return documents


def _read_text(path: Path, name: str) -> str:
    if path.stat().st_size > MAX_FILE_BYTES:
        raise BlueprintError([Problem(name, 0, "", f"file larger than {MAX_FILE_BYTES} bytes")])
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # a BOM is harmless: accept it
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BlueprintError([Problem(name, line, "", "not valid UTF-8 text")]) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise BlueprintError([Problem(name, line, "", "NUL byte in file")])
    return text


def read_lock(folder: Path) -> dict[str, dict[str, int]]:
    """The port assignments recorded in `folder/avrgen.lock` (empty when there is none)."""
    path = folder / LOCK_NAME
    if not path.is_file():
        return {}
    name = path.as_posix()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        agents = data["agents"]
        return {
            str(agent): {str(role): int(port) for role, port in ports.items()}
            for agent, ports in agents.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        problem = Problem(name, 0, "", f"unreadable lock file ({exc}); delete it to start afresh")
        raise BlueprintError([problem]) from None
