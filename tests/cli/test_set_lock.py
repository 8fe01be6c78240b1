"""One blueprint set, one avrgen at a time (issue 17): the lock is the set's (its folder),
whatever `-o` says, since every output folder of a set shares its port lock."""

from __future__ import annotations

from pathlib import Path

from test_concurrency import avrgen, hold_lock, write_blueprints


def test_a_render_into_another_output_folder_waits_for_the_set(tmp_path: Path) -> None:
    bp, first, second = tmp_path / "bp", tmp_path / "out", tmp_path / "out2"
    write_blueprints(bp, ["alpha", "beta"], "v1")
    holder = hold_lock(bp)  # as a render or up of this set into `first` would
    try:
        refused = avrgen("render", "--no-wait", "-b", str(bp), "-o", str(second))
        _, stderr = refused.communicate(timeout=30)
        assert refused.returncode == 1, stderr
        assert f"{bp}: another avrgen is working on it (--no-wait given)" in stderr
        assert not second.exists() and not (bp / "avrgen.lock").exists()
        waiting = avrgen("render", "-b", str(bp), "-o", str(second))
        assert waiting.stderr is not None
        # its first line says it waits (however long a loaded machine takes to start it)
        told = waiting.stderr.readline()
        assert f"{bp}: another avrgen is working on it; waiting for it to finish" in told
        assert waiting.poll() is None and not second.exists()  # still waiting for the set
    finally:
        holder.communicate("")
    _, stderr = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, told + stderr
    assert (second / "alpha").is_dir() and (bp / "avrgen.lock").is_file()
    # the set is free again: a render into the first folder does not wait
    again = avrgen("render", "--no-wait", "-b", str(bp), "-o", str(first))
    assert again.communicate(timeout=60)[1].count("waiting") == 0 and again.returncode == 0
