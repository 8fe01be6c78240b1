"""Load stage: blueprint files -> plain documents that remember where each field was written.

Every scalar stays the text the user wrote (no YAML 1.1 `no` -> False, `0123` -> 83): we
compose YAML nodes and build the data ourselves, so pydantic coerces only where a field
really is a number or a bool. Duplicate keys, merge keys, anchors that explode and
foreign tags are errors here, each with its file and line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from avrgen.errors import BlueprintError, Problem

try:  # the C parser is several times faster and keeps marks just as well
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]
SafeLoader = _Loader  # for plain YAML elsewhere (the catalog): the C one when there is one

LOCK_NAME = "avrgen.lock"
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_NODES = 200_000  # per document, counting every alias expansion
MAX_DEPTH = 64  # nesting of mappings and lists; blueprints need about 6
MAX_LOCK_BYTES = 16 * 1024 * 1024  # a lock is ~110 bytes an agent: 10,000 agents need 1.1 MB

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
    def __init__(self, line: int, message: str, path: Path_ = ()) -> None:
        self.line, self.message, self.path = line, message, path


class _Builder:
    """Turns a composed node tree into plain data, recording the line of each path."""

    def __init__(self) -> None:
        self.lines: dict[Path_, int] = {}
        self.count = 0

    def build(self, node: yaml.Node, path: Path_, active: frozenset[int]) -> Any:
        self.count += 1
        line = node.start_mark.line + 1
        if self.count > MAX_NODES:
            message = f"document too large (more than {MAX_NODES} values, aliases expanded)"
            raise _Problem(line, message)
        if id(node) in active:
            raise _Problem(line, "recursive alias")
        if len(active) >= MAX_DEPTH:  # aliases can nest deeper than the text does
            raise _Problem(line, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _ALLOWED_TAGS:
                raise _Problem(line, f"tag {node.tag!r} is not allowed (plain values only)", path)
            if "\x00" in node.value:
                raise _Problem(line, "NUL character in a value", path)
            return node.value
        if node.tag not in (_MAP_TAG, _SEQ_TAG):
            raise _Problem(line, f"tag {node.tag!r} is not allowed (plain values only)", path)
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
                message = "merge keys (<<) are not supported; write the keys out"
                raise _Problem(key_line, message, path)
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Problem(key_line, "a key must be plain text")
            key = self.build(key_node, path, active)
            if key in result:
                first = self.lines[(*path, key)]
                message = f"duplicate key {key!r} (first written on line {first})"
                raise _Problem(key_line, message, (*path, key))
            self.lines[(*path, key)] = key_line
            result[key] = self.build(value_node, (*path, key), active)
        return result


def parse_documents(text: str, file: str) -> list[Document]:
    """Parse one file's text into documents; raises BlueprintError naming file and line."""
    documents: list[Document] = []
    loader = _Loader(text)
    try:
        _check_depth(text)  # before composing: the composers recurse (the C one can crash)
        while loader.check_node():
            node = loader.get_node()
            if node is None or _is_empty(node):
                continue  # an empty document (`---` followed by nothing) is skipped
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
    except yaml.reader.ReaderError as exc:
        line = _line_at(text, exc.position)
        message = f"character {exc.character:#06x} is not allowed in YAML ({exc.reason})"
        raise BlueprintError([Problem(file, line, "", f"invalid YAML: {message}")]) from None
    except yaml.YAMLError as exc:
        raise BlueprintError([Problem(file, 0, "", f"invalid YAML: {exc}")]) from None
    except _Problem as exc:
        where = ".".join(str(step) for step in exc.path)
        raise BlueprintError([Problem(file, exc.line, where, exc.message)]) from None
    finally:
        loader.dispose()
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
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        message = getattr(exc, "problem", None) or "invalid YAML"
        raise BlueprintError([Problem(name, 0, "", f"invalid YAML: {message}")]) from None


def _check_depth(text: str) -> None:
    """Walk the parser's events (no recursion, nothing kept) and refuse nesting deeper than
    MAX_DEPTH or more than MAX_NODES values in a document, before anything is composed."""
    parser = _Loader(text)
    depth = count = 0
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, yaml.DocumentStartEvent):
                count = 0
            elif isinstance(event, yaml.NodeEvent):
                count += 1
                if count > MAX_NODES:
                    line = event.start_mark.line + 1
                    raise _Problem(line, f"document too large (more than {MAX_NODES} values)")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    line = event.start_mark.line + 1
                    raise _Problem(line, f"nested more than {MAX_DEPTH} levels deep")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    finally:
        parser.dispose()


def _is_empty(node: yaml.Node) -> bool:
    """A document with no content at all (not even `~`)."""
    return isinstance(node, yaml.ScalarNode) and node.tag == _CORE + "null" and node.value == ""


def _line_at(text: str, position: int) -> int:
    """The line of a reader error's position (the C reader counts UTF-8 bytes)."""
    if _Loader.__name__.startswith("C"):
        return text.encode("utf-8", "surrogatepass")[:position].count(b"\n") + 1
    return text[:position].count("\n") + 1


def blueprint_files(folder: Path) -> list[Path]:
    """Every *.yaml / *.yml below `folder`, recursively, in sorted path order."""
    if not folder.is_dir():
        raise BlueprintError([Problem(str(folder), 0, "", "blueprint folder not found")])
    root = folder.resolve()
    found = []
    problems: list[Problem] = []
    for path in _walk(folder, root, set(), problems):
        if path.suffix in (".yaml", ".yml"):
            found.append(path)
    if problems:
        raise BlueprintError(problems)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _walk(folder: Path, root: Path, seen: set[Path], problems: list[Problem]) -> Iterator[Path]:
    """Files below `folder`; symlinks are followed only while they stay inside `root`.

    A link that leaves the blueprint folder, a link loop or a dangling link is an error
    naming the link: a blueprint folder from someone else's branch must not make avrgen
    read (and quote in errors) files elsewhere on the machine.
    """
    real = folder.resolve()
    if real in seen:
        if folder.is_symlink() and folder.parent.resolve().is_relative_to(real):
            problems.append(Problem(folder.as_posix(), 0, "", "symlink loop; not followed"))
        return  # else: the same folder under a second name, already read
    seen.add(real)
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            blueprint = entry.suffix in (".yaml", ".yml")
            try:
                target = entry.resolve(strict=True)
            except (OSError, RuntimeError):  # dangling, or a loop of file links
                if blueprint:
                    problems.append(Problem(entry.as_posix(), 0, "", "broken symlink"))
                continue
            if not (blueprint or target.is_dir()):
                continue  # a link to a README or the lock: not a blueprint, not read here
            if not target.is_relative_to(root):
                message = f"symlink leads outside the blueprint folder (to {target}); not read"
                problems.append(Problem(entry.as_posix(), 0, "", message))
                continue
        if entry.is_dir():
            yield from _walk(entry, root, seen, problems)
        elif entry.is_file():
            yield entry


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


def read_lock(folder: Path) -> dict[str, dict[str, int]]:
    """The port assignments recorded in `folder/avrgen.lock` (empty when there is none)."""
    path = folder / LOCK_NAME
    if not path.is_file():
        return {}
    name = path.as_posix()
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_LOCK_BYTES + 1)
        if len(raw) > MAX_LOCK_BYTES:
            raise ValueError(f"larger than {MAX_LOCK_BYTES} bytes")
        data = json.loads(raw.decode("utf-8"))
        agents = data["agents"]
        return {
            str(agent): {str(role): _lock_port(port) for role, port in ports.items()}
            for agent, ports in agents.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError) as exc:
        problem = Problem(name, 0, "", f"unreadable lock file ({exc}); delete it to start afresh")
        raise BlueprintError([problem]) from None


def _lock_port(port: Any) -> int:
    if not isinstance(port, int) or isinstance(port, bool):
        raise ValueError(f"port {port!r} is not a whole number")
    return port
