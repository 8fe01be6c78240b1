"""Deterministic bytes: the same blueprints (and lock) give byte-identical output and lock in
separate processes with different hash seeds, whatever the files' names, split and order.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BUNDLED_BLUEPRINTS, BUNDLED_OUTPUT, run_process

DOC_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


def bundled_documents() -> list[str]:
    """Every document of the bundled blueprints, as its own YAML text."""
    docs = []
    for path in sorted(BUNDLED_BLUEPRINTS.glob("*.y*ml")):
        docs += [d.strip("\n") + "\n" for d in DOC_SEPARATOR.split(path.read_text())]
    return [d for d in docs if re.search(r"^kind:", d, re.MULTILINE)]


def as_original_files(root: Path) -> None:
    """The bundled files as they are, created in sorted order."""
    root.mkdir(parents=True)
    for path in sorted(BUNDLED_BLUEPRINTS.glob("*.y*ml")):
        shutil.copy(path, root / path.name)


def as_shuffled_files(root: Path, seed: int) -> None:
    """Every document in its own file, shuffled into nested folders, .yml and .yaml mixed,
    created in reverse order of their names; some files hold two documents."""
    docs = bundled_documents()
    random.Random(seed).shuffle(docs)
    files: list[tuple[Path, str]] = []
    while docs:
        take = 2 if len(docs) % 3 == 0 else 1
        chunk, docs = docs[:take], docs[take:]
        index = len(files)
        folder = root / ("zz-nested" if index % 2 else "aa") / f"level-{index % 3}"
        suffix = ".yml" if index % 2 else ".yaml"
        # a host path is relative to its file: two folders down, the same folder is ../../
        text = "---\n".join(chunk).replace('"./ambient_sounds:', '"../../ambient_sounds:')
        files.append((folder / f"part-{index:02d}{suffix}", text))
    for path, text in reversed(files):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def render_in_process(tmp: Path, hash_seed: str) -> subprocess.CompletedProcess[str]:
    return run_process(
        "render", "-b", "blueprints", "-o", "output", cwd=tmp, env={"PYTHONHASHSEED": hash_seed}
    )


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("with_lock", [True, False], ids=["with-lock", "no-lock"])
def test_two_processes_give_identical_bytes(tmp_path: Path, with_lock: bool) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    as_original_files(first / "blueprints")
    as_shuffled_files(second / "blueprints", seed=20261124)
    assert sorted(p.name for p in (second / "blueprints").rglob("*.y*ml")) != sorted(
        p.name for p in (first / "blueprints").glob("*.yaml")
    )
    if with_lock:
        for tree in (first, second):
            shutil.copy(BUNDLED_BLUEPRINTS / "avrgen.lock", tree / "blueprints" / "avrgen.lock")

    runs = [render_in_process(first, "1"), render_in_process(second, "4242")]
    for run in runs:
        assert run.returncode == 0, run.stderr
    assert runs[0].stdout == runs[1].stdout  # the summary too

    committed_set = json.loads((BUNDLED_BLUEPRINTS / "avrgen.lock").read_text())["set"]
    if not with_lock:  # a first render makes up the set's id, once: the one difference
        for tree, seed in ((first, "1"), (second, "4242")):
            as_set(tree, committed_set)
            # rendered again with it: the content hashes (of services naming the set) follow
            assert render_in_process(tree, seed).returncode == 0
    output_a, output_b = tree_bytes(first / "output"), tree_bytes(second / "output")
    assert output_a.keys() == output_b.keys()
    assert output_a, "nothing rendered"
    for rel in output_a:
        assert output_a[rel] == output_b[rel], f"output/{rel} differs between the two renders"
    lock_a = (first / "blueprints" / "avrgen.lock").read_bytes()
    assert lock_a == (second / "blueprints" / "avrgen.lock").read_bytes()

    # and both equal the committed output and lock (which were rendered on another machine)
    assert output_a == tree_bytes(BUNDLED_OUTPUT)
    assert lock_a == (BUNDLED_BLUEPRINTS / "avrgen.lock").read_bytes()


def as_set(tree: Path, set_id: str) -> None:
    """The set id the render of `tree` made up replaced by `set_id` in its lock and output."""
    made = json.loads((tree / "blueprints" / "avrgen.lock").read_text())["set"]
    assert made != set_id and re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", made)
    for path in [tree / "blueprints" / "avrgen.lock", *(tree / "output").rglob("*")]:
        if path.is_file():
            path.write_bytes(path.read_bytes().replace(made.encode(), set_id.encode()))


def test_check_passes_on_a_reshuffled_copy(tmp_path: Path) -> None:
    """The committed output is what any file layout of the same blueprints renders."""
    as_shuffled_files(tmp_path / "blueprints", seed=7)
    shutil.copy(BUNDLED_BLUEPRINTS / "avrgen.lock", tmp_path / "blueprints" / "avrgen.lock")
    shutil.copytree(BUNDLED_OUTPUT, tmp_path / "output")
    result = run_process(
        "render", "--check", "-b", "blueprints", "-o", "output", cwd=tmp_path,
        env={"PYTHONHASHSEED": "99"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
