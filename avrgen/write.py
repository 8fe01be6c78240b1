"""Write stage: rendered files -> the output folder, atomically and only where bytes changed.

A file is replaced through a temporary file and os.replace, so a reader (or a crash) sees
the old bytes or the new ones, never a mix. Files whose bytes are unchanged are not
touched (their mtime stays). Files of agents that no longer exist are removed, but only
files avrgen wrote (they start with its header). Nothing is written outside the folder.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from avrgen.errors import WriteError
from avrgen.render import GENERATED_MARK

Action = Literal["create", "update", "delete"]


@dataclass(frozen=True, order=True)
class Change:
    path: str  # as shown to the user: the output folder or the lock, joined with the name
    action: Action


@dataclass(frozen=True)
class Target:
    """A folder avrgen owns the generated files of, and the files it should hold."""

    root: Path
    files: dict[str, bytes]
    prune: bool = True  # remove generated files that are no longer wanted


def changes(target: Target) -> list[Change]:
    """What writing `target` would change, without writing anything."""
    found: list[Change] = []
    for rel, data in target.files.items():
        path = _inside(target.root, rel)
        if path.is_symlink():
            raise WriteError(f"{path}: refusing to write through a symlink")
        if not path.exists():
            found.append(Change(path.as_posix(), "create"))
        elif _read(path) != data:
            found.append(Change(path.as_posix(), "update"))
    if target.prune:
        for rel in sorted(generated_files(target.root) - set(target.files)):
            found.append(Change(_inside(target.root, rel).as_posix(), "delete"))
    return sorted(found)


def apply(target: Target, planned: list[Change]) -> None:
    """Carry out `planned` (from changes()); each file is replaced atomically."""
    for change in planned:
        path = Path(change.path)
        try:
            if change.action == "delete":
                path.unlink(missing_ok=True)
                _remove_empty_parents(path.parent, target.root)
            else:
                rel = path.relative_to(target.root).as_posix()
                write_atomic(path, target.files[rel])
        except OSError as exc:
            raise WriteError(f"{path}: {exc.strerror or exc}") from None


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` in one step: readers see old or new bytes, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def generated_files(root: Path) -> set[str]:
    """Files under `root` (one level of agent folders) that avrgen wrote."""
    found: set[str] = set()
    if not root.is_dir():
        return found
    for folder in root.iterdir():
        if not folder.is_dir() or folder.is_symlink():
            continue
        for path in folder.iterdir():
            if path.is_file() and not path.is_symlink() and _is_generated(path):
                found.add(f"{folder.name}/{path.name}")
    return found


def _is_generated(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(GENERATED_MARK)) == GENERATED_MARK


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _inside(root: Path, rel: str) -> Path:
    path = root / rel
    if Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise WriteError(f"{rel}: refusing to write outside {root}")
    return path


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
