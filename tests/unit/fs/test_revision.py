"""The blueprints' git revision for a release: the commit, dirty or not; none outside git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from avrgen.fs.revision import blueprint_revision
from avrgen.model.release import Revision


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_outside_a_checkout_there_is_no_revision(tmp_path: Path) -> None:
    assert blueprint_revision(tmp_path) is None
    assert blueprint_revision(tmp_path / "missing") is None


def test_a_checkout_without_a_commit_has_no_revision(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    assert blueprint_revision(tmp_path) is None


def test_the_commit_and_whether_the_blueprints_changed_since(tmp_path: Path) -> None:
    blueprints = tmp_path / "blueprints"
    blueprints.mkdir()
    (blueprints / "agents.yaml").write_text("kind: agent\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "blueprints")
    git(tmp_path, "commit", "-q", "-m", "one")
    commit = git(tmp_path, "rev-parse", "HEAD")
    assert blueprint_revision(blueprints) == Revision(commit=commit, dirty=False)
    (tmp_path / "elsewhere.txt").write_text("not the blueprints\n")
    assert blueprint_revision(blueprints) == Revision(commit=commit, dirty=False)
    (blueprints / "new.yaml").write_text("kind: agent\n")  # untracked counts
    assert blueprint_revision(blueprints) == Revision(commit=commit, dirty=True)


def test_without_git_there_is_no_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert blueprint_revision(tmp_path) is None
