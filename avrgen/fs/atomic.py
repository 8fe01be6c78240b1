"""Atomic file replacement: readers see the old bytes or the new, never a mix."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

FILE_MODE = 0o644
TEMP_SUFFIX = ".tmp"


def _unlink_all(paths: Iterable[str]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def write_atomic(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Replace `path` with `data` in one step: readers see old or new bytes, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _stage(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _stage(path: Path, data: bytes, mode: int, sync: bool = True) -> Path:
    """`data` in a temporary file beside `path` (whose folder exists), with its final
    permissions; synced if `sync`, else the caller syncs everything at once.
    """
    return Path(_stage_file(path.as_posix(), data, mode, sync))


def _stage_file(path: str, data: bytes, mode: int, sync: bool = True) -> str:
    """_stage() on string paths."""
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
        _unlink_all([tmp])
        raise
    return tmp


def _sync_folder(folder: Path) -> None:
    """Make the renames in `folder` durable (a crash after this keeps the new files)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
