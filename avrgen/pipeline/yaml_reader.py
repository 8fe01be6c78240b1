"""The YAML event reader: one file's text -> plain documents, every scalar the text written.

We build the data ourselves from the parser's events (no YAML 1.1 `no` -> False, `0123` ->
83), so pydantic coerces only where a field really is a number or a bool. Duplicate keys,
merge keys, anchors that explode and foreign tags are errors here, each with its line.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import replace
from typing import Any, NoReturn

import yaml

from avrgen.errors import BlueprintError, Problem
from avrgen.model.document import Document, FieldPath, Null

try:  # the C parser is several times faster and keeps marks just as well
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader  # type: ignore[assignment]  # same interface, in Python

__all__ = ["ALLOWED_TAGS", "MAX_DEPTH", "MAX_NODES", "ODD_PLAIN", "SafeLoader", "parse_documents"]

MAX_NODES = 200_000  # per document, counting every alias expansion
MAX_DEPTH = 64  # nesting of mappings and lists; blueprints need about 6

_CORE = "tag:yaml.org,2002:"
ALLOWED_TAGS = frozenset(_CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_MAP_TAG, _SEQ_TAG, _MERGE_TAG = _CORE + "map", _CORE + "seq", _CORE + "merge"
_NULL_TAG = _CORE + "null"
_NULL_TEXT = frozenset(("", "~", "null", "Null", "NULL"))  # the plain scalars that are null
# The plain scalars SafeLoader's resolver tags outside ALLOWED_TAGS (`<<` merge, `=` value,
# and the never-plain `!`, `&`, `*`); every other plain scalar resolves to an allowed tag.
ODD_PLAIN = frozenset(("<<", "=", "!", "&", "*"))

_TOO_LARGE = f"document too large (more than {MAX_NODES} values, aliases expanded)"
_TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"
# PyYAML 6.0.4's scanner has a nesting limit of its own (1,000 levels, and it scans a line of
# flow brackets ahead of the events): its error is the same problem as ours, said our way
_NESTING_LIMIT = "maximum nesting depth"
_MERGE = "merge keys (<<) are not supported; write the keys out"
_NOT_A_MAPPING = "a document must be a mapping with a `kind`"
_COLLECTION_TAGS = (None, "!", _MAP_TAG, _SEQ_TAG)  # None and `!`: resolved to map or seq
_KEY, _VALUE, _ITEM, _ROOT, _DONE = range(5)  # where the next node goes


class _Problem(Exception):
    def __init__(self, line: int, message: str, path: FieldPath = ()) -> None:
        self.line, self.message, self.path = line, message, path


def parse_documents(text: str, file: str, nulls: bool = False) -> list[Document]:
    """Parse one file's text into documents; raises BlueprintError naming file and line.

    `nulls` (an environment's overlay): a mapping value that is a YAML null is a Null
    (which removes the key), not the text written.

    The first problem met reading the file in order is the one reported, in avrgen's words
    whichever layer noticed it (the depth limit may be PyYAML's own scanner's, or ours)."""
    documents: list[Document] = []
    loader = SafeLoader(text)
    try:
        _read_documents(loader, file, documents, nulls)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # the end of a file without a final line break is on its last line, not the next
        line = min(_lines(text, mark.line + 1), text.count("\n") + 1) if mark else 0
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
        raise BlueprintError([Problem(file, _lines(text, exc.line), where, exc.message)]) from None
    finally:
        loader.dispose()
    if _ODD_BREAK.search(text) is None:
        return documents
    table = _newline_lines(text)
    return [
        replace(
            doc,
            line=_on(table, doc.line),
            lines={path: _on(table, line) for path, line in doc.lines.items()},
        )
        for doc in documents
    ]


# YAML breaks lines at a lone CR, NEL, LS and PS too; editors, grep and compose at "\n" only
_ODD_BREAK = re.compile("\r(?!\n)|[\x85\u2028\u2029]")
_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _newline_lines(text: str) -> list[int]:
    """For each of YAML's lines (0-based), the "\\n"-counted line it starts on."""
    table, newlines = [1], 0
    for found in _BREAK.finditer(text):
        newlines += "\n" in found.group()
        table.append(newlines + 1)
    return table


def _on(table: list[int], line: int) -> int:
    return table[line - 1] if 0 < line <= len(table) else line


def _lines(text: str, line: int) -> int:
    """YAML's 1-based `line` of `text` as a "\\n"-counted line (what an editor shows)."""
    return line if _ODD_BREAK.search(text) is None else _on(_newline_lines(text), line)


def _read_documents(
    loader: SafeLoader, file: str, documents: list[Document], nulls: bool = False
) -> None:
    """The parser's events -> plain documents, in one pass with an explicit stack (no recursion).

    It refuses tags, non-plain and duplicate keys, NUL, MAX_NODES and MAX_DEPTH at the node
    where it meets them, so the first problem in the file is the one reported. An alias
    replays the events recorded for its anchor, so its copy is counted, nested and located
    (lines of the anchored text) exactly like a composed alias node was.
    """
    get_event, resolve = loader.get_event, loader.resolve
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    collection_start, collection_end = yaml.CollectionStartEvent, yaml.CollectionEndEvent
    mapping_start = yaml.MappingStartEvent
    allowed, collection_tags, odd = ALLOWED_TAGS, _COLLECTION_TAGS, ODD_PLAIN
    count = depth = root_line = 0
    mode, key = _DONE, ""
    path: FieldPath = ()
    container: Any = None  # a dict in modes _KEY and _VALUE, a list in mode _ITEM
    anchor: str | None = None  # the anchor of the open collection, while its events are recorded
    stack: list[tuple[Any, FieldPath, int, str | None]] = []
    lines: dict[FieldPath, int] = {}
    anchors: dict[str, list[yaml.Event]] = {}
    open_anchors: dict[str, int] = {}  # anchor -> line, while its collection is being read
    recording: list[list[yaml.Event]] = []
    replay: list[Iterator[yaml.Event]] = []
    while True:
        event: yaml.Event | None
        if replay:
            event = next(replay[-1], None)
            if event is None:
                replay.pop()
                continue
            raw = False
        else:
            event = get_event()
            if event is None:  # past the end of the stream, whose end event returned
                return
            raw = True
            if recording:
                for events in recording:
                    events.append(event)
        if isinstance(event, scalar_event):
            value, tag = event.value, event.tag
            if tag is None or tag == "!":
                tag = None  # resolved: allowed, unless it is one of the odd plain scalars
                if value in odd and event.implicit[0]:
                    # types-PyYAML leaves Resolver.resolve untyped; it returns a tag (str)
                    tag = resolve(yaml.ScalarNode, value, event.implicit)  # type: ignore[no-untyped-call]
            if (
                mode == _ROOT
                and not value
                and (tag == _NULL_TAG or (not tag and event.implicit[0]))
            ):
                mode = _DONE  # an empty document (`---` followed by nothing) is skipped
                continue
            if mode == _KEY and tag == _MERGE_TAG:
                raise _Problem(_line(event), _MERGE, path)
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
                line = _line(event)
                if value in container:
                    first = lines[(*path, value)]
                    message = f"duplicate key {value!r} (first written on line {first})"
                    raise _Problem(line, message, (*path, value))
                lines[(*path, value)] = line
                key, mode = value, _VALUE
            elif mode == _VALUE:
                if nulls and _is_null(event):
                    value = Null(value)
                container[key] = value
                mode = _KEY
            elif mode == _ITEM:
                lines[(*path, len(container))] = _line(event)
                container.append(value)
            else:
                raise _Problem(_line(event), _NOT_A_MAPPING)
            if raw and event.anchor is not None:
                _anchor(event, anchors)
                anchors[event.anchor] = [event]
        elif isinstance(event, collection_start):
            tag, line = event.tag, _line(event)
            if mode == _KEY:
                if tag == _MERGE_TAG:
                    raise _Problem(line, _MERGE, path)
                raise _Problem(line, "a key must be plain text")
            count += 1
            if count > MAX_NODES or depth >= MAX_DEPTH or tag not in collection_tags:
                where = _where(mode, path, key, container)
                _refuse(event, count, depth, tag, collection_tags, where)
            is_mapping = isinstance(event, mapping_start)
            new: Any = {} if is_mapping else []
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
            container, mode, depth, anchor = new, _KEY if is_mapping else _ITEM, depth + 1, None
            if raw and event.anchor is not None:
                _anchor(event, anchors)
                anchor = event.anchor
                anchors[anchor] = events = [event]
                open_anchors[anchor] = line
                recording.append(events)
        elif isinstance(event, collection_end):
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
        elif isinstance(event, alias_event):
            name = event.anchor
            if name is None or name not in anchors:
                raise _Problem(
                    _line(event), f"invalid YAML: alias *{name} names no anchor before it"
                )
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
        elif isinstance(event, yaml.DocumentStartEvent):
            count = depth = 0
            mode, path, container, anchor = _ROOT, (), None, None
            lines, anchors, open_anchors = {}, {}, {}
        elif isinstance(event, yaml.StreamEndEvent):
            return


def _is_null(event: yaml.ScalarEvent) -> bool:
    if event.tag == _NULL_TAG:
        return True
    return event.tag is None and event.implicit[0] and event.value in _NULL_TEXT


def _line(event: yaml.Event) -> int:
    """The 1-based line an event starts on (the parser gives every event a mark)."""
    mark = event.start_mark
    return mark.line + 1 if mark is not None else 0


def _anchor(event: yaml.NodeEvent, anchors: dict[str, list[yaml.Event]]) -> None:
    """Refuse a second anchor of the same name in a document, as the composer does."""
    if event.anchor in anchors:
        raise _Problem(_line(event), f"invalid YAML: anchor &{event.anchor} defined twice")


def _where(mode: int, path: FieldPath, key: str, container: Any) -> FieldPath:
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
    where: FieldPath,
) -> NoReturn:
    """Raise the first problem of a node, in the order building from composed nodes met them
    (the last one left, when none of the others holds, is a NUL character in the value)."""
    line = _line(event)
    if count > MAX_NODES:
        raise _Problem(line, _TOO_LARGE)
    if depth >= MAX_DEPTH:  # aliases can nest deeper than the text does
        raise _Problem(line, _TOO_DEEP)
    if tag is not None and tag not in allowed:
        raise _Problem(line, f"tag {tag!r} is not allowed (plain values only)", where)
    raise _Problem(line, "NUL character in a value", where)


def _line_at(text: str, position: int) -> int:
    """The line of a reader error's position (the C reader counts UTF-8 bytes)."""
    if SafeLoader.__name__.startswith("C"):
        return text.encode("utf-8", "surrogatepass")[:position].count(b"\n") + 1
    return text[:position].count("\n") + 1
