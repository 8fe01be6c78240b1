"""Before writing: what a render killed between its two phases left behind, and the
permissions of private files written by an older avrgen (or checked out by git)."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from avrgen.fs.atomic import TEMP_SUFFIX
from avrgen.pipeline.write.target import (
    PRIVATE_MODE,
    STAGING_FOLDER,
    Listing,
    Target,
    mode_for,
)


def tidy(target: Target) -> None:
    """In each existing folder of `target` (one listing each): remove the temporary files
    a killed render left, and take the extra bits off private files.
    """
    by_parent: dict[str, set[str]] = {}
    for rel in target.files:
        parent, _, name = rel.rpartition("/")
        by_parent.setdefault(parent, set()).add(name)
    listed = dict(target.listings)  # from the changes() just before: no second listing
    target.listings.clear()
    if any(parent and "/" not in parent for parent in by_parent):
        _tidy_staging_folders(target, by_parent, listed.get("", False))
    for parent, names in by_parent.items():
        known = listed.get(parent, False)
        if known is None:
            continue  # the folder did not exist
        if known is not False:
            _tidy_folder(known.values(), names)
            continue
        folder = target.root / parent
        try:
            if not stat.S_ISDIR(os.lstat(folder).st_mode):  # missing, or a symlink
                continue
        except FileNotFoundError:
            continue
        with os.scandir(folder) as entries:
            _tidy_folder(entries, names)


def remove_staging_folders(folders: Iterable[str]) -> None:
    """Remove temporary folders and the files in them (never following a link)."""
    for folder in folders:
        try:
            with os.scandir(folder) as entries:
                names = [entry.name for entry in entries]
        except FileNotFoundError:
            continue
        except OSError:
            names = []
        for name in names:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))
        with contextlib.suppress(OSError):
            os.rmdir(folder)


def _tidy_staging_folders(target: Target, by_parent: dict[str, set[str]], root: Listing) -> None:
    """Remove the temporary folders a killed render left in the root: those of the
    target's folders, or any when the target owns the whole root (prune). `root`: the
    root's listing if changes() made one (a render that prunes)."""
    if root is False:
        try:
            with os.scandir(target.root) as scanned:
                root = {entry.name: entry for entry in scanned}
        except (FileNotFoundError, NotADirectoryError):
            return
    leftovers = [
        entry.path
        for name, entry in (root or {}).items()
        if name.startswith(".")
        and (found := STAGING_FOLDER.match(name))
        and (target.prune or found[1] in by_parent)
        and entry.is_dir(follow_symlinks=False)
    ]
    remove_staging_folders(leftovers)


def _tidy_folder(entries: Iterable[os.DirEntry[str]], names: set[str]) -> None:
    """tidy() in one folder: its entries and the names of the target's files in it."""
    for entry in entries:
        name = entry.name
        if name.startswith(".") and name.endswith(TEMP_SUFFIX):
            # `.{file}.*.tmp` for one of the target's files (what fs.atomic.stage_file names)
            if any(
                name.startswith(f".{file}.") and len(name) >= len(file) + 2 + len(TEMP_SUFFIX)
                for file in names
            ) and entry.is_file(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)
        elif name in names and mode_for(name) == PRIVATE_MODE:
            if not entry.is_file(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_mode & 0o777 & ~PRIVATE_MODE:
                os.chmod(entry.path, PRIVATE_MODE)
