"""The one blueprint-folder factory of the suite: a folder holding the given files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_blueprints(folder: Path, files: Mapping[str, str | bytes]) -> Path:
    """`folder` (made if missing) with each of `files` (relative name -> text or bytes,
    subfolders made as needed); returns `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return folder
