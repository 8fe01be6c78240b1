"""A loaded blueprint document: plain data that remembers where each field was written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FieldPath = tuple[str | int, ...]  # keys and list indexes from the document's root


@dataclass(frozen=True)
class Document:
    """One YAML document: its data (all scalars are str) and the line of every field.

    `files`: the file of each field written elsewhere than `file` (by an environment's
    overlay merged into a base document: avrgen/pipeline/overlay.py).
    """

    file: str
    line: int
    data: dict[str, Any]
    lines: dict[FieldPath, int] = field(default_factory=dict)
    files: dict[FieldPath, str] = field(default_factory=dict)

    def line_of(self, path: FieldPath) -> int:
        """The line of the deepest written field on `path` (a missing field: its parent)."""
        return self.position(path)[1]

    def file_of(self, path: FieldPath) -> str:
        """The file of the deepest written field on `path` (what line_of's line is in)."""
        return self.position(path)[0]

    def position(self, path: FieldPath) -> tuple[str, int]:
        """The file and line of the deepest written field on `path`."""
        for end in range(len(path), 0, -1):
            prefix = tuple(path[:end])
            line = self.lines.get(prefix)
            if line is not None:
                return self.files.get(prefix, self.file), line
        return self.file, self.line


class Null(str):
    """A plain YAML null (`null`, `~`, nothing) as a mapping's value in an environment's
    overlay: it removes the key. Its text is what was written, should it end up a value."""

    __slots__ = ()
