"""Faults under `up`, on a real engine: the engine going away in the middle of `up --all`, a
provider crashing in a loop, the shared network deleted behind avrgen's back. Each must end
in a clear message (no traceback), a `ps` that tells the truth, and an `up` that repairs it.

The engine "stops" for avrgen only: avrgen talks to it through a unix-socket proxy (DOCKER_HOST)
that the test kills, so the real engine, which other tests share, keeps running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dockerenv
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.docker

NETWORK, SUBNET = "avrgen-t5f", "10.213.56.0/24"
AGENTS = tuple(f"t5f-{c}" for c in "abcdef")
CRASH = "t5f-crash"

BLUEPRINTS = f"""\
kind: settings
network: {{name: {NETWORK}, subnet: {SUBNET}}}
ports: {{core: 28400-28449, http: 28500-28549, providers: 28600-28649}}
core: {{image: "{dockerenv.CORE_IMAGE}", env: {{CHECK_INTERVAL: "1"}}}}
---
kind: provider
name: F STS
type: STS
config: {{image: "{dockerenv.PROVIDER_IMAGE}"}}
---
kind: provider
name: F STS crashing
type: STS
config: {{image: "{dockerenv.PROVIDER_IMAGE}", env: {{CRASH: "1"}}}}
---
kind: agent
name: {CRASH}
mode: sts
providers: {{sts: F STS crashing}}
""" + "".join(
    f"---\nkind: agent\nname: {a}\nmode: sts\nproviders: {{sts: F STS}}\n" for a in AGENTS
)

PROXY = """\
import socket, sys, threading
def pump(src, dst):
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
server = socket.socket(socket.AF_UNIX)
server.bind(sys.argv[1])
server.listen(64)
print("ready", flush=True)
while True:
    client, _ = server.accept()
    upstream = socket.socket(socket.AF_UNIX)
    upstream.connect(sys.argv[2])
    threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
"""


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def cleanup() -> None:
    ids: set[str] = set()
    for agent in (*AGENTS, CRASH):
        for label in (f"avrgen.agent={agent}", f"com.docker.compose.project=avr-{agent}"):
            ids.update(docker("ps", "-aq", "--filter", f"label={label}").stdout.split())
    if ids:
        docker("rm", "-f", *sorted(ids))
    docker("network", "rm", NETWORK)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    folder = dockerenv.blueprint_folder(tmp_path_factory.mktemp("faults"), agents=BLUEPRINTS)
    cleanup()
    try:
        yield folder
    finally:
        cleanup()


def avrgen(root: Path, *args: str, docker_host: str | None = None) -> tuple[int, str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AVRGEN_") or k == "AVRGEN_STATE"
    }
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    proc = subprocess.run(
        [sys.executable, "-m", "avrgen", *args],
        cwd=root,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def ps(root: Path, *names: str) -> dict[str, tuple[str, str | None]]:
    """`avrgen ps --json`: container name -> (state, health)."""
    code, stdout, stderr = avrgen(root, "ps", "--json", *names)
    assert code == 0, stderr
    return {c["container"]: (c["state"], c["health"]) for c in json.loads(stdout)}


def engine_truth(*agents: str) -> dict[str, str]:
    """What the engine itself says: container name -> state."""
    found: dict[str, str] = {}
    for agent in agents:
        proc = docker(
            "ps", "-a", "--filter", f"label=avrgen.agent={agent}", "--format", "{{json .}}"
        )
        for line in proc.stdout.splitlines():
            row = json.loads(line)
            found[row["Names"]] = row["State"]
    return found


def all_running(root: Path, agents: tuple[str, ...]) -> None:
    states = ps(root, *agents)
    assert len(states) == 2 * len(agents), states
    assert all(
        state == "running" and health in (None, "healthy") for state, health in states.values()
    )


def test_engine_lost_in_the_middle_of_up_all(root: Path, tmp_path: Path) -> None:
    socket_path = tmp_path / "docker.sock"
    proxy = subprocess.Popen(
        [sys.executable, "-c", PROXY, str(socket_path), "/var/run/docker.sock"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proxy.stdout is not None and proxy.stdout.readline() == "ready\n"
        host = f"unix://{socket_path}"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AVRGEN_") or k == "AVRGEN_STATE"
        }
        up = subprocess.Popen(
            [sys.executable, "-m", "avrgen", "up", *AGENTS, "--parallel", "2"],
            cwd=root,
            env={**env, "DOCKER_HOST": host, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert up.stderr is not None
        seen: list[str] = []
        for line in up.stderr:  # the engine goes away once compose is at work
            seen.append(line)
            if "docker compose up --wait" in line:
                proxy.send_signal(signal.SIGKILL)
                break
        _, rest = up.communicate(timeout=300)
        stderr = "".join(seen) + rest
    finally:
        proxy.kill()
        proxy.wait()
    assert up.returncode == 1, stderr
    assert "Traceback" not in stderr
    assert "the Docker Engine stopped answering during `up`" in stderr
    assert "not attempted" in stderr  # the agents after the loss were not tried one by one
    assert "of 6 agent(s) failed" in stderr

    # through the dead socket: a clear error, not a hang or a traceback
    code, _, stderr = avrgen(root, "ps", docker_host=host)
    assert code == 1 and "no Docker Engine reachable" in stderr

    # with the engine back: ps tells what is really there, and up repairs the rest
    assert {name: state for name, (state, _) in ps(root, *AGENTS).items() if state != "absent"} == (
        engine_truth(*AGENTS)
    )
    code, _, stderr = avrgen(root, "up", *AGENTS)
    assert code == 0, stderr
    all_running(root, AGENTS)


def test_crash_loop_is_explained_and_repaired(root: Path) -> None:
    code, _, stderr = avrgen(root, "up", CRASH, "--timeout", "30")
    assert code == 1
    assert f"avr-sts-{CRASH} (sts)" in stderr
    assert "CRASH=1 set, exiting with status 1" in stderr  # its own last words
    assert f"avrgen logs {CRASH}" in stderr
    # in a restart loop the container is briefly `running` between crashes: ps must show
    # the loop within a few polls, and the core beside it running
    deadline = time.monotonic() + 20
    while True:
        states = ps(root, CRASH)
        if states[f"avr-sts-{CRASH}"][0] in ("restarting", "exited"):
            break
        assert time.monotonic() < deadline, states
        time.sleep(0.5)
    assert states[f"avr-core-{CRASH}"][0] == "running"

    blueprints = root / "blueprints" / "agents.yaml"
    blueprints.write_text(blueprints.read_text().replace('{CRASH: "1"}', '{CRASH: "0"}'))
    code, _, stderr = avrgen(root, "up", CRASH)
    assert code == 0, stderr
    all_running(root, (CRASH,))


def test_network_deleted_behind_avrgens_back(root: Path) -> None:
    agents = AGENTS[:2]
    avrgen(root, "down", CRASH, *AGENTS[2:])  # the other tests' agents: not in the way
    code, _, stderr = avrgen(root, "up", *agents)
    assert code == 0, stderr
    containers = [f"avr-{role}-{agent}" for agent in agents for role in ("sts", "core")]
    attached = docker(
        "network", "inspect", NETWORK, "--format", "{{range .Containers}}{{.Name}} {{end}}"
    ).stdout.split()  # the other tests' agents too: the network goes, whoever is on it
    assert set(containers) <= set(attached)
    for name in attached:
        docker("network", "disconnect", "--force", NETWORK, name)
    removed = docker("network", "rm", NETWORK)
    assert removed.returncode == 0, removed.stderr

    listed = ps(root)  # no names: the blueprints' agents, although off the network
    assert set(containers) <= set(listed)
    code, stdout, _ = avrgen(root, "status", *agents)
    assert code in (0, 1) and "drifted" in stdout and NETWORK in stdout

    code, _, stderr = avrgen(root, "up", *agents)
    assert code == 0, stderr
    assert f"created network {NETWORK}" in stderr
    all_running(root, agents)
    for name in containers:
        info = json.loads(docker("container", "inspect", name).stdout)[0]
        assert NETWORK in info["NetworkSettings"]["Networks"], name
