"""The git revision of a blueprint folder, for a release's record: the commit checked out,
and whether the folder holds uncommitted changes. None where the folder is not in a git
checkout (or git is not installed): a release is recorded all the same."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from avrgen.model.release import Revision


def blueprint_revision(folder: Path) -> Revision | None:
    git = shutil.which("git")
    if git is None or not folder.is_dir():
        return None

    def run(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            done = subprocess.run(
                [git, "-C", str(folder), *args],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done if done.returncode == 0 else None

    head = run("rev-parse", "--verify", "--quiet", "HEAD")
    if head is None:  # not a checkout, or one without a commit yet
        return None
    status = run("status", "--porcelain", "--untracked-files=all", "--", ".")
    dirty = status is None or bool(status.stdout.strip())
    return Revision(commit=head.stdout.strip(), dirty=dirty)
