"""Environments: an environment's overlay documents merged into the base documents.

A document of the overlay with the same `kind` and name (`number` for kind number; the
one `settings`) as a base document deep-merges into it: mappings merge, lists and scalars
replace, a YAML null removes the key. Any other overlay document is added. Pure: loaded
documents in, documents out, every field keeping the file and line that set it, so a
validation error in a value an overlay set names the overlay's file and line.
"""

from __future__ import annotations

from typing import Any

from avrgen.errors import BlueprintError, Problem
from avrgen.model.document import Document, FieldPath, Null

Identity = tuple[str, str]  # (kind, name): what an overlay document is merged by

_SINGLETONS = frozenset({"settings"})  # one per blueprint set: merged whatever its name
_KEYED_BY = {"number": "number"}  # the field naming a document of this kind (else `name`)


def identity(document: Document) -> Identity | None:
    """What an overlay document merges by; None when it has no usable kind or name (it is
    then added, and validation says what is wrong with it)."""
    kind = document.data.get("kind")
    if not isinstance(kind, str) or isinstance(kind, Null):
        return None
    if kind in _SINGLETONS:
        return (kind, "")
    name = document.data.get(_KEYED_BY.get(kind, "name"))
    return (kind, name) if isinstance(name, str) and not isinstance(name, Null) else None


def apply_overlay(base: list[Document], overlay: list[Document]) -> list[Document]:
    """The base documents with the overlay's merged in, in the base's order, then the
    overlay's new documents in theirs. Two overlay documents for one base document are an
    error (which one wins would depend on file names)."""
    index: dict[Identity, int] = {}
    for position, document in enumerate(base):
        found = identity(document)
        if found is not None:
            index.setdefault(found, position)  # a duplicate in the base: validate reports it
    result = list(base)
    added: list[Document] = []
    seen: dict[Identity, Document] = {}
    problems: list[Problem] = []
    for document in overlay:
        found = identity(document)
        if found is not None and found in seen:
            first = seen[found]
            key = _key_path(found)
            file, line = document.position(key)
            where = f"{first.file}:{first.line_of(key)}"
            message = f"{_label(found)} is overlaid twice in this environment (first at {where})"
            problems.append(Problem(file, line, str(key[0]), message))
            continue
        if found is not None:
            seen[found] = document
        if found is not None and found in index:
            result[index[found]] = merge(result[index[found]], document)
        else:
            added.append(_new(document))
    if problems:
        raise BlueprintError(problems)
    return result + added


def merge(base: Document, overlay: Document) -> Document:
    """`overlay` deep-merged into `base`: the base's file and line, the overlay's positions
    for what it set (and for a key its null removed: "required" errors point there)."""
    lines, files = dict(base.lines), dict(base.files)
    found = identity(overlay)
    keep = {"kind", _KEYED_BY.get(found[0], "name")} if found else {"kind"}
    data = _merge(base.data, overlay, overlay.data, (), lines, files, keep)
    return Document(base.file, base.line, data, lines, files)


def _merge(
    base: dict[str, Any],
    overlay: Document,
    values: dict[str, Any],
    path: FieldPath,
    lines: dict[FieldPath, int],
    files: dict[FieldPath, str],
    keep: set[str],
) -> dict[str, Any]:
    result = dict(base)
    for key, value in values.items():
        if key in keep:  # kind and name: equal to the base's, which keeps its positions
            continue
        here = (*path, key)
        old = result.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            result[key] = _merge(old, overlay, value, here, lines, files, set())
            continue
        _forget(here, lines, files)
        _take(here, overlay, lines, files)
        if isinstance(value, Null):
            result.pop(key, None)
        else:
            result[key] = _plain(value)
    return result


def _forget(path: FieldPath, lines: dict[FieldPath, int], files: dict[FieldPath, str]) -> None:
    """Drop the positions of `path` and everything below it (replaced or removed)."""
    size = len(path)
    for known in [p for p in lines if p[:size] == path]:
        del lines[known]
        files.pop(known, None)


def _take(
    path: FieldPath, overlay: Document, lines: dict[FieldPath, int], files: dict[FieldPath, str]
) -> None:
    """The overlay's positions of `path` and everything below it."""
    size = len(path)
    for known, line in overlay.lines.items():
        if known[:size] == path:
            lines[known] = line
            files[known] = overlay.file


def _plain(value: Any) -> Any:
    """An overlay's value as a base document holds it: no null left in a mapping (its key
    is absent), a null list item as the text it was written."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not isinstance(v, Null)}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, Null):
        return str(value)
    return value


def _new(document: Document) -> Document:
    """An overlay document with no base one: added as it is, its nulls left out."""
    return Document(document.file, document.line, _plain(document.data), document.lines)


def _key_path(found: Identity) -> FieldPath:
    return ("kind",) if found[0] in _SINGLETONS else (_KEYED_BY.get(found[0], "name"),)


def _label(found: Identity) -> str:
    kind, name = found
    return kind if kind in _SINGLETONS else f"{kind} {name!r}"
