"""The render cache's key: a sha256 over everything a render reads, and where entries live."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from avrgen.errors import AvrgenError
from avrgen.fs.files import read_regular
from avrgen.fs.lock import LOCK_NAME
from avrgen.fs.package import PACKAGE, default_templates
from avrgen.pipeline.blueprint_files import blueprint_files

FORMAT = 2  # of the entries (store.py): 2, with stats and sections
# the libraries whose behaviour shapes the output bytes or the checks (yaml_rs reads the
# rendered files back): their entry files, version files and installed versions are hashed
LIBRARIES = ("jinja2", "markupsafe", "yaml", "pydantic", "pydantic_core", "yaml_rs")


def enabled() -> bool:
    """Off when AVRGEN_NO_CACHE is set to anything but empty or 0."""
    return os.environ.get("AVRGEN_NO_CACHE", "") in ("", "0")


def folder() -> Path:
    """`$XDG_CACHE_HOME/avrgen` (an absolute XDG_CACHE_HOME only), else ~/.cache/avrgen."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "avrgen"


def folder_name(path: Path) -> str:
    """A cache file's name for a folder: a hash of its absolute path."""
    return hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:32]


class Doubt(Exception):
    """Anything that makes the cache unsure: the answer is a miss."""


class Hasher:
    def __init__(self) -> None:
        self.sha = hashlib.sha256()

    def add(self, label: str, data: bytes) -> None:
        """Length-prefixed, so no two different sequences of parts hash alike."""
        tag = label.encode("utf-8", "surrogateescape")
        for part in (tag, data):
            self.sha.update(len(part).to_bytes(8, "big"))
            self.sha.update(part)

    def add_path(self, label: str, path: Path | str) -> None:
        self.add(label, str(path).encode("utf-8", "surrogateescape"))

    def tree(self, label: str, root: Path) -> None:
        """Every file below `root` (relative path and bytes), in sorted order."""
        if not root.is_dir():
            raise Doubt(f"{root}: not a folder")
        self.add_path(label, root.resolve())
        for rel, path in sorted(_files(root)):
            self.add(f"{label}/{rel}", read_input(path))

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


def _files(root: Path) -> Iterable[tuple[str, str]]:
    """(relative posix path, path) of every file below `root`; strings, not Paths: pathlib
    costs more than the reading (hundreds of files on every render)."""
    top = os.fspath(root)
    for base, dirs, names in os.walk(top, followlinks=True):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        folder = os.path.relpath(base, top).replace(os.sep, "/")
        prefix = "" if folder == "." else folder + "/"
        for name in names:
            if not name.endswith(".pyc"):
                yield prefix + name, os.path.join(base, name)


def read_input(path: Path | str) -> bytes:
    """The bytes of a file the key covers; Doubt when it cannot be read as a plain file."""
    try:
        data = read_regular(os.fspath(path), follow_symlinks=True)
    except OSError as exc:
        raise Doubt(str(exc)) from None
    if data is None:  # a FIFO where the lock should be: never block on it
        raise Doubt(f"{path}: not a regular file")
    return data


def key(
    blueprints: Path,
    output: Path,
    templates: Path | None,
    catalogs: tuple[Path, ...],
    options: Mapping[str, object],
    overlay: Path | None = None,
) -> str | None:
    """The key of a render with these inputs; None when something cannot be read.

    `overlay`: an environment's folder (-e), whose documents and lock the render reads."""
    try:
        h = Hasher()
        h.add("code", code_hash(templates).encode())
        for index, catalog in enumerate(catalogs):
            h.add_path(f"catalog:{index}", catalog)
            h.tree(f"catalog:{index}", catalog)
        h.add_path("cwd", os.getcwd())
        h.add_path("blueprints", blueprints)
        h.add_path("output", output)
        h.add_path("output:abs", output.resolve())
        h.add("options", json.dumps(dict(options), sort_keys=True).encode())
        for path in blueprint_files(blueprints):
            h.add("blueprint:" + path.relative_to(blueprints).as_posix(), read_input(path))
        locks = [blueprints / LOCK_NAME]
        if overlay is not None:  # its lock starts from the base's (app/project.py)
            h.add_path("overlay", overlay)
            for path in blueprint_files(overlay):
                h.add("overlay:" + path.relative_to(overlay).as_posix(), read_input(path))
            locks.append(overlay / LOCK_NAME)
        for index, lock in enumerate(locks):
            present = lock.exists() or lock.is_symlink()
            label = "lock" if index == 0 else "lock:overlay"
            h.add(label, read_input(lock) if present else b"\x00absent")
        return h.hexdigest()
    except (Doubt, AvrgenError, OSError, ValueError):
        return None


def code_hash(templates: Path | None) -> str:
    """The hash of what turns a plan into bytes: avrgen's files, the libraries' versions,
    Python's, and the templates folder."""
    h = Hasher()
    h.add("format", str(FORMAT).encode())
    h.add("python", sys.version.encode())
    h.tree("avrgen", PACKAGE)
    sites: set[Path] = set()
    for name in LIBRARIES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise Doubt(f"{name}: not found")
        origin = Path(spec.origin)
        h.add(f"lib:{name}", read_input(origin))
        version = origin.parent / "version.py"
        if version.is_file():
            h.add(f"lib:{name}:version", read_input(version))
        sites.add(origin.parent.parent)
    for site in sorted(sites):  # some keep their version in a compiled file (yaml_rs)
        installed = sorted(n for n in os.listdir(site) if n.endswith(".dist-info"))
        h.add(f"site:{site}", "\n".join(installed).encode())
    h.tree("templates", templates if templates is not None else default_templates())
    return h.hexdigest()


def catalog_hash(catalog: Path | None) -> str:
    """The hash of the settings' `catalog:` folder (its path and files); '' for none."""
    if catalog is None:
        return ""
    h = Hasher()
    h.tree("settings-catalog", catalog)
    return h.hexdigest()
