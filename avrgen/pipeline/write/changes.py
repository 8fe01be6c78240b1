"""What writing a target would change, found without writing anything: one directory
listing per folder and one read per existing file (thousands of files)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from avrgen.errors import WriteError
from avrgen.fs.files import generated_file, read_regular
from avrgen.pipeline.write.target import (
    STAGING_FOLDER,
    Change,
    Listing,
    Target,
    path_prefix,
    target_rel,
)


def changes(target: Target) -> list[Change]:
    """What writing `target` would change, without writing anything."""
    try:
        return _changes(target)
    except OSError as exc:  # an unreadable folder or file in the way
        where = exc.filename or target.root
        raise WriteError(f"{where}: {exc.strerror or exc}") from None


def _changes(target: Target) -> list[Change]:
    found: list[Change] = []
    root = target.root
    prefix = path_prefix(root)
    listings: dict[str, Listing] = {}
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
    prefix = path_prefix(target.root)
    return [target_rel(target, c.path, prefix) for c in planned if c.action != "delete"]


def _plain(rel: str) -> bool:
    """A relative path with no empty, `.` or `..` step (what the renderer produces)."""
    return not {"", ".", ".."} & set(rel.split("/"))


def _listing(root: Path, parent: str) -> Listing:
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


def generated_files(root: Path) -> set[str]:
    """Files under `root` (one level of agent folders) that avrgen wrote."""
    return _generated(root, {}, set())


def _generated(root: Path, listings: dict[str, Listing], known: set[str]) -> set[str]:
    """generated_files() less `known` (whose headers are not read), reusing folder
    listings already made.
    """
    found: set[str] = set()
    if not root.is_dir():
        return found
    with os.scandir(root) as scanned:
        folders = {entry.name: entry for entry in scanned}
    listings.setdefault("", folders)  # the root's listing, for tidy() after it
    for folder in folders.values():
        if folder.is_symlink() or not folder.is_dir() or STAGING_FOLDER.match(folder.name):
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
            if not entry.is_symlink() and entry.is_file() and generated_file(entry.path):
                found.add(rel)
    return found


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
