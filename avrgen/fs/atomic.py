"""Atomic file replacement: readers see the old bytes or the new, never a mix."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

FILE_MODE = 0o644
TEMP_SUFFIX = ".tmp"


def unlink_all(paths: Iterable[str]) -> None:
    """Remove these files; one already gone is no error."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def write_atomic(path: Path, data: bytes, mode: int = FILE_MODE, sync: bool = True) -> None:
    """Replace `path` with `data` in one step: readers see old or new bytes, never a mix.

    Without `sync` the bytes may still be in the page cache when it returns: for files
    whose loss in a crash costs nothing (the render cache: a lost entry is a miss).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = stage_file(path.as_posix(), data, mode, sync)
    try:
        os.replace(tmp, path)
    except BaseException:
        unlink_all([tmp])
        raise


def stage_file(path: str, data: bytes, mode: int, sync: bool = True) -> str:
    """`data` in a temporary file beside `path` (whose folder exists), with its final
    permissions; synced if `sync`, else the caller syncs everything at once. Returns the
    temporary file's path (`.{name}.*.tmp`), for the caller to rename over `path`.
    """
    import tempfile  # here: it imports shutil and random, which a read-only run never needs

    folder, name = os.path.split(path)
    fd, tmp = tempfile.mkstemp(dir=folder or ".", prefix=f".{name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode != 0o600:  # mkstemp made it 0600: never readable by others
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
    except BaseException:
        unlink_all([tmp])
        raise
    return tmp


def sync_folder(folder: str | os.PathLike[str]) -> None:
    """Make the renames in `folder` durable (a crash after this keeps the new files)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
