"""No harm (issue 16): avrgen starts, replaces or removes only what carries its label.

A foreign stack sharing an agent's compose project (a checkout of avr-infra in `avr-infra/`
is project `avr-infra`, as an agent `infra` is) or one of its container names (avr-infra's
`avr-sts-openai`, as an STS agent `openai`'s) makes `up` and `down` refuse, naming it, with
nothing changed; a network avrgen did not create is never removed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dockerenv
import pytest
from dockerenv import docker
from dockerenv import run_avrgen as avrgen

pytestmark = pytest.mark.docker

LOCK_FILE = Path("/tmp/avrgen-test-ownership.lock")
NETWORK = "avrt-own"
PROVIDER = """kind: provider
name: Echo
type: STS
config: {image: avrgen-test/provider:1}
"""
SETTINGS = (
    f"kind: settings\nnetwork: {{name: {NETWORK}, subnet: 172.31.77.0/24}}\n"
    f"core: {{image: {dockerenv.CORE_IMAGE}}}\n"
)
AGENT = "kind: agent\nname: {name}\nmode: sts\nproviders: {{sts: Echo}}\n"
FOREIGN = ("avr-infra-asterisk-1", "avr-sts-openai")


def state(name: str) -> str | None:
    proc = docker("container", "inspect", name)
    return json.loads(proc.stdout)[0]["State"]["Status"] if proc.returncode == 0 else None


def cleanup() -> None:
    for name in (*FOREIGN, "avr-sts-infra", "avr-core-infra", "avr-core-openai"):
        docker("rm", "-f", name)
    docker("network", "rm", NETWORK)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    with dockerenv.exclusive(LOCK_FILE, minutes=10):
        cleanup()
        folder = dockerenv.blueprint_folder(
            tmp_path_factory.mktemp("ownership"),
            settings=SETTINGS,
            providers=PROVIDER,
            infra=AGENT.format(name="infra"),
            openai=AGENT.format(name="openai"),
        )
        # what another stack left here: avr-infra's project and its container names
        for name, project in zip(FOREIGN, ("avr-infra", "avr-infra"), strict=True):
            proc = docker(
                "run", "-d", "--name", name, "--label", f"com.docker.compose.project={project}",
                "-e", "PORT=6999", dockerenv.PROVIDER_IMAGE,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr
        yield folder
        cleanup()


def test_up_refuses_an_agent_whose_project_is_a_foreign_stacks(root: Path) -> None:
    proc = avrgen("up", "infra", cwd=root)
    assert proc.returncode == 1
    assert "refusing to start 'infra'" in proc.stderr
    assert "container avr-infra-asterisk-1 (compose project avr-infra" in proc.stderr
    assert "nothing was changed" in proc.stderr
    assert state("avr-infra-asterisk-1") == "running"
    assert state("avr-sts-infra") is None and state("avr-core-infra") is None


def test_up_refuses_a_container_name_held_by_a_foreign_container(root: Path) -> None:
    proc = avrgen("up", "openai", cwd=root)
    assert proc.returncode == 1
    assert "refusing to start 'openai'" in proc.stderr
    assert "container avr-sts-openai (compose project avr-infra" in proc.stderr
    assert state("avr-sts-openai") == "running"
    assert state("avr-core-openai") is None


def test_up_all_starts_nothing_when_one_agent_clashes(root: Path) -> None:
    proc = avrgen("up", "--all", cwd=root)
    assert proc.returncode == 1
    assert "refusing to start 'infra', 'openai'" in proc.stderr
    assert docker("network", "inspect", NETWORK).returncode != 0  # not even the network


def test_down_refuses_next_to_a_foreign_container_of_the_project(root: Path) -> None:
    proc = avrgen("down", "infra", cwd=root)
    assert proc.returncode == 1
    assert "refusing to remove the containers of 'infra'" in proc.stderr
    assert "avr-infra-asterisk-1" in proc.stderr
    assert state("avr-infra-asterisk-1") == "running"
    # ps of the agent never lists the foreign container as one of its own
    listed = avrgen("ps", "infra", "--json", cwd=root)
    assert listed.returncode == 0, listed.stderr
    assert {c["container"] for c in json.loads(listed.stdout)} == {
        "avr-sts-infra",
        "avr-core-infra",
    }
    assert {c["state"] for c in json.loads(listed.stdout)} == {"absent"}


def test_a_network_avrgen_did_not_create_is_kept(root: Path) -> None:
    assert docker("network", "create", NETWORK).returncode == 0
    try:
        proc = avrgen("down", "openai", "--network", cwd=root)
        assert proc.returncode == 0, proc.stderr
        assert f"network {NETWORK} kept: avrgen did not create it" in proc.stdout
        assert docker("network", "inspect", NETWORK).returncode == 0
    finally:
        docker("network", "rm", NETWORK)
