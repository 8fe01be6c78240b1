"""A loaded blueprint document: plain data that remembers where each field was written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FieldPath = tuple[str | int, ...]  # keys and list indexes from the document's root


@dataclass(frozen=True)
class Document:
    """One YAML document: its data (all scalars are str) and the line of every field."""

    file: str
    line: int
    data: dict[str, Any]
    lines: dict[FieldPath, int] = field(default_factory=dict)

    def line_of(self, path: FieldPath) -> int:
        """The line of the deepest written field on `path` (a missing field: its parent)."""
        for end in range(len(path), 0, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return self.line
