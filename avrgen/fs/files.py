"""Reading files without blocking on what is not a regular file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from avrgen.model.output import MARK_LENGTH, is_generated

_READ_FLAGS, _NOFOLLOW = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0), getattr(os, "O_NOFOLLOW", 0)


def read_regular(path: str, follow_symlinks: bool = False) -> bytes | None:
    """The bytes of a regular file (not through a symlink, unless `follow_symlinks`); None
    for anything else (a FIFO, a device or a folder in a file's place: never opened in a
    way that blocks).

    One os.read of the size fstat gives (a file that grew meanwhile reads one byte more,
    which no caller takes for the old bytes): a Python file object per file costs more than
    the read itself, and a render reads every file of every agent.
    """
    fd = os.open(path, _READ_FLAGS if follow_symlinks else _READ_FLAGS | _NOFOLLOW)
    try:
        info = os.fstat(fd)
        return os.read(fd, info.st_size + 1) if stat.S_ISREG(info.st_mode) else None
    finally:
        os.close(fd)


def generated_file(path: str | Path) -> bool:
    """A regular file that avrgen generated (it begins with avrgen's mark); False when it
    cannot be read: avrgen cannot tell it wrote it, so it is not avrgen's. The caller has
    made sure it is a regular file (opening a FIFO would block)."""
    try:
        with open(path, "rb") as handle:
            return is_generated(handle.read(MARK_LENGTH))
    except OSError:
        return False


def generated_files(folder: Path) -> dict[str, bytes]:
    """The regular files directly in `folder` that avrgen generated (they begin with its
    mark), by name; {} when there is no such folder."""
    found: dict[str, bytes] = {}
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return found
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        data = read_regular(entry.path)
        if data is not None and is_generated(data):
            found[entry.name] = data
    return found
