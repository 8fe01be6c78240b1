"""Snapshots of every file rendered from the bundled blueprints, verbatim, one file a snapshot.

The snapshot files under __snapshots__/test_render_snapshots/ are the contract of the output
format: review them by eye when they change (`pytest --snapshot-update`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import BUNDLED_OUTPUT, Avrgen
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode


class TextFileSnapshot(SingleFileSnapshotExtension):
    """One snapshot file holding the rendered file's exact text."""

    _write_mode = WriteMode.TEXT
    file_extension = "txt"


def files_under(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def rendered(avrgen: Avrgen, bundled: Path, tmp_path: Path) -> dict[str, bytes]:
    output = tmp_path / "output"
    result = avrgen("render", "-b", str(bundled), "-o", str(output))
    assert result.exit_code == 0, result.stderr
    return files_under(output)


def test_rendered_file_list(rendered: dict[str, bytes], snapshot: SnapshotAssertion) -> None:
    assert sorted(rendered) == snapshot


def test_every_rendered_file(rendered: dict[str, bytes], snapshot: SnapshotAssertion) -> None:
    text_snapshot = snapshot.use_extension(TextFileSnapshot)
    for rel, data in rendered.items():
        assert data.decode("utf-8") == text_snapshot(name=rel.replace("/", "__"))


def test_committed_output_is_fresh(rendered: dict[str, bytes]) -> None:
    """output/ in the repository is exactly what a render of blueprints/ gives today."""
    committed = {
        rel: data for rel, data in files_under(BUNDLED_OUTPUT).items() if not rel.startswith(".")
    }
    assert committed.keys() == rendered.keys()
    for rel, data in rendered.items():
        assert committed[rel] == data, f"output/{rel} is stale: run `avrgen render`"


def test_render_check_passes_on_the_repository(avrgen: Avrgen) -> None:
    result = avrgen("render", "--check")
    assert result.exit_code == 0, result.stderr
    assert "up to date" in result.stdout


def test_render_does_not_change_the_committed_lock(avrgen: Avrgen, bundled: Path) -> None:
    before = (bundled / "avrgen.lock").read_bytes()
    assert avrgen("render", "-b", str(bundled), "-o", str(bundled.parent / "out")).exit_code == 0
    assert (bundled / "avrgen.lock").read_bytes() == before


def test_lock_is_reproducible_from_scratch(
    avrgen: Avrgen, bundled: Path, snapshot: SnapshotAssertion
) -> None:
    """Without a port lock, a render allocates the same ports the committed lock records
    (the lock keeps only the set's id: a first render would make up a new one)."""
    committed = (bundled / "avrgen.lock").read_bytes()
    set_id = json.loads(committed)["set"]
    (bundled / "avrgen.lock").write_text(json.dumps({"set": set_id, "agents": {}}))
    assert avrgen("render", "-b", str(bundled), "-o", str(bundled.parent / "out")).exit_code == 0
    fresh = (bundled / "avrgen.lock").read_bytes()
    assert fresh == committed
    assert fresh.decode() == snapshot.use_extension(TextFileSnapshot)(name="avrgen.lock")
