"""The mounts of one container, from its blueprint fields: host paths resolved against the
folder of the file that holds them (and kept inside the blueprint folder), container paths
checked against each other and against the image's built-in tools.

Pure: paths are text here; whether they exist is `up`'s question (app/mounts.py).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

from avrgen.model.mounts import (
    BUILTIN_TOOLS_PATH,
    TOOLS_PATH,
    Mount,
    SecretFile,
    Volume,
    is_relative,
)
from avrgen.pipeline.validate.env_rules import Finding

FieldPath = tuple[str | int, ...]


class Folder:
    """Where a blueprint file's relative host paths start (`base`, relative to the blueprint
    folder) and where they must stay (`fence`): the blueprint folder, or, for a file outside
    it (an environment's overlay), that file's own folder."""

    def __init__(self, file: str, root: str) -> None:
        parent = PurePosixPath(file).parent
        try:
            self.base = parent.relative_to(PurePosixPath(root)).as_posix()
            self.fence = "."
        except ValueError:
            self.base = posixpath.relpath(parent.as_posix(), root)
            self.fence = self.base
        self.root = root

    def resolve(self, source: str) -> str | None:
        """`source` relative to the blueprint folder (absolute stays absolute); None when a
        relative path leaves the fence."""
        if not is_relative(source):
            return posixpath.normpath(source)
        joined = posixpath.normpath(posixpath.join(self.base, source))
        if self.fence == ".":
            inside = joined != ".." and not joined.startswith("../")
        else:
            inside = joined == self.fence or joined.startswith(self.fence + "/")
        return joined if inside else None


def container_mounts(
    folder: Folder,
    prefix: tuple[str, ...],
    tools: str | None,
    volumes: Iterable[Volume],
    files: Mapping[str, SecretFile],
    provider: bool,
) -> tuple[tuple[Mount, ...], list[Finding]]:
    """The mounts of one container (tools, volumes, files, in that order) and the problems
    of its fields under `prefix` (`config` of a provider, `core` of an agent)."""
    mounts: list[Mount] = []
    findings: list[Finding] = []
    by_target: dict[str, str] = {}

    def add(where: FieldPath, mount: Mount, written: str | None) -> None:
        if written is not None and not mount.source:
            findings.append(
                (
                    where,
                    f"host path {written!r} leads outside the blueprint folder "
                    f"({folder.root}); keep the folder inside it or give an absolute path",
                    False,
                )
            )
        if provider and _hides(mount.target, BUILTIN_TOOLS_PATH):
            findings.append(
                (
                    where,
                    f"container path {mount.target} would hide the image's built-in tools "
                    f"({BUILTIN_TOOLS_PATH}: avr_transfer, avr_hangup); mount the operator's "
                    f"tools with config.tools (at {TOOLS_PATH}) or beside them",
                    False,
                )
            )
        other = by_target.get(mount.target)
        if other is not None:
            findings.append(
                (where, f"container path {mount.target} is already mounted by {other}", False)
            )
        else:
            by_target[mount.target] = mount.field
        mounts.append(mount)

    if tools is not None:
        field = ".".join((*prefix, "tools"))
        source = folder.resolve(tools) or ""
        add((*prefix, "tools"), Mount(TOOLS_PATH, field, "folder", True, source), tools)
    for index, volume in enumerate(volumes):
        field = f"{'.'.join((*prefix, 'volumes'))}[{index}]"
        source = folder.resolve(volume.source) or ""
        mount = Mount(volume.target, field, "file or folder", volume.read_only, source)
        add((*prefix, "volumes", index), mount, volume.source)
    for target, key in files.items():
        field = ".".join((*prefix, "files", target))
        mount = Mount(target, field, "file", True, secret=key.secret_file)
        add((*prefix, "files", target), mount, None)
    return tuple(mounts), findings


def _hides(target: str, path: str) -> bool:
    """A mount at `target` hides `path`: it is that path or a folder above it."""
    return path == target or path.startswith(target.rstrip("/") + "/")
