"""Per blueprint file: its parsed documents, by a hash of its name and text."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from avrgen.model.document import Document
from avrgen.pipeline.cache.key import FORMAT, Doubt, code_hash, folder, folder_name
from avrgen.pipeline.cache.store import write_entry


class DocumentCache:
    """parse_documents() for load_blueprints(), answered from the last run's documents of a
    file whose name and text (and avrgen's code, libraries) hash the same. Only files that
    parsed without error are kept; save() writes the documents of this run's files only.

    The file: a JSON header line (format, code hash), then one line per blueprint file:
    its digest, a space, its documents as JSON (kept as text: save() copies it unparsed).
    """

    def __init__(self, blueprints: Path) -> None:
        self.path = folder() / f"docs-{folder_name(blueprints)}.json"
        self.code = ""
        self.known: dict[str, bytes] = {}
        self.used: dict[str, bytes] = {}
        self.parsed = 0
        try:
            self.code = code_hash(None)
            with open(self.path, "rb") as handle:
                header, *lines = handle.read().split(b"\n")
            if json.loads(header) == {"format": FORMAT, "code": self.code}:
                for line in lines:
                    digest, _, text = line.partition(b" ")
                    if len(digest) == 64 and text:
                        self.known[digest.decode("ascii")] = text
        except (Doubt, OSError, ValueError, TypeError):
            self.known = {}

    def __call__(self, text: str, name: str) -> list[Document]:
        sha = hashlib.sha256()
        for part in (self.code, name, text):
            data = part.encode("utf-8", "surrogatepass")
            sha.update(len(data).to_bytes(8, "big") + data)
        digest = sha.hexdigest()
        stored = self.known.get(digest)
        if stored is not None:
            try:
                documents = [_document(d) for d in json.loads(stored)]
                if all(d.file == name for d in documents):
                    self.used[digest] = stored
                    return documents
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                pass
        from avrgen.pipeline.yaml_reader import parse_documents  # PyYAML: for a miss only

        documents = parse_documents(text, name)
        self.parsed += 1
        self.used[digest] = json.dumps(
            [
                {
                    "file": d.file,
                    "line": d.line,
                    "data": d.data,
                    "lines": [[list(path), line] for path, line in d.lines.items()],
                }
                for d in documents
            ],
            separators=(",", ":"),
        ).encode()  # ASCII, one line: json escapes every control character
        return documents

    def save(self) -> None:
        """Write this run's files' documents, when any was parsed (atomic; errors ignored)."""
        if not self.code or (not self.parsed and len(self.used) == len(self.known)):
            return
        header = json.dumps({"format": FORMAT, "code": self.code}).encode()
        lines = [header, *(digest.encode() + b" " + text for digest, text in self.used.items())]
        write_entry(self.path, b"\n".join(lines) + b"\n")


def _document(stored: dict[str, Any]) -> Document:
    data = stored["data"]
    if not isinstance(data, dict):
        raise TypeError("not a mapping")
    lines = {tuple(path): int(line) for path, line in stored["lines"]}
    return Document(str(stored["file"]), int(stored["line"]), data, lines)
