"""SIGTERM or Ctrl-C while `up` starts agents (issue 17): every `docker compose` child is
told and waited for, nothing more starts, each agent's state is reported, and the exit code
is the signal's (143, 130). No compose process is left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dockerenv
import pytest
from dockerenv import docker

pytestmark = pytest.mark.docker

LOCK_FILE = Path("/tmp/avrgen-test-interruption.lock")
NETWORK = "avrt-int"
BLUEPRINTS = f"""kind: settings
network: {{name: {NETWORK}, subnet: 172.31.78.0/24}}
core: {{image: {dockerenv.CORE_IMAGE}}}
---
kind: provider
name: Quick
type: STS
config: {{image: {dockerenv.PROVIDER_IMAGE}}}
---
kind: provider
name: Slow
type: STS
config: {{image: {dockerenv.PROVIDER_IMAGE}, env: {{START_DELAY: "120"}}}}
---
kind: agent
name: avrt-int-quick
mode: sts
providers: {{sts: Quick}}
---
kind: agent
name: avrt-int-slow
mode: sts
providers: {{sts: Slow}}
---
kind: agent
name: avrt-int-later
mode: sts
providers: {{sts: Quick}}
"""
AGENTS = ("avrt-int-quick", "avrt-int-slow", "avrt-int-later")


def cleanup() -> None:
    for agent in AGENTS:
        ids = docker("ps", "-aq", "--filter", f"label=avrgen.agent={agent}").stdout.split()
        if ids:
            docker("rm", "-f", *ids)
    docker("network", "rm", NETWORK)


def compose_children(output: Path) -> list[str]:
    """Command lines of running `docker compose` processes on this test's output folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                args = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            line = b" ".join(args).decode(errors="replace")
            if "compose" in line and str(output) in line:
                found.append(line)
    return found


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    with dockerenv.exclusive(LOCK_FILE, minutes=10):
        cleanup()
        yield dockerenv.blueprint_folder(tmp_path, agents=BLUEPRINTS)
        cleanup()


def start_up(root: Path) -> subprocess.Popen[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AVRGEN_") or k == "AVRGEN_STATE"
    }
    return subprocess.Popen(
        # one at a time: quick is up, slow is starting, later is not started yet
        [sys.executable, "-m", "avrgen", "up", *AGENTS, "--parallel", "1", "--timeout", "100"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until_slow_is_starting(root: Path) -> None:
    deadline = time.monotonic() + 90
    while not docker("ps", "-q", "--filter", "name=^/avr-sts-avrt-int-slow$").stdout.strip():
        assert time.monotonic() < deadline, "avr-sts-avrt-int-slow never started"
        time.sleep(0.5)
    time.sleep(1)  # compose is now waiting for it to be healthy


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_up_is_forwarded_and_reported(root: Path, signum: int, code: int) -> None:
    proc = start_up(root)
    wait_until_slow_is_starting(root)
    proc.send_signal(signum)  # to avrgen alone, as `kill` or a service manager sends it
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    rows = {line.split()[0]: line.split()[1] for line in stdout.splitlines()[1:]}
    assert rows == {
        "avrt-int-quick": "started",
        "avrt-int-slow": "interrupted",
        "avrt-int-later": "not",  # "not started"
    }, stdout
    name = signal.Signals(signum).name
    assert f"agent 'avrt-int-slow': interrupted by {name} while starting; running:" in stderr
    assert f"agent 'avrt-int-later': not started: {name} received" in stderr
    assert f"interrupted by {name}: 2 of 3 agent(s) stopped or not started" in stderr
    assert compose_children(root / "output") == []
    later = docker("ps", "-aq", "--filter", "label=avrgen.agent=avrt-int-later")
    assert later.stdout.strip() == ""  # nothing more was started
