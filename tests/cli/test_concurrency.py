"""Concurrency and crashes: renders on one output folder serialise on its lock, and a render
killed at any moment leaves every file either old or new (never a torn file, never garbage
that `render --check` would trip over), and the next render repairs the rest.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from avrgen.errors import AvrgenError
from avrgen.fs import mutex
from tests.conftest import REPO

PROVIDER = """\
kind: provider
name: Echo
type: STS
config: {image: "example/sts:1", env: {GREETING: "%s"}}
"""
AGENT = """\
kind: agent
name: %s
mode: %s
providers: %s
env: {NOTE: "%s"}
core: {env: {SYSTEM_MESSAGE: "%s"}}
"""
PIPELINE = """\
kind: provider
name: Ears
type: ASR
config: {image: "example/asr:1"}
---
kind: provider
name: Brain
type: LLM
config: {image: "example/llm:1"}
---
kind: provider
name: Voice
type: TTS
config: {image: "example/tts:1"}
"""


def write_blueprints(folder: Path, names: list[str], version: str) -> None:
    """Agents named `names`, every value marked with `version` (so every file differs)."""
    folder.mkdir(parents=True, exist_ok=True)
    docs = [PROVIDER % version, PIPELINE]
    for index, name in enumerate(names):
        if index % 3:
            docs.append(AGENT % (name, "sts", "{sts: Echo}", version, f"hello {version}"))
        else:
            providers = "{asr: Ears, llm: Brain, tts: Voice}"
            docs.append(AGENT % (name, "pipeline", providers, version, f"hello {version}"))
    (folder / "agents.yaml").write_text("---\n".join(docs))


# what makes coverage.py measure a process (`make coverage`: pyproject's patch = subprocess)
COVERAGE_VARS = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")


def avrgen(*args: str, measured: bool = True) -> subprocess.Popen[str]:
    """`python -m avrgen ARGS`; with `measured=False` not under coverage, for the renders
    killed with SIGKILL (which never write coverage data) and the render timed to kill them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVRGEN_")}
    if not measured:
        env = {k: v for k, v in env.items() if k not in COVERAGE_VARS}
    return subprocess.Popen(
        [sys.executable, "-m", "avrgen", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def state(*folders: Path) -> dict[str, bytes]:
    """Every file below `folders` (temporary files included), by path."""
    return {
        path.as_posix(): path.read_bytes()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


# -- the lock --------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    bp, out = tmp_path / "bp", tmp_path / "out"
    write_blueprints(bp, ["alpha", "beta"], "v1")
    return bp, out


def hold_lock(out: Path) -> subprocess.Popen[str]:
    """Another process holding the output folder's lock until its stdin closes."""
    code = (
        "import sys; from pathlib import Path; from avrgen.fs import mutex\n"
        f"with mutex.hold(Path({str(out)!r})):\n"
        "    print('held', flush=True); sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def test_second_render_fails_fast_with_no_wait(project: tuple[Path, Path]) -> None:
    bp, out = project
    holder = hold_lock(out)
    try:
        started = time.monotonic()
        proc = avrgen("render", "--no-wait", "-b", str(bp), "-o", str(out))
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 1, stderr
        assert "another avrgen is working on it (--no-wait given)" in stderr
        assert "Traceback" not in stderr
        assert time.monotonic() - started < 15
        assert not (out / "alpha").exists()
    finally:
        holder.communicate("")


def test_second_render_waits_with_a_message(project: tuple[Path, Path]) -> None:
    bp, out = project
    holder = hold_lock(out)
    try:
        proc = avrgen("render", "-b", str(bp), "-o", str(out))
        assert proc.stderr is not None
        # the message comes once render is blocked on the lock (however long startup takes)
        first = proc.stderr.readline()
        assert "another avrgen is working on it; waiting for it to finish" in first, first
        time.sleep(0.5)
        assert proc.poll() is None, "render did not wait for the lock"
        assert not (out / "alpha").exists()
    finally:
        holder.communicate("")
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert (out / "alpha" / "docker-compose.yml").is_file()


def test_up_takes_the_same_lock(project: tuple[Path, Path]) -> None:
    """`up` holds the lock for its whole run (render + compose); it is checked first, so this
    needs no engine."""
    bp, out = project
    holder = hold_lock(out)
    try:
        proc = avrgen("up", "alpha", "--no-wait", "-b", str(bp), "-o", str(out))
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 1, stderr
        assert "another avrgen is working on it (--no-wait given)" in stderr
        assert not (out / "alpha").exists()
    finally:
        holder.communicate("")


def test_check_takes_no_lock_on_a_missing_folder(project: tuple[Path, Path]) -> None:
    bp, out = project
    proc = avrgen("render", "--check", "--no-wait", "-b", str(bp), "-o", str(out))
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "output is stale" in stderr
    assert not out.exists()


def test_lock_is_reentrant_in_one_process(tmp_path: Path) -> None:
    """`up` renders while holding the lock: the inner hold must not deadlock."""
    with mutex.hold(tmp_path), mutex.hold(tmp_path, wait=False):
        pass
    with mutex.hold(tmp_path, wait=False):  # released again
        pass


def test_concurrent_renders_all_succeed_and_agree(tmp_path: Path) -> None:
    bp, out = tmp_path / "bp", tmp_path / "out"
    write_blueprints(bp, [f"agent-{i}" for i in range(20)], "v1")
    procs = [avrgen("render", "-b", str(bp), "-o", str(out)) for _ in range(4)]
    results = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, stderr) in zip(procs, results, strict=True):
        assert proc.returncode == 0, stderr
    check = avrgen("render", "--check", "-b", str(bp), "-o", str(out))
    _, stderr = check.communicate(timeout=60)
    assert check.returncode == 0, stderr  # what is on disk is exactly one fresh render
    assert not list(out.rglob(".*.tmp"))


# -- SIGKILL at random moments ---------------------------------------------------------------


def temporary(path: str) -> bool:
    """A render's temporary file (`.name.XXXX.tmp`), or a file in a new agent folder it was
    staging (`.agent.XXXX.tmp/name`): hidden, never taken for output."""
    return any(part.startswith(".") and part.endswith(".tmp") for part in Path(path).parts)


def test_killed_render_leaves_each_file_old_or_new(tmp_path: Path) -> None:
    """Kill `render` at random points between its start and its end, again and again."""
    bp, out = tmp_path / "bp", tmp_path / "out"
    old_names = [f"agent-{i:03d}" for i in range(60)]
    new_names = old_names[10:] + [f"added-{i:03d}" for i in range(10)]  # remove 10, add 10
    write_blueprints(bp, old_names, "v1")
    assert avrgen("render", "-b", str(bp), "-o", str(out)).wait(60) == 0
    old = state(out, bp)
    pristine = tmp_path / "pristine"
    shutil.copytree(tmp_path, pristine, symlinks=True)

    def restore() -> None:
        for name in ("bp", "out"):
            shutil.rmtree(tmp_path / name)
            shutil.copytree(pristine / name, tmp_path / name, symlinks=True)

    write_blueprints(bp, new_names, "v2")
    started = time.monotonic()  # timed as the killed renders run: not measured
    assert avrgen("render", "-b", str(bp), "-o", str(out), measured=False).wait(60) == 0
    duration = time.monotonic() - started
    new = state(out, bp)
    assert set(new) != set(old)

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    outcomes: dict[str, int] = {"old": 0, "new": 0, "between": 0}
    for _ in range(8):
        restore()
        write_blueprints(bp, new_names, "v2")
        proc = avrgen("render", "-b", str(bp), "-o", str(out), measured=False)
        time.sleep(rng.uniform(0.3, 1.05) * duration)
        if proc.poll() is not None:  # done before the kill: renders run faster than timed
            duration *= 0.6  # (the CPUs were busier then), so the next kill comes sooner
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        now = state(out, bp)
        for path in set(old) | set(new) | set(now):
            if temporary(path):
                continue  # a temporary file or staging folder of the killed render: cleaned below
            assert now.get(path) in (old.get(path), new.get(path)), (
                f"{path} is neither old nor new (seed {seed})"
            )
        visible = {p: b for p, b in now.items() if not temporary(p)}
        key = "old" if visible == old else "new" if visible == new else "between"
        outcomes[key] += 1
        # the next render completes the job, and leaves no temporary file behind
        assert avrgen("render", "-b", str(bp), "-o", str(out)).wait(60) == 0
        assert state(out, bp) == new, f"seed {seed}"
    print(f"render {duration:.2f}s, outcomes {outcomes}")
    assert outcomes["old"] + outcomes["between"] > 0, f"never killed before the end: {outcomes}"


def test_an_output_folder_that_cannot_be_made_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    folder = tmp_path / "file" / "out"
    with pytest.raises(AvrgenError, match=r"/file/out: cannot create it: Not a directory$"):
        mutex.hold(folder).__enter__()


def test_a_missing_folder_is_not_made_without_create(tmp_path: Path) -> None:
    with mutex.hold(tmp_path / "out", create=False):
        assert not (tmp_path / "out").exists()


def test_waiting_without_a_message_blocks_until_the_holder_ends(tmp_path: Path) -> None:
    """`wait` without `on_wait`: no message, and the lock is ours once the other lets go."""
    out = tmp_path / "out"
    holder = hold_lock(out)
    released = threading.Timer(1.0, holder.communicate, args=("",))
    released.start()
    started = time.monotonic()
    with mutex.hold(out):
        waited = time.monotonic() - started
    released.join()
    assert waited >= 0.5  # it waited for the holder to let go (after 1 s)
