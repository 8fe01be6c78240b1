"""fs.files.generated_files: the files avrgen generated in one folder (status reads an
agent's files from output/ with it when the render cache says they are current)."""

from __future__ import annotations

import os
from pathlib import Path

from avrgen.fs.files import generated_files
from avrgen.model.output import GENERATED_MARK


def test_only_the_generated_regular_files_by_name(tmp_path: Path) -> None:
    (tmp_path / "core.env").write_bytes(GENERATED_MARK + b" core\nA=1\n")
    (tmp_path / "notes.txt").write_text("an operator's own file\n")
    (tmp_path / ".hidden.env").write_bytes(GENERATED_MARK + b"\n")
    (tmp_path / "folder").mkdir()
    os.symlink(tmp_path / "core.env", tmp_path / "linked.env")
    assert generated_files(tmp_path) == {"core.env": GENERATED_MARK + b" core\nA=1\n"}


def test_no_folder_has_no_files(tmp_path: Path) -> None:
    assert generated_files(tmp_path / "missing") == {}
    (tmp_path / "a-file").write_text("x")
    assert generated_files(tmp_path / "a-file") == {}
