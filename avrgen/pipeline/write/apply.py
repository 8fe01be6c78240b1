"""Carrying out the changes of a target: every new byte staged and synced first, then
renamed into place, so a failure in the first phase leaves the old output as it was."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from avrgen.errors import WriteError
from avrgen.fs.atomic import TEMP_SUFFIX, stage_file, sync_folder, unlink_all
from avrgen.pipeline.write.target import (
    Change,
    Target,
    in_place,
    mode_for,
    path_prefix,
    target_rel,
)
from avrgen.pipeline.write.tidy import remove_staging_folders, tidy

SYNC_EACH_LIMIT = 16  # up to this many files, fsync each one; beyond it, one os.sync()
# a file in a staging folder: created, never opened if something is there, nor through a link
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
# an existing file updated in place (target.in_place): opened, never through a link
_UPDATE_FLAGS = os.O_WRONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


def apply(target: Target, planned: list[Change]) -> None:
    """Carry out `planned` (from changes()) in two phases.

    First every new file is written to a temporary file beside its target and synced
    (a new agent folder: to a temporary folder beside it); a failure here (disk full,
    read-only folder) removes the temporary files and folders and leaves the old output
    exactly as it was. Then each temporary file is renamed over its target (atomic per
    file), each temporary folder to its name, and the files of removed agents are deleted.

    Asterisk's bind-mounted files (target.in_place) are the exception: an update is opened
    for writing in the first phase (so a file that cannot be written fails before anything
    changes) and its bytes written into it, same inode, in the second. A reader could see a
    mix while that write runs; Asterisk reads these files only when `up` reloads it, after
    the render.
    """
    prefix = path_prefix(target.root)
    fresh = _fresh_folders(target, prefix)
    tidy(target)
    staged: list[tuple[str, str]] = []  # (temporary file, target), as strings: 1,000s of files
    folders: list[tuple[str, str]] = []  # (temporary folder, target folder): new folders
    path = target.root.as_posix()
    writes = sum(1 for change in planned if change.action != "delete")
    sync_each = writes <= SYNC_EACH_LIMIT
    made: set[str] = set()
    updates: list[tuple[int, bytes, str]] = []  # (open file, new bytes, path): in place
    umask = _umask() if fresh else None
    try:
        if fresh:
            os.makedirs(path, exist_ok=True)
        for change in planned:
            path = change.path
            if change.action != "delete":
                rel = target_rel(target, path, prefix)
                parent, _, name = rel.rpartition("/")
                if parent in fresh:  # a new folder, written whole
                    tmp_folder = fresh[parent]
                    if not tmp_folder:
                        tmp_folder = fresh[parent] = _staging_folder(prefix + parent)
                        folders.append((tmp_folder, prefix + parent))
                    data, mode = target.files[rel], mode_for(rel)
                    _create_file(f"{tmp_folder}/{name}", data, mode, sync_each, umask)
                    continue
                if change.action == "update" and in_place(rel):
                    updates.append((os.open(path, _UPDATE_FLAGS), target.files[rel], path))
                    continue
                folder = os.path.dirname(path)
                if folder not in made:  # one mkdir per folder, not per file
                    Path(folder or ".").mkdir(parents=True, exist_ok=True)
                    made.add(folder)
                tmp = stage_file(path, target.files[rel], mode_for(rel), sync_each)
                staged.append((tmp, path))
        if sync_each:
            for tmp_folder, _ in folders:
                sync_folder(tmp_folder)
        elif staged or folders:
            os.sync()  # every temporary file is on disk before the first rename
    except OSError as exc:
        unlink_all(tmp for tmp, _ in staged)
        remove_staging_folders(tmp for tmp, _ in folders)
        _close_all(updates)
        raise WriteError(f"{path}: {exc.strerror or exc}; nothing was changed") from None
    try:
        for tmp, path in folders:
            # onto nothing (checked above); made since then: an empty folder is replaced,
            # anything else refuses (ENOTEMPTY, ENOTDIR: never followed)
            os.rename(tmp, path)
        for tmp, path in staged:
            os.replace(tmp, path)
        while updates:
            fd, data, path = updates.pop(0)
            try:
                _write_in_place(fd, data)
            finally:
                os.close(fd)
        for change in planned:
            path = change.path
            if change.action == "delete":
                Path(path).unlink(missing_ok=True)
                _remove_empty_parents(Path(path).parent, target.root)
        if sync_each:
            for renamed in sorted({Path(p).parent for _, p in [*staged, *folders]}):
                sync_folder(renamed)
        elif planned:
            os.sync()  # the renames and removals too
    except OSError as exc:
        unlink_all(tmp for tmp, _ in staged)
        remove_staging_folders(tmp for tmp, _ in folders)
        _close_all(updates)
        raise WriteError(f"{path}: {exc.strerror or exc}; run `avrgen render` again") from None


def _write_in_place(fd: int, data: bytes) -> None:
    """`data` as the whole content of the open file `fd`, keeping its inode (and mode)."""
    view = memoryview(data)
    offset = 0
    while offset < len(data):
        offset += os.pwrite(fd, view[offset:], offset)
    os.ftruncate(fd, len(data))
    os.fsync(fd)


def _close_all(updates: list[tuple[int, bytes, str]]) -> None:
    for fd, _, _ in updates:
        os.close(fd)
    updates.clear()


def _fresh_folders(target: Target, prefix: str) -> dict[str, str]:
    """The agent folders (one level below the root) that changes() found missing and that
    are still missing, each to be written whole; values are filled in as they are staged.
    A symlink planted there since changes() is refused; a folder made since then gets
    the per-file path.
    """
    missing = [parent for parent, entries in target.listings.items() if entries is None]
    if not missing:
        return {}
    nested = {rel.partition("/")[0] for rel in target.files if rel.count("/") > 1}
    fresh: dict[str, str] = {}
    for parent in missing:
        if not parent or "/" in parent or parent in nested:
            continue  # the root, a deeper folder, or a folder with folders of its own
        path = prefix + parent
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            fresh[parent] = ""  # staged when its first file is (none may be planned)
            continue
        except OSError:
            continue  # the per-file path reports it in phase one
        if stat.S_ISLNK(info.st_mode):
            raise WriteError(f"{path}: refusing to write through a symlink")
    return fresh


def _staging_folder(path: str) -> str:
    """A new empty folder beside `path`, named for it (`.{name}.{16 hex}.tmp`), with the
    permissions a plain mkdir gives (mkdtemp would make it 0700)."""
    parent, name = os.path.split(path)
    while True:
        tmp = os.path.join(parent, f".{name}.{secrets.token_hex(8)}{TEMP_SUFFIX}")
        try:
            os.mkdir(tmp)
        except FileExistsError:
            continue
        return tmp


def _create_file(path: str, data: bytes, mode: int, sync: bool, umask: int | None) -> None:
    """A new file `path` (in a staging folder: nothing else is there) holding `data`, with
    exactly `mode` whatever the umask."""
    fd = os.open(path, _CREATE_FLAGS, mode)
    try:
        if umask is None or mode & umask:
            os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int | None:
    """The process's umask, read without changing it (os.umask() would, for every thread);
    None where it cannot be read (then every new file gets an explicit chmod)."""
    try:
        with open("/proc/self/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
