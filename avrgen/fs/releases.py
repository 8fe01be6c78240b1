"""The release store: `<state>/releases/<set>/<agent>/<N>/`, one folder a release, kept
apart by blueprint set (its id; `-` for a set without one): another set's agent of the same
name has its own history, which this set's `history` and `rollback` never see.

Each release folder holds `release.json` (avrgen/model/release.py), `files/` (the agent's
rendered files, byte for byte) and `images.yml` (a compose override naming each image by
id or digest: what a rollback runs with). A release is written into a temporary folder
beside its final place and renamed into place once complete, under a lock (flock) on the
`releases` folder: a killed `up` leaves at most a temporary folder, which no reader lists
and the next writer removes; two writers take turns, so numbers never collide. Every
folder is private (0700): a release names env keys and secrets (never their values).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from avrgen.errors import AvrgenError
from avrgen.fs import mutex
from avrgen.fs.atomic import stage_file, sync_folder
from avrgen.fs.state import private_dir
from avrgen.model.release import RELEASE_FORMAT, Release

RELEASES = "releases"
RELEASE_FILE = "release.json"
FILES = "files"
IMAGES_FILE = "images.yml"
_STAGING = ".staging-"  # a release being written (or left by a killed writer)


class ReleaseStore:
    """The releases of every agent of one blueprint set in one state folder."""

    def __init__(self, state_dir: Path, set_id: str | None) -> None:
        self.root = state_dir / RELEASES / (set_id or "-")

    @contextmanager
    def locked(self, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the store's lock: one writer at a time (re-entrant within a process)."""
        private_dir(self.root)
        with mutex.hold(self.root, True, on_wait, create=False):
            yield

    def agents(self) -> list[str]:
        """Agents with at least one release, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.numbers(p.name))

    def numbers(self, agent: str) -> list[int]:
        """The agent's release numbers, ascending (complete releases only)."""
        folder = self.root / agent
        if not folder.is_dir():
            return []
        return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit() and p.is_dir())

    def releases(self, agent: str) -> list[Release]:
        return [self.release(agent, n) for n in self.numbers(agent)]

    def latest(self, agent: str) -> Release | None:
        numbers = self.numbers(agent)
        return self.release(agent, numbers[-1]) if numbers else None

    def folder(self, agent: str, number: int) -> Path:
        return self.root / agent / str(number)

    def release(self, agent: str, number: int) -> Release:
        """Release `number` of `agent`; an error names what exists when it does not."""
        path = self.folder(agent, number) / RELEASE_FILE
        if not path.is_file():
            numbers = self.numbers(agent)
            known = f"its releases: {', '.join(map(str, numbers))}" if numbers else "it has none"
            raise AvrgenError(f"agent {agent!r} has no release {number} in {self.root} ({known})")
        try:
            release = Release.model_validate_json(path.read_bytes())
        except (OSError, ValidationError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else f"{exc.error_count()} error(s)"
            raise AvrgenError(f"{path}: not a release avrgen can read ({reason})") from None
        if release.format != RELEASE_FORMAT or release.number != number:
            raise AvrgenError(f"{path}: release format {release.format} or number differs")
        return release

    def record(
        self, agent: str, make: Callable[[int], Release], files: Mapping[str, bytes], images: bytes
    ) -> Release:
        """Write the next release of `agent` (`make(number)` gives its record) with its
        `files` (path -> bytes) and images override: complete, or not at all."""
        with self.locked():
            folder = private_dir(self.root / agent)
            remove_staging(folder)
            numbers = self.numbers(agent)
            release = make(numbers[-1] + 1 if numbers else 1)
            staging = Path(tempfile.mkdtemp(prefix=_STAGING, dir=folder))  # 0700
            try:
                write_release(staging, release, files, images)
                os.rename(staging, folder / str(release.number))
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            sync_folder(folder)
            return release


def write_release(
    staging: Path, release: Release, files: Mapping[str, bytes], images: bytes
) -> None:
    """Every file of the release in `staging`, synced to disk (the rename after it is the
    one step that makes the release visible)."""
    folders = {staging}
    for relative, data in sorted(files.items()):
        path = staging / FILES / relative
        if not path.resolve().is_relative_to(staging.resolve() / FILES):
            raise AvrgenError(f"{relative}: not a path inside the agent's folder")
        private_dir(path.parent)
        folders.update(p for p in path.parents if p.is_relative_to(staging))
        os.replace(stage_file(path.as_posix(), data, 0o600), path)
    os.replace(stage_file((staging / IMAGES_FILE).as_posix(), images, 0o600), staging / IMAGES_FILE)
    text = release.model_dump_json(indent=2) + "\n"
    path = staging / RELEASE_FILE
    os.replace(stage_file(path.as_posix(), text.encode("utf-8"), 0o600), path)
    for folder in folders:
        sync_folder(folder)


def remove_staging(folder: Path) -> None:
    """Remove what a writer killed midway left (under the lock: no writer is at work)."""
    for leftover in folder.glob(f"{_STAGING}*"):
        shutil.rmtree(leftover, ignore_errors=True)
