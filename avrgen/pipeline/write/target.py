"""What a folder avrgen writes should hold, and the planned changes to it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from avrgen.fs.atomic import FILE_MODE, TEMP_SUFFIX
from avrgen.model.plan import TELEPHONY_FOLDER

Action = Literal["create", "update", "delete"]
PRIVATE_MODE = 0o600  # env files: literal values an operator may consider sensitive
# `.{folder}.{16 hex}.tmp`: a new folder being written whole (what apply.staging_folder names)
STAGING_FOLDER = re.compile(r"\.(.+)\.[0-9a-f]{16}" + re.escape(TEMP_SUFFIX) + r"\Z")

# a folder's entries by name; None: the folder does not exist; False: it cannot be listed
Listing = dict[str, os.DirEntry[str]] | None | Literal[False]


def mode_for(rel: str) -> int:
    """The permissions avrgen gives a file it writes."""
    return PRIVATE_MODE if rel.endswith(".env") else FILE_MODE


def in_place(rel: str) -> bool:
    """Files updated in place (same inode) rather than replaced by a rename: Asterisk's
    `my_*.conf`, which the telephony compose file bind-mounts one by one. A single-file bind
    mount holds the inode it was given at container start; a file replaced by rename is a new
    inode the container never sees, so `dialplan reload` would read the old bytes."""
    return rel.startswith(f"{TELEPHONY_FOLDER}/") and rel.endswith(".conf")


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
    listings: dict[str, Listing] = field(default_factory=dict, compare=False, repr=False)


def path_prefix(root: Path) -> str:
    """What `(root / rel).as_posix()` puts before a plain `rel` (string joins, no Path)."""
    text = root.as_posix()
    return "" if text == "." else text if text.endswith("/") else text + "/"


def target_rel(target: Target, path: str, prefix: str) -> str:
    """The inverse: the key in `target.files` of a change's path."""
    rel = path[len(prefix) :]
    if path.startswith(prefix) and rel in target.files:
        return rel
    return Path(path).relative_to(target.root).as_posix()
