"""The release store: numbered per agent, complete or absent (a crash at any step leaves no
half release), private, and one writer at a time across processes."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from avrgen.errors import AvrgenError
from avrgen.fs import releases as store_module
from avrgen.fs.releases import FILES, IMAGES_FILE, RELEASE_FILE, ReleaseStore
from avrgen.model.release import ContainerRecord, Release

FILES_V1 = {"docker-compose.yml": b"services: {}\n", "core.env": b'PROMPT="one"\n'}


def release_maker(
    agent: str = "desk", image_id: str = "sha256:" + "a" * 64
) -> Callable[[int], Release]:
    def make(number: int) -> Release:
        core = ContainerRecord(
            role="core", name=f"avr-core-{agent}", image="core:1", image_id=image_id, port=5000
        )
        return Release(
            agent=agent,
            number=number,
            created="2026-12-01T12:00:00Z",
            origin="up",
            agent_id="id",
            mode="sts",
            files={"core.env": "sha256:x"},
            containers=(core,),
        )

    return make


def test_releases_are_numbered_per_agent_from_one(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path, "set-a")
    assert store.latest("desk") is None and store.agents() == []
    numbers = [store.record("desk", release_maker(), FILES_V1, b"i\n").number for _ in range(3)]
    other = store.record("hall", release_maker("hall"), FILES_V1, b"i\n")
    assert numbers == [1, 2, 3] and other.number == 1
    assert store.numbers("desk") == [1, 2, 3] and store.agents() == ["desk", "hall"]
    latest = store.latest("desk")
    assert latest is not None and latest == release_maker()(3)
    assert [r.number for r in store.releases("desk")] == [1, 2, 3]


def test_each_blueprint_set_has_its_own_history_of_an_agent(tmp_path: Path) -> None:
    """Two sets with an agent of the same name on one server: apart, numbered apart."""
    mine, theirs = ReleaseStore(tmp_path, "set-a"), ReleaseStore(tmp_path, "set-b")
    mine.record("desk", release_maker(), FILES_V1, b"i\n")
    assert theirs.agents() == [] and theirs.latest("desk") is None
    assert theirs.record("desk", release_maker(), FILES_V1, b"i\n").number == 1
    assert mine.numbers("desk") == [1] and theirs.numbers("desk") == [1]
    assert mine.folder("desk", 1) == tmp_path / "releases" / "set-a" / "desk" / "1"
    assert ReleaseStore(tmp_path, None).root == tmp_path / "releases" / "-"  # no id yet


def test_a_release_keeps_its_files_byte_for_byte_privately(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path, "set-a")
    files = {**FILES_V1, "config/x.conf": b"\x00bin\r\n"}
    store.record("desk", release_maker(), files, b"services: {}\n")
    folder = store.folder("desk", 1)
    for name, data in files.items():
        assert (folder / FILES / name).read_bytes() == data
    assert (folder / IMAGES_FILE).read_bytes() == b"services: {}\n"
    assert json.loads((folder / RELEASE_FILE).read_text())["number"] == 1
    for path in [tmp_path / "releases", *(tmp_path / "releases").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_a_path_outside_the_agent_folder_is_refused(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path, "set-a")
    with pytest.raises(AvrgenError, match=r"\.\./evil: not a path inside"):
        store.record("desk", release_maker(), {"../evil": b"x"}, b"")
    assert (
        store.numbers("desk") == []
        and list((tmp_path / "releases" / "set-a" / "desk").iterdir()) == []
    )


@pytest.mark.parametrize("step", ["stage_file", "rename", "sync_folder"])
def test_a_crash_at_any_step_leaves_no_half_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """Interrupted at the second file written, at the rename, at the second folder synced:
    the agent has its one release, nothing else, and the next is number 2."""
    store = ReleaseStore(tmp_path, "set-a")
    store.record("desk", release_maker(), FILES_V1, b"")
    owner = store_module.os if step == "rename" else store_module
    real = getattr(owner, step)
    calls = []

    def crash(*args: object, **kwargs: object) -> object:
        calls.append(args)
        if step == "rename" or len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, step, crash)
    with pytest.raises(KeyboardInterrupt):
        store.record("desk", release_maker(), FILES_V1, b"")
    monkeypatch.undo()
    assert calls and store.numbers("desk") == [1]
    assert sorted(p.name for p in (tmp_path / "releases" / "set-a" / "desk").iterdir()) == ["1"]
    assert store.record("desk", release_maker(), FILES_V1, b"").number == 2


def test_what_a_killed_writer_left_is_not_a_release_and_is_removed(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path, "set-a")
    store.record("desk", release_maker(), FILES_V1, b"")
    leftover = tmp_path / "releases" / "set-a" / "desk" / ".staging-killed"
    (leftover / FILES).mkdir(parents=True)
    (leftover / FILES / "core.env").write_bytes(b"half")
    (tmp_path / "releases" / "set-a" / "desk" / "notes").mkdir()  # not a number: not a release
    assert store.numbers("desk") == [1]
    assert store.record("desk", release_maker(), FILES_V1, b"").number == 2
    assert not leftover.exists()


def test_a_killed_writer_process_leaves_nothing_half_written(tmp_path: Path) -> None:
    """SIGKILL while the release's files are written: no numbered folder appears."""
    script = f"""
import os, signal
from pathlib import Path
from avrgen.fs import releases
from avrgen.model.release import ContainerRecord, Release
def release_maker(number):
    core = ContainerRecord(role="core", name="c", image="core:1", image_id="sha256:a", port=5000)
    return Release(agent="desk", number=number, created="2026-12-01T12:00:00Z", origin="up",
                   agent_id="id", mode="sts", files={{}}, containers=(core,))
real = releases.stage_file
def stage(path, data, mode, sync=True):
    if path.endswith("core.env"):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(path, data, mode, sync)
releases.stage_file = stage
store = releases.ReleaseStore(Path({str(tmp_path)!r}), "set-a")
store.record("desk", release_maker, {{"core.env": b"x"}}, b"")
"""
    proc = subprocess.run([sys.executable, "-c", script], timeout=60, check=False)
    assert proc.returncode == -9
    store = ReleaseStore(tmp_path, "set-a")
    assert store.numbers("desk") == []
    assert [p.name[:9] for p in (tmp_path / "releases" / "set-a" / "desk").iterdir()] == [
        ".staging-"
    ]
    assert store.record("desk", release_maker(), FILES_V1, b"").number == 1


def test_two_writers_at_once_take_turns(tmp_path: Path) -> None:
    """Two processes recording five releases each: ten numbers, none twice."""
    script = f"""
from pathlib import Path
from avrgen.fs.releases import ReleaseStore
from avrgen.model.release import ContainerRecord, Release
def release_maker(number):
    core = ContainerRecord(role="core", name="c", image="core:1", image_id="sha256:a", port=5000)
    return Release(agent="desk", number=number, created="2026-12-01T12:00:00Z", origin="up",
                   agent_id="id", mode="sts", files={{}}, containers=(core,))
store = ReleaseStore(Path({str(tmp_path)!r}), "set-a")
for _ in range(5):
    store.record("desk", release_maker, {{"core.env": b"x"}}, b"")
"""
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    store = ReleaseStore(tmp_path, "set-a")
    assert store.numbers("desk") == list(range(1, 11))
    assert all(store.release("desk", n).number == n for n in range(1, 11))


def test_a_missing_release_names_those_there_are(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path, "set-a")
    with pytest.raises(AvrgenError, match=r"agent 'desk' has no release 1 in .* \(it has none\)"):
        store.release("desk", 1)
    store.record("desk", release_maker(), FILES_V1, b"")
    store.record("desk", release_maker(), FILES_V1, b"")
    with pytest.raises(AvrgenError, match=r"no release 7 in .* \(its releases: 1, 2\)"):
        store.release("desk", 7)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("{not json", r"1 error\(s\)"), ('{"format": 1}', r"\d+ error\(s\)")],
)
def test_an_unreadable_release_is_named(tmp_path: Path, text: str, reason: str) -> None:
    store = ReleaseStore(tmp_path, "set-a")
    store.record("desk", release_maker(), FILES_V1, b"")
    path = store.folder("desk", 1) / RELEASE_FILE
    path.write_text(text)
    with pytest.raises(
        AvrgenError, match=rf"{re.escape(str(path))}: not a release avrgen can read \({reason}\)"
    ):
        store.release("desk", 1)


def test_a_release_of_another_number_or_format_is_refused(tmp_path: Path) -> None:
    store = ReleaseStore(tmp_path, "set-a")
    store.record("desk", release_maker(), FILES_V1, b"")
    store.folder("desk", 1).rename(store.folder("desk", 5))
    with pytest.raises(AvrgenError, match="release format 1 or number differs"):
        store.release("desk", 5)
