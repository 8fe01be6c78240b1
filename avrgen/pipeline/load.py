"""Load stage: blueprint files -> plain documents that remember where each field was written.

Every scalar stays the text the user wrote (no YAML 1.1 `no` -> False, `0123` -> 83): we
build the data ourselves from the parser's events, so pydantic coerces only where a field
really is a number or a bool. Duplicate keys, merge keys, anchors that explode and
foreign tags are errors here, each with its file and line.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

from avrgen.errors import BlueprintError, Problem

try:  # the C parser is several times faster and keeps marks just as well
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]
SafeLoader = _Loader  # for plain YAML elsewhere (the catalog): the C one when there is one

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_NODES = 200_000  # per document, counting every alias expansion
MAX_DEPTH = 64  # nesting of mappings and lists; blueprints need about 6

_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_MAP_TAG, _SEQ_TAG, _MERGE_TAG = _CORE + "map", _CORE + "seq", _CORE + "merge"
_NULL_TAG = _CORE + "null"

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


# The plain scalars SafeLoader's resolver tags outside _ALLOWED_TAGS (`<<` merge, `=` value,
# and the never-plain `!`, `&`, `*`); every other plain scalar resolves to an allowed tag.
_ODD_PLAIN = frozenset(("<<", "=", "!", "&", "*"))
_TOO_LARGE = f"document too large (more than {MAX_NODES} values, aliases expanded)"
_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"
# PyYAML 6.0.4's scanner has a nesting limit of its own (1,000 levels, and it scans a line of
# flow brackets ahead of the events): its error is the same problem as ours, said our way
_NESTING_LIMIT = "maximum nesting depth"
_MERGE = "merge keys (<<) are not supported; write the keys out"
_NOT_A_MAPPING = "a document must be a mapping with a `kind`"
_COLLECTION_TAGS = (None, "!", _MAP_TAG, _SEQ_TAG)  # None and `!`: resolved to map or seq
_KEY, _VALUE, _ITEM, _ROOT, _DONE = range(5)  # where the next node goes


def _read_documents(loader: Any, file: str, documents: list[Document]) -> None:
    """The parser's events -> plain documents, in one pass with an explicit stack (no recursion).

    It refuses tags, non-plain and duplicate keys, NUL, MAX_NODES and MAX_DEPTH at the node
    where it meets them, so the first problem in the file is the one reported. An alias
    replays the events recorded for its anchor, so its copy is counted, nested and located
    (lines of the anchored text) exactly like a composed alias node was.
    """
    get_event, resolve = loader.get_event, loader.resolve
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    mapping_start, sequence_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    mapping_end, sequence_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    allowed, collection_tags, odd = _ALLOWED_TAGS, _COLLECTION_TAGS, _ODD_PLAIN
    count = depth = root_line = 0
    mode, key, path = _DONE, "", ()
    container: Any = None
    anchor: str | None = None  # the anchor of the open collection, while its events are recorded
    stack: list[tuple[Any, Path_, int, str | None]] = []
    lines: dict[Path_, int] = {}
    anchors: dict[str, list[yaml.Event]] = {}
    open_anchors: dict[str, int] = {}  # anchor -> line, while its collection is being read
    recording: list[list[yaml.Event]] = []
    replay: list[Iterator[yaml.Event]] = []
    while True:
        if replay:
            event = next(replay[-1], None)
            if event is None:
                replay.pop()
                continue
            raw = False
        else:
            event = get_event()
            raw = True
            if recording:
                for events in recording:
                    events.append(event)
        cls = event.__class__
        if cls is scalar_event:
            value, tag = event.value, event.tag
            if tag is None or tag == "!":
                tag = None  # resolved: allowed, unless it is one of the odd plain scalars
                if value in odd and event.implicit[0]:
                    tag = resolve(yaml.ScalarNode, value, event.implicit)
            if (
                mode == _ROOT
                and not value
                and (tag == _NULL_TAG or (not tag and event.implicit[0]))
            ):
                mode = _DONE  # an empty document (`---` followed by nothing) is skipped
                continue
            if mode == _KEY and tag == _MERGE_TAG:
                raise _Problem(event.start_mark.line + 1, _MERGE, path)
            count += 1
            if (
                count > MAX_NODES
                or depth >= MAX_DEPTH
                or (tag is not None and tag not in allowed)
                or "\x00" in value
            ):
                where = _where(mode, path, key, container)
                _refuse(event, count, depth, tag, allowed, where)
            if mode == _KEY:
                line = event.start_mark.line + 1
                if value in container:
                    first = lines[(*path, value)]
                    message = f"duplicate key {value!r} (first written on line {first})"
                    raise _Problem(line, message, (*path, value))
                lines[(*path, value)] = line
                key, mode = value, _VALUE
            elif mode == _VALUE:
                container[key] = value
                mode = _KEY
            elif mode == _ITEM:
                lines[(*path, len(container))] = event.start_mark.line + 1
                container.append(value)
            else:
                raise _Problem(event.start_mark.line + 1, _NOT_A_MAPPING)
            if raw and event.anchor is not None:
                _anchor(event, anchors)
                anchors[event.anchor] = [event]
        elif cls is mapping_start or cls is sequence_start:
            tag, line = event.tag, event.start_mark.line + 1
            if mode == _KEY:
                if tag == _MERGE_TAG:
                    raise _Problem(line, _MERGE, path)
                raise _Problem(line, "a key must be plain text")
            count += 1
            if count > MAX_NODES or depth >= MAX_DEPTH or tag not in collection_tags:
                where = _where(mode, path, key, container)
                _refuse(event, count, depth, tag, collection_tags, where)
            new: Any = {} if cls is mapping_start else []
            stack.append((container, path, _KEY if mode == _VALUE else mode, anchor))
            if mode == _VALUE:
                path = (*path, key)
                container[key] = new
            elif mode == _ITEM:
                path = (*path, len(container))
                lines[path] = line
                container.append(new)
            else:
                root_line = line
            container, mode, depth, anchor = (
                new,
                _KEY if cls is mapping_start else _ITEM,
                depth + 1,
                None,
            )
            if raw and event.anchor is not None:
                _anchor(event, anchors)
                anchor = event.anchor
                anchors[anchor] = events = [event]
                open_anchors[anchor] = line
                recording.append(events)
        elif cls is mapping_end or cls is sequence_end:
            if anchor is not None:  # its recording is complete: aliases may replay it
                recording.pop()
                del open_anchors[anchor]
            done = container
            container, path, mode, anchor = stack.pop()
            depth -= 1
            if mode == _ROOT:
                if done.__class__ is not dict:
                    raise _Problem(root_line, _NOT_A_MAPPING)
                documents.append(Document(file, root_line, done, lines))
                mode = _DONE
        elif cls is alias_event:
            name = event.anchor
            if name not in anchors:
                line = event.start_mark.line + 1
                raise _Problem(line, f"invalid YAML: alias *{name} names no anchor before it")
            line = open_anchors.get(name, 0)
            if not line:
                replay.append(iter(anchors[name]))
                continue
            # an alias inside its own anchor: the composed node was its own ancestor
            if mode == _KEY:
                raise _Problem(line, "a key must be plain text")
            if count >= MAX_NODES:
                raise _Problem(line, _TOO_LARGE)
            raise _Problem(line, "recursive alias")
        elif cls is yaml.DocumentStartEvent:
            count = depth = 0
            mode, path, container, anchor = _ROOT, (), None, None
            lines, anchors, open_anchors = {}, {}, {}
        elif cls is yaml.StreamEndEvent:
            return


def _anchor(event: yaml.NodeEvent, anchors: dict[str, list[yaml.Event]]) -> None:
    """Refuse a second anchor of the same name in a document, as the composer does."""
    if event.anchor in anchors:
        line = event.start_mark.line + 1
        raise _Problem(line, f"invalid YAML: anchor &{event.anchor} defined twice")


def _where(mode: int, path: Path_, key: str, container: Any) -> Path_:
    """The path of the node about to be read (a key's problems name its mapping)."""
    if mode == _VALUE:
        return (*path, key)
    if mode == _ITEM:
        return (*path, len(container))
    return path


def _refuse(
    event: yaml.NodeEvent,
    count: int,
    depth: int,
    tag: str | None,
    allowed: Collection[str | None],
    where: Path_,
) -> NoReturn:
    """Raise the first problem of a node, in the order building from composed nodes met them
    (the last one left, when none of the others holds, is a NUL character in the value)."""
    line = event.start_mark.line + 1
    if count > MAX_NODES:
        raise _Problem(line, _TOO_LARGE)
    if depth >= MAX_DEPTH:  # aliases can nest deeper than the text does
        raise _Problem(line, _TOO_DEEP)
    if tag is not None and tag not in allowed:
        raise _Problem(line, f"tag {tag!r} is not allowed (plain values only)", where)
    raise _Problem(line, "NUL character in a value", where)


def parse_documents(text: str, file: str) -> list[Document]:
    """Parse one file's text into documents; raises BlueprintError naming file and line.

    The first problem met reading the file in order is the one reported, in avrgen's words
    whichever layer noticed it (the depth limit may be PyYAML's own scanner's, or ours)."""
    documents: list[Document] = []
    loader = _Loader(text)
    try:
        _read_documents(loader, file, documents)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        if _NESTING_LIMIT in str(exc.problem):
            raise BlueprintError([Problem(file, line, "", _TOO_DEEP)]) from None
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
