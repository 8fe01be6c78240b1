"""Helpers for the docker tests: is an engine here, and the local test images.

The docker tests run real containers on a real engine. Where none answers they
skip, with the reason; with ``AVRGEN_DOCKER_TESTS=required`` (as in CI) they fail
instead. The images they run are built here, FROM scratch with the host's static
busybox (Debian's ``busybox-static``), by the classic builder:

- ``avrgen-test/provider:1``: HTTP 200 on ``$PORT`` for GET of ``/``,
  ``/speech-to-text-stream``, ``/prompt-stream``, ``/text-to-speech-stream``,
  ``/health``, ``/env``; exits 2 without ``PORT``, 1 with ``CRASH=1``.
- ``avrgen-test/core:1``: AudioSocket on ``$PORT`` (each connection's first frame,
  kind 0x01, length 0x0010 and 16 bytes of UUID, recorded: ``GET /audiosocket`` lists
  the UUIDs, one a line); HTTP on ``$HTTP_PORT`` with ``POST /call`` (its body recorded:
  ``GET /calls``, one a line), ``/health``, ``/env``, ``/report`` (one line a URL:
  ``ASR_URL=<url> ok|fail``) and ``/ready`` (200 once every URL set answered); checks
  every ``CHECK_INTERVAL`` seconds (default 2).
- ``avrgen-test/asterisk:1``: a STAND-IN for avr-asterisk, not Asterisk (which is not
  packaged for this Debian): it reads the mounted ``/etc/asterisk/my_*.conf`` and what
  they include, and answers ``asterisk -rx`` (``core waitfullybooted``, ``dialplan
  reload``, ``module reload res_pjsip.so``, ``manager reload``, ``module reload
  res_ari.so``), appending each load to ``/var/log/asterisk/avrgen-standin.log`` as
  ``<command>|<file>=<sha256>|<included file>=<sha256>...`` (``boot`` at start).

Each image carries the label ``avrgen-test.context``, the digest of its build context
(``context_digest``); one whose label differs from its folder's is rebuilt.

Typical use, in a conftest::

    @pytest.fixture(scope="session")
    def docker_engine() -> None:
        dockerenv.require_engine()
        dockerenv.ensure_test_images()
"""

from __future__ import annotations

import contextlib
import fcntl
import filecmp
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from blueprint_folder import write_blueprints

MODE_VAR = "AVRGEN_DOCKER_TESTS"
IMAGES_DIR = Path(__file__).resolve().parent / "docker" / "images"
PROVIDER_IMAGE = "avrgen-test/provider:1"
CORE_IMAGE = "avrgen-test/core:1"
ASTERISK_IMAGE = "avrgen-test/asterisk:1"
TEST_IMAGES = {
    PROVIDER_IMAGE: IMAGES_DIR / "provider",
    CORE_IMAGE: IMAGES_DIR / "core",
    ASTERISK_IMAGE: IMAGES_DIR / "asterisk",
}
CONTEXT_LABEL = "avrgen-test.context"
_TIMEOUT = 30.0


def _docker(*args: str, timeout: float = _TIMEOUT) -> subprocess.CompletedProcess[str]:
    docker = shutil.which("docker")
    if docker is None:
        raise FileNotFoundError("docker")
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}  # no buildx here: classic builder
    return subprocess.run(
        [docker, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def _why(proc: subprocess.CompletedProcess[str]) -> str:
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"


@functools.cache
def engine_available() -> str | None:
    """None when a Docker engine answers, else why not (cached: cache_clear() to ask again)."""
    try:
        proc = _docker("version", "--format", "{{.Server.Version}}")
    except FileNotFoundError:
        return "no `docker` client on PATH"
    except subprocess.TimeoutExpired:
        return f"`docker version` did not answer in {_TIMEOUT:.0f}s"
    if proc.returncode != 0 or not proc.stdout.strip():
        return f"no Docker engine answers: {_why(proc)}"
    return None


@functools.cache
def compose_available() -> str | None:
    """None when the Docker Compose v2 plugin runs, else why not (cached)."""
    try:
        proc = _docker("compose", "version", "--short")
    except FileNotFoundError:
        return "no `docker` client on PATH"
    except subprocess.TimeoutExpired:
        return f"`docker compose version` did not answer in {_TIMEOUT:.0f}s"
    if proc.returncode != 0:
        return f"no `docker compose` plugin: {_why(proc)}"
    return None


def require_engine(*, compose: bool = True) -> None:
    """Skip the calling test (fail it when AVRGEN_DOCKER_TESTS=required) without an engine.

    With ``compose`` (the default) the Compose v2 plugin is required too.
    """
    reason = engine_available() or (compose_available() if compose else None)
    if reason is not None:
        unavailable(reason)


def unavailable(reason: str) -> NoReturn:
    """Skip the calling test loudly for `reason` (fail it when AVRGEN_DOCKER_TESTS=required)."""
    if os.environ.get(MODE_VAR, "").strip().lower() == "required":
        pytest.fail(f"{MODE_VAR}=required, but {reason}", pytrace=False)
    pytest.skip(f"DOCKER TESTS SKIPPED: {reason} (set {MODE_VAR}=required to fail instead)")


def image_exists(tag: str) -> bool:
    return _docker("image", "inspect", tag).returncode == 0


def context_digest(context: Path) -> str:
    """sha256 of the `sha256sum` lines of the context's files in byte order of their paths
    (what build_images.sh computes)."""
    files = sorted(p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file())
    lines = "".join(
        f"{hashlib.sha256((context / name).read_bytes()).hexdigest()}  {name}\n" for name in files
    )
    return hashlib.sha256(lines.encode()).hexdigest()


def _built_from(tag: str) -> str | None:
    """The context digest `tag` was built from (None: no such image, or no label)."""
    proc = _docker(
        "image", "inspect", "--format", f'{{{{index .Config.Labels "{CONTEXT_LABEL}"}}}}', tag
    )
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _build(context: Path, tag: str) -> None:
    label = f"{CONTEXT_LABEL}={context_digest(context)}"
    try:
        from python_on_whales import DockerClient
    except ImportError:
        proc = _docker(
            "build", "--quiet", "--label", label, "--tag", tag, str(context), timeout=300
        )
        if proc.returncode != 0:
            raise RuntimeError(f"building {tag} failed:\n{proc.stderr}") from None
        return
    DockerClient(client_call=["env", "DOCKER_BUILDKIT=0", "docker"]).legacy_build(
        context, tags=[tag], labels=dict([label.split("=", 1)])
    )


def ensure_test_images(*, rebuild: bool = False) -> None:
    """Build the test images that are missing or built from another context than their
    folder's now (all of them with ``rebuild``)."""
    busybox = Path(os.environ.get("BUSYBOX", "/bin/busybox"))
    for tag, context in TEST_IMAGES.items():
        if not busybox.is_file():
            if not rebuild and image_exists(tag):
                continue  # nothing to build from: use what is there
            raise RuntimeError(f"{busybox} not found: apt-get install busybox-static")
        copy = context / "busybox"
        if not copy.is_file() or not filecmp.cmp(busybox, copy, shallow=False):
            shutil.copyfile(busybox, copy)
            copy.chmod(0o755)
        if not rebuild and _built_from(tag) == context_digest(context):
            continue
        _build(context, tag)


@contextlib.contextmanager
def exclusive(lock_file: Path, minutes: int) -> Iterator[None]:
    """Hold `lock_file` (flock) for the block: one test session at a time uses what it guards
    on this machine's engine; a second waits, and fails after `minutes`."""
    with lock_file.open("a+") as lock:
        deadline = time.monotonic() + minutes * 60
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{lock_file} held by another test session for {minutes} minutes")
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def blueprint_folder(root: Path, secrets: str | None = None, **files: str) -> Path:
    """`root` with `blueprints/NAME.yaml` for each of `files` (NAME=text) and, given
    `secrets`, that text as `root/secrets.env`; returns `root`."""
    write_blueprints(root / "blueprints", {f"{name}.yaml": text for name, text in files.items()})
    if secrets is not None:
        (root / "secrets.env").write_text(secrets, encoding="utf-8")
    return root


def run_compose(
    binary: Path, folder: Path, *args: str, secrets: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The compose CLI in `folder` with a clean environment: only PATH, HOME and `secrets`."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(folder), **secrets}
    return subprocess.run(
        [str(binary), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    """The docker CLI against this machine's engine, its output captured."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)


def run_avrgen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m avrgen ARGS` in `cwd` as an operator runs it (no AVRGEN_* settings of the
    test run but its state folder), failing the test on a traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVRGEN_")}
    if "AVRGEN_STATE" in os.environ:  # conftest's: never the machine's /var/lib/avrgen
        env["AVRGEN_STATE"] = os.environ["AVRGEN_STATE"]
    command = [sys.executable, "-m", "avrgen", *args]
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc
