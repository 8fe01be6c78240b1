"""Write stage: rendered files -> the output folder, atomically and only where bytes changed.

A file is replaced through a temporary file and os.replace, so a reader (or a crash) sees
the old bytes or the new ones, never a mix. An agent folder that does not exist yet is
written whole as a temporary folder beside it and renamed into place (one rename, not one
per file). Every temporary file and folder is written (and synced) before the first rename,
so a full or read-only disk fails before anything changes.
A few files are synced one by one; many (a first render of 1,000 agents) with one sync()
of the file system, which costs about as much as one fsync instead of thousands.
Files whose bytes are unchanged are not touched (their mtime stays). Files of agents that
no longer exist are removed, but only files avrgen wrote (they start with its header).
Nothing is written outside the folder, nor through a symlink inside it. Env files are
written 0600 (only the owner, who runs docker compose, reads them); the rest 0644.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from avrgen.errors import WriteError
from avrgen.fs.atomic import FILE_MODE, TEMP_SUFFIX, _stage_file, _sync_folder, _unlink_all
from avrgen.fs.files import read_regular
from avrgen.model.output import GENERATED_MARK

Action = Literal["create", "update", "delete"]
PRIVATE_MODE = 0o600  # env files: literal values an operator may consider sensitive
SYNC_EACH_LIMIT = 16  # up to this many files, fsync each one; beyond it, one os.sync()
# `.{folder}.{16 hex}.tmp`: a new folder being written whole (what _staging_folder names)
_STAGING_FOLDER = re.compile(r"\.(.+)\.[0-9a-f]{16}" + re.escape(TEMP_SUFFIX) + r"\Z")
# a file in a staging folder: created, never opened if something is there, nor through a link
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


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
    # files just read from this folder and found to hold these bytes (cache.AgentReuse,
    # under the output mutex): listed and checked for symlinks, but not read again
    same: frozenset[str] = frozenset()
    # the folder listings of the last changes(), for the apply() that follows it (taken once)
    listings: dict[str, _Listing] = field(default_factory=dict, compare=False, repr=False)


def changes(target: Target) -> list[Change]:
    """What writing `target` would change, without writing anything."""
    try:
        return _changes(target)
    except OSError as exc:  # an unreadable folder or file in the way
        where = exc.filename or target.root
        raise WriteError(f"{where}: {exc.strerror or exc}") from None


def _changes(target: Target) -> list[Change]:
    """One directory listing per folder and one read per existing file (thousands of files)."""
    found: list[Change] = []
    root = target.root
    prefix = _prefix(root)
    listings: dict[str, _Listing] = {}
    for rel, data in target.files.items():
        parent, _, name = rel.rpartition("/")
        plain = _plain(rel)
        if plain and parent not in listings:
            listings[parent] = _listing(root, parent)
        entries = listings[parent] if plain else False
        if entries is False:  # an unusual path or an unlistable folder: the general rules
            path = _inside(root, rel)
            if not path.exists() and not path.is_symlink():
                found.append(Change(path.as_posix(), "create"))
            elif _read(path) != data:
                found.append(Change(path.as_posix(), "update"))
            continue
        entry = entries.get(name) if entries is not None else None
        if entry is None:
            found.append(Change(prefix + rel, "create"))
        elif entry.is_symlink():
            raise WriteError(f"{root / rel}: refusing to write through a symlink")
        elif rel not in target.same and _read(entry.path) != data:
            found.append(Change(prefix + rel, "update"))
    if target.prune:
        wanted = set(target.files)
        for rel in sorted(_generated(root, listings, wanted) - wanted):
            found.append(Change(_inside(root, rel).as_posix(), "delete"))
    target.listings.clear()
    target.listings.update(listings)
    return sorted(found)


def written(target: Target, planned: list[Change]) -> list[str]:
    """The files of `target` (keys of `target.files`) that `planned` creates or updates."""
    prefix = _prefix(target.root)
    return [_rel(target, c.path, prefix) for c in planned if c.action != "delete"]


def _prefix(root: Path) -> str:
    """What `(root / rel).as_posix()` puts before a plain `rel` (string joins, no Path)."""
    text = root.as_posix()
    return "" if text == "." else text if text.endswith("/") else text + "/"


def _rel(target: Target, path: str, prefix: str) -> str:
    """The inverse: the key in `target.files` of a change's path."""
    rel = path[len(prefix) :]
    if path.startswith(prefix) and rel in target.files:
        return rel
    return Path(path).relative_to(target.root).as_posix()


def _plain(rel: str) -> bool:
    """A relative path with no empty, `.` or `..` step (what the renderer produces)."""
    return not {"", ".", ".."} & set(rel.split("/"))


# a folder's entries by name; None: the folder does not exist; False: it cannot be listed
_Listing = dict[str, os.DirEntry[str]] | None | Literal[False]


def _listing(root: Path, parent: str) -> _Listing:
    """The entries of `root/parent` by name. Refuses a folder reached through a symlink
    below `root`, as _inside() does.
    """
    folder = root.as_posix()  # strings, not Path: one call per agent folder
    for part in parent.split("/") if parent else ():
        folder = part if folder == "." else os.path.join(folder, part)  # as Path joins
        try:
            info = os.lstat(folder)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(info.st_mode):
            raise WriteError(f"{folder}: refusing to write through a symlink")
    try:
        with os.scandir(folder) as found:
            return {entry.name: entry for entry in found}
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return False


def apply(target: Target, planned: list[Change]) -> None:
    """Carry out `planned` (from changes()) in two phases.

    First every new file is written to a temporary file beside its target and synced
    (a new agent folder: to a temporary folder beside it); a failure here (disk full,
    read-only folder) removes the temporary files and folders and leaves the old output
    exactly as it was. Then each temporary file is renamed over its target (atomic per
    file), each temporary folder to its name, and the files of removed agents are deleted.
    """
    prefix = _prefix(target.root)
    fresh = _fresh_folders(target, prefix)
    _tidy(target)
    staged: list[tuple[str, str]] = []  # (temporary file, target), as strings: 1,000s of files
    folders: list[tuple[str, str]] = []  # (temporary folder, target folder): new folders
    path = target.root.as_posix()
    writes = sum(1 for change in planned if change.action != "delete")
    sync_each = writes <= SYNC_EACH_LIMIT
    made: set[str] = set()
    umask = _umask() if fresh else None
    try:
        if fresh:
            os.makedirs(path, exist_ok=True)
        for change in planned:
            path = change.path
            if change.action != "delete":
                rel = _rel(target, path, prefix)
                parent, _, name = rel.rpartition("/")
                if parent in fresh:  # a new folder, written whole
                    tmp_folder = fresh[parent]
                    if not tmp_folder:
                        tmp_folder = fresh[parent] = _staging_folder(prefix + parent)
                        folders.append((tmp_folder, prefix + parent))
                    data, mode = target.files[rel], mode_for(rel)
                    _create_file(f"{tmp_folder}/{name}", data, mode, sync_each, umask)
                    continue
                folder = os.path.dirname(path)
                if folder not in made:  # one mkdir per folder, not per file
                    Path(folder or ".").mkdir(parents=True, exist_ok=True)
                    made.add(folder)
                tmp = _stage_file(path, target.files[rel], mode_for(rel), sync_each)
                staged.append((tmp, path))
        if sync_each:
            for tmp_folder, _ in folders:
                _sync_folder(tmp_folder)
        elif staged or folders:
            os.sync()  # every temporary file is on disk before the first rename
    except OSError as exc:
        _unlink_all(tmp for tmp, _ in staged)
        _remove_staging_folders(tmp for tmp, _ in folders)
        raise WriteError(f"{path}: {exc.strerror or exc}; nothing was changed") from None
    try:
        for tmp, path in folders:
            # onto nothing (checked above); made since then: an empty folder is replaced,
            # anything else refuses (ENOTEMPTY, ENOTDIR: never followed)
            os.rename(tmp, path)
        for tmp, path in staged:
            os.replace(tmp, path)
        for change in planned:
            path = change.path
            if change.action == "delete":
                Path(path).unlink(missing_ok=True)
                _remove_empty_parents(Path(path).parent, target.root)
        if sync_each:
            for folder in sorted({Path(p).parent for _, p in [*staged, *folders]}):
                _sync_folder(folder)
        elif planned:
            os.sync()  # the renames and removals too
    except OSError as exc:
        _unlink_all(tmp for tmp, _ in staged)
        _remove_staging_folders(tmp for tmp, _ in folders)
        raise WriteError(f"{path}: {exc.strerror or exc}; run `avrgen render` again") from None


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


def _remove_staging_folders(folders: Iterable[str]) -> None:
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


def _tidy(target: Target) -> None:
    """Before writing, in each existing folder of `target` (one listing each): remove the
    temporary files a render killed between its two phases left, and take the extra bits
    off private files written by an older avrgen (or checked out by git).
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


def _tidy_staging_folders(target: Target, by_parent: dict[str, set[str]], root: _Listing) -> None:
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
        and (found := _STAGING_FOLDER.match(name))
        and (target.prune or found[1] in by_parent)
        and entry.is_dir(follow_symlinks=False)
    ]
    _remove_staging_folders(leftovers)


def _tidy_folder(entries: Iterable[os.DirEntry[str]], names: set[str]) -> None:
    """_tidy() in one folder: its entries and the names of the target's files in it."""
    for entry in entries:
        name = entry.name
        if name.startswith(".") and name.endswith(TEMP_SUFFIX):
            # `.{file}.*.tmp` for one of the target's files (what _stage names them)
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


def generated_files(root: Path) -> set[str]:
    """Files under `root` (one level of agent folders) that avrgen wrote."""
    return _generated(root, {}, set())


def _generated(root: Path, listings: dict[str, _Listing], known: set[str]) -> set[str]:
    """generated_files() less `known` (whose headers are not read), reusing folder
    listings already made.
    """
    found: set[str] = set()
    if not root.is_dir():
        return found
    with os.scandir(root) as scanned:
        folders = {entry.name: entry for entry in scanned}
    listings.setdefault("", folders)  # the root's listing, for _tidy() after it
    for folder in folders.values():
        if folder.is_symlink() or not folder.is_dir() or _STAGING_FOLDER.match(folder.name):
            continue  # not an agent's (a staging folder: a write in progress or killed)
        entries = listings.get(folder.name)
        if not entries:
            with os.scandir(folder.path) as scanned:
                entries = {entry.name: entry for entry in scanned}
        for name, entry in entries.items():
            if name.startswith("."):
                continue  # temporary files of a write in progress (or of a killed one)
            rel = f"{folder.name}/{name}"
            if rel in known:
                continue
            if not entry.is_symlink() and entry.is_file() and _is_generated(entry.path):
                found.add(rel)
    return found


def _is_generated(path: str | Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(GENERATED_MARK)) == GENERATED_MARK
    except OSError:  # unreadable: avrgen cannot tell it wrote it, so it is not avrgen's
        return False


def _read(path: str | Path) -> bytes | None:
    """A file's bytes; None when it is not a regular file (a FIFO in its place must not
    hang the render: it is replaced like any file whose bytes differ) or cannot be read."""
    try:
        return read_regular(os.fspath(path))
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
