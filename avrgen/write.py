"""Write stage: rendered files -> the output folder, atomically and only where bytes changed.

A file is replaced through a temporary file and os.replace, so a reader (or a crash) sees
the old bytes or the new ones, never a mix. Every temporary file is written (and synced)
before the first rename, so a full or read-only disk fails before anything changes.
Files whose bytes are unchanged are not touched (their mtime stays). Files of agents that
no longer exist are removed, but only files avrgen wrote (they start with its header).
Nothing is written outside the folder, nor through a symlink inside it. Env files are
written 0600 (only the owner, who runs docker compose, reads them); the rest 0644.
"""

from __future__ import annotations

import glob
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from avrgen.errors import WriteError
from avrgen.render import GENERATED_MARK

Action = Literal["create", "update", "delete"]
FILE_MODE = 0o644
PRIVATE_MODE = 0o600  # env files: literal values an operator may consider sensitive
_TEMP_SUFFIX = ".tmp"


def mode_for(rel: str) -> int:
    """The permissions avrgen gives a file it writes."""
    return PRIVATE_MODE if rel.endswith(".env") else FILE_MODE


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
    try:
        return _changes(target)
    except OSError as exc:  # an unreadable folder or file in the way
        where = exc.filename or target.root
        raise WriteError(f"{where}: {exc.strerror or exc}") from None


def _changes(target: Target) -> list[Change]:
    found: list[Change] = []
    for rel, data in target.files.items():
        path = _inside(target.root, rel)
        if not path.exists() and not path.is_symlink():
            found.append(Change(path.as_posix(), "create"))
        elif _read(path) != data:
            found.append(Change(path.as_posix(), "update"))
    if target.prune:
        for rel in sorted(generated_files(target.root) - set(target.files)):
            found.append(Change(_inside(target.root, rel).as_posix(), "delete"))
    return sorted(found)


def apply(target: Target, planned: list[Change]) -> None:
    """Carry out `planned` (from changes()) in two phases.

    First every new file is written to a temporary file beside its target and synced;
    a failure here (disk full, read-only folder) removes the temporary files and leaves
    the old output exactly as it was. Then each temporary file is renamed over its
    target (atomic per file) and the files of removed agents are deleted.
    """
    _remove_stale_temps(target)
    staged: list[tuple[Path, Path]] = []
    path = target.root
    try:
        for change in planned:
            path = Path(change.path)
            if change.action != "delete":
                rel = path.relative_to(target.root).as_posix()
                staged.append((_stage(path, target.files[rel], mode_for(rel)), path))
    except OSError as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise WriteError(f"{path}: {exc.strerror or exc}; nothing was changed") from None
    try:
        for tmp, path in staged:
            os.replace(tmp, path)
        for change in planned:
            path = Path(change.path)
            if change.action == "delete":
                path.unlink(missing_ok=True)
                _remove_empty_parents(path.parent, target.root)
        for folder in sorted({p.parent for _, p in staged}):
            _sync_folder(folder)
        _tighten_modes(target)
    except OSError as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise WriteError(f"{path}: {exc.strerror or exc}; run `avrgen render` again") from None


def write_atomic(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Replace `path` with `data` in one step: readers see old or new bytes, never a mix."""
    tmp = _stage(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _stage(path: Path, data: bytes, mode: int) -> Path:
    """`data` in a synced temporary file beside `path`, with its final permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=_TEMP_SUFFIX)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # mkstemp made it 0600: never readable by others
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _sync_folder(folder: Path) -> None:
    """Make the renames in `folder` durable (a crash after this keeps the new files)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temps(target: Target) -> None:
    """Temporary files left by a render that was killed between its two phases."""
    for rel in target.files:
        path = target.root / rel
        if path.parent.is_dir() and not path.parent.is_symlink():
            for stale in path.parent.glob(f".{glob.escape(path.name)}.*{_TEMP_SUFFIX}"):
                if stale.is_file() and not stale.is_symlink():
                    stale.unlink(missing_ok=True)


def _tighten_modes(target: Target) -> None:
    """Private files written by an older avrgen (or checked out by git) lose their extra bits."""
    for rel in target.files:
        mode = mode_for(rel)
        path = target.root / rel
        if mode != PRIVATE_MODE or path.is_symlink() or not path.is_file():
            continue
        if path.stat().st_mode & 0o777 & ~mode:
            os.chmod(path, mode)


def generated_files(root: Path) -> set[str]:
    """Files under `root` (one level of agent folders) that avrgen wrote."""
    found: set[str] = set()
    if not root.is_dir():
        return found
    for folder in root.iterdir():
        if not folder.is_dir() or folder.is_symlink():
            continue
        for path in folder.iterdir():
            if path.name.startswith("."):
                continue  # temporary files of a write in progress (or of a killed one)
            if path.is_file() and not path.is_symlink() and _is_generated(path):
                found.add(f"{folder.name}/{path.name}")
    return found


def _is_generated(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(GENERATED_MARK)) == GENERATED_MARK
    except OSError:  # unreadable: avrgen cannot tell it wrote it, so it is not avrgen's
        return False


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _inside(root: Path, rel: str) -> Path:
    """`root / rel`, refusing paths that leave `root` or pass through a symlink inside it.

    `root` itself may be a symlink (an output folder kept elsewhere is the user's choice);
    a link planted below it could send a write anywhere, so it is an error.
    """
    path = root / rel
    parts = Path(rel).parts
    if Path(rel).is_absolute() or ".." in parts or not parts:
        raise WriteError(f"{rel}: refusing to write outside {root}")
    current = root
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise WriteError(f"{current}: refusing to write through a symlink")
    return path


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
