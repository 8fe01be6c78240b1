"""The render cache against whatever lies in the output folder: a render that may use the
cache does exactly what a `--no-cache` render of the same folder does (exit code, output,
the files left), whatever was planted in output/ or changed in the lock since."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Avrgen

AGENT = "billing"  # a pipeline agent of the bundled blueprints: four env files

Plant = Callable[[Path, Path], None]  # (blueprint folder, output folder)


def file_at_the_top(bp: Path, out: Path) -> None:
    (out / "README").write_text("notes, not an agent\n")


def symlinked_folder_that_is_no_agent(bp: Path, out: Path) -> None:
    (bp.parent / "elsewhere").mkdir(exist_ok=True)
    (out / "notes").symlink_to(bp.parent / "elsewhere")


def dot_file_in_an_agent(bp: Path, out: Path) -> None:
    (out / AGENT / ".keep").write_text("")


def symlink_in_an_agent(bp: Path, out: Path) -> None:
    (out / AGENT / "extra").symlink_to(out / AGENT / "core.env")


def generated_leftover(bp: Path, out: Path) -> None:
    shutil.copyfile(out / AGENT / "tts.env", out / AGENT / "old.env")


def folder_in_a_file_s_place(bp: Path, out: Path) -> None:
    (out / AGENT / "llm.env").unlink()
    (out / AGENT / "llm.env").mkdir()


def lax_env_file(bp: Path, out: Path) -> None:
    (out / AGENT / "asr.env").chmod(0o644)


def symlinked_agent_folder(bp: Path, out: Path) -> None:
    shutil.copytree(out / AGENT, bp.parent / "copy")
    shutil.rmtree(out / AGENT)
    (out / AGENT).symlink_to(bp.parent / "copy")


def lock_changed(bp: Path, out: Path) -> None:
    lock = json.loads((bp / "avrgen.lock").read_text())
    lock["agents"][AGENT]["core"] += 1
    (bp / "avrgen.lock").write_text(json.dumps(lock))


PLANTS = [
    file_at_the_top,
    symlinked_folder_that_is_no_agent,
    dot_file_in_an_agent,
    symlink_in_an_agent,
    generated_leftover,
    folder_in_a_file_s_place,
    lax_env_file,
    symlinked_agent_folder,
    lock_changed,
]


def tree(root: Path, case: Path) -> dict[str, object]:
    """Every entry below `root`: a file's bytes and mode, a symlink's target (inside `case`
    written as ROOT), a folder."""
    found: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[rel] = ("link", os.readlink(path).replace(str(case), "ROOT"))
        elif path.is_dir():
            found[rel] = "dir"
        else:
            found[rel] = (path.read_bytes(), path.stat().st_mode & 0o777)
    return found


@pytest.mark.parametrize("plant", PLANTS, ids=[p.__name__ for p in PLANTS])
def test_a_cached_render_does_what_the_full_render_does(
    plant: Plant, tmp_path: Path, avrgen: Avrgen
) -> None:
    results = {}
    for name, options in (("cached", ()), ("full", ("--no-cache",))):
        root = tmp_path / name
        bp, out = root / "bp", root / "out"
        shutil.copytree(Path(__file__).resolve().parents[2] / "blueprints", bp)
        for _ in range(2):  # the second render's result is in the cache
            assert avrgen("render", "-b", str(bp), "-o", str(out)).exit_code == 0
        plant(bp, out)
        result = avrgen("render", *options, "-b", str(bp), "-o", str(out))
        text = (result.stdout + result.stderr).replace(str(root), "ROOT")
        lock = (bp / "avrgen.lock").read_bytes()
        results[name] = (result.exit_code, text, tree(out, root), lock)
    assert results["cached"] == results["full"]


# a render answered from the cache: every import here is time (pydantic alone ~0.1 s)
_IMPORTS_SCRIPT = """\
import sys
from avrgen.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
print(sorted({m.partition(".")[0] for m in sys.modules} & {"pydantic", "jinja2", "yaml"}))
"""


def test_a_render_with_nothing_changed_imports_no_pipeline_library(tmp_path: Path) -> None:
    """pydantic (the models), jinja2 (the templates) and PyYAML (the loader) are the full
    pipeline's: a render the cache answers imports none of them."""
    shutil.copytree(Path(__file__).resolve().parents[2] / "blueprints", tmp_path / "bp")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVRGEN_")}
    argv = [sys.executable, "-c", _IMPORTS_SCRIPT, "render", "-b", "bp", "-o", "out"]
    runs = [
        subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        for _ in range(3)  # a first render that writes a new lock stores no entry
    ]
    assert [run.returncode for run in runs] == [0, 0, 0], runs[-1].stderr
    *_, last = runs
    assert "(nothing changed)" in last.stdout
    assert last.stdout.splitlines()[-1] == "[]"
    assert runs[0].stdout.splitlines()[-1] == "['jinja2', 'pydantic', 'yaml']"  # it can fail
