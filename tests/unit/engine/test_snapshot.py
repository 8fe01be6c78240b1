"""containers.Snapshot: the engine read in a thread of its own while a command plans; an
engine that does not answer gives None (the caller asks again and says why), never a
traceback from the thread."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_an_engine_that_does_not_answer_gives_none(tmp_path: Path) -> None:
    code = (
        "from avrgen.engine.containers import Snapshot\n"
        "from avrgen.engine.docker import Engine\n"
        "print(Snapshot(Engine()).found())\n"
    )
    env = {"PATH": "/usr/bin:/bin", "DOCKER_HOST": f"unix://{tmp_path / 'none.sock'}"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert (out.returncode, out.stdout, out.stderr) == (0, "None\n", "")


def test_no_docker_cli_gives_none(tmp_path: Path) -> None:
    code = (
        "from avrgen.engine.containers import Snapshot\n"
        "from avrgen.engine.docker import Engine\n"
        "print(Snapshot(Engine()).found())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PATH": str(tmp_path)},
        check=False,
    )
    assert (out.returncode, out.stdout, out.stderr) == (0, "None\n", "")
