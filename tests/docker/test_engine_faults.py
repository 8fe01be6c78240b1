"""The engine layer's own fault paths on the real engine: what docker refuses (a container or
network that is not there, an engine that does not answer) comes back as a ComposeError in
avrgen's words, or as "nothing there" where that is the answer. No container is started."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import dockerenv
import pytest

from avrgen.engine import containers, network
from avrgen.engine.containers import ContainerStatus
from avrgen.engine.docker import Engine
from avrgen.errors import ComposeError
from avrgen.model.blueprint import Host, NetworkSettings

pytestmark = pytest.mark.docker
MISSING = "avrgen-test-missing-" + uuid.uuid4().hex[:12]  # no container or network is named so


@pytest.fixture(scope="module")
def engine() -> Engine:
    dockerenv.require_engine(compose=False)
    return Engine()


@pytest.fixture
def dead_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """An Engine whose DOCKER_HOST is a socket nobody listens on."""
    socket = tmp_path_factory.mktemp("dead") / "docker.sock"
    return Engine(host=("dead", Host(docker=f"unix://{socket}")))


def missing_container() -> ContainerStatus:
    return ContainerStatus("x", MISSING, "core", "running", id=MISSING)


def test_inspecting_a_container_that_is_gone_finds_nothing(engine: Engine) -> None:
    assert containers.inspect(engine, [MISSING]) == []
    assert containers.inspect(engine, []) == []


def test_inspecting_without_an_engine_names_docker_s_reason(dead_engine: Engine) -> None:
    with pytest.raises(ComposeError) as caught:
        containers.inspect(dead_engine, [MISSING])
    message = str(caught.value)
    assert message.startswith("cannot inspect containers: ")
    assert "docker.sock" in message  # docker's last line: the socket it could not reach


def test_listing_without_an_engine_names_docker_s_reason(dead_engine: Engine) -> None:
    with pytest.raises(ComposeError) as caught:
        containers.matching(dead_engine, [[("label", "avrgen.managed=true")]])
    message = str(caught.value)
    assert message.startswith("cannot list containers: ")
    assert "docker.sock" in message  # docker's last line: the socket it could not reach


def test_inspect_output_that_is_not_json_is_an_error() -> None:
    """A `docker` that prints something else (a wrapper, a broken CLI): no traceback."""
    odd = Engine()
    odd.cli = ["echo", "not json"]
    no_json = r"^cannot inspect containers: docker printed no JSON list$"
    with pytest.raises(ComposeError, match=no_json):
        containers.inspect(odd, [MISSING])


def test_restarting_a_container_that_is_gone_names_it(engine: Engine) -> None:
    with pytest.raises(ComposeError) as caught:
        containers.restart(engine, [missing_container()])
    assert str(caught.value).startswith("cannot restart containers: ")
    assert MISSING in str(caught.value)


def test_the_log_of_a_container_that_is_gone_is_empty(engine: Engine) -> None:
    assert containers.log_tail(engine, MISSING) == []


def test_removing_containers_that_are_gone_is_done(engine: Engine) -> None:
    containers.remove(engine, [missing_container()])  # stop and rm fail; nothing is left
    containers.remove(engine, [ContainerStatus("x", "y", "core", "absent")])  # no id: no call
    assert containers.existing(engine, [MISSING]) == []


def test_without_an_engine_no_container_exists(dead_engine: Engine) -> None:
    assert containers.existing(dead_engine, [MISSING]) == []
    assert not dead_engine.answers()


def test_network_faults(engine: Engine, dead_engine: Engine) -> None:
    assert network.inspect_network(engine, MISSING) is None
    assert not network.created_by_avrgen(engine, MISSING)
    with pytest.raises(ComposeError, match=rf"^cannot remove network '{MISSING}': "):
        network.remove_network(engine, MISSING)
    with pytest.raises(ComposeError, match=rf"^cannot inspect network '{MISSING}': "):
        network.inspect_network(dead_engine, MISSING)


@pytest.fixture
def bridge(engine: Engine) -> Iterator[str]:
    name = MISSING + "-net"
    yield name
    for left in (name, name + "-2"):
        if engine.client.network.exists(left):
            engine.client.network.remove(left)


def test_a_network_that_cannot_be_created_names_its_subnet(engine: Engine, bridge: str) -> None:
    """Created with avrgen's label and its subnet; created again by someone else meanwhile:
    fine; a subnet docker refuses (it overlaps another network's) names the network, the
    subnet and docker's reason."""
    settings = NetworkSettings.model_validate({"name": bridge, "subnet": "172.31.250.0/24"})
    note = network.create_network(engine, settings, overlay=False)
    assert note == f"created network {bridge} (subnet 172.31.250.0/24)"
    assert network.created_by_avrgen(engine, bridge)
    # the same name again: someone (here: we) created it meanwhile, and that is fine
    assert network.create_network(engine, settings, overlay=False) is None
    other = NetworkSettings.model_validate({"name": bridge + "-2", "subnet": "172.31.250.0/24"})
    with pytest.raises(ComposeError) as caught:
        network.create_network(engine, other, overlay=False)  # overlaps the first one
    assert str(caught.value).startswith(
        f"cannot create network '{bridge}-2' with subnet 172.31.250.0/24: "
    )


def test_a_network_in_use_is_not_removed_and_docker_s_reason_is_quoted(
    engine: Engine, bridge: str
) -> None:
    """docker's refusal, not the CLI's closing `exit status 1`; the engine fault of a count
    without containers is named only when no container is on the network (here one is)."""
    dockerenv.ensure_test_images()
    engine.client.network.create(bridge)
    holder = engine.client.run(
        dockerenv.PROVIDER_IMAGE, ["3600"], entrypoint="sleep", detach=True,
        networks=[bridge], name=MISSING + "-holder",
    )  # fmt: skip
    try:
        with pytest.raises(ComposeError) as caught:
            network.remove_network(engine, bridge)
        message = str(caught.value)
        assert message.startswith(f"cannot remove network '{bridge}': ")
        assert network.ACTIVE_ENDPOINTS in message and "restarting the engine" not in message
        found = network.inspect_network(engine, bridge)
        assert found is not None and network.container_users(found) == {holder.name}
    finally:
        holder.remove(force=True)
    network.remove_network(engine, bridge)
    assert network.inspect_network(engine, bridge) is None


SLOW = f"""\
kind: settings
network: {{name: avrgen-t6e, subnet: 10.213.60.0/24}}
ports: {{core: 28700-28709, http: 28710-28719, providers: 28720-28739}}
core: {{image: "{dockerenv.CORE_IMAGE}", env: {{CHECK_INTERVAL: "1"}}}}
---
kind: provider
name: Slow STS
type: STS
config: {{image: "{dockerenv.PROVIDER_IMAGE}", env: {{START_DELAY: "60"}}}}
---
kind: agent
name: t6e-slow
mode: sts
providers: {{sts: Slow STS}}
"""


def test_an_agent_not_healthy_in_time_names_the_timeout_and_its_containers(
    tmp_path: Path,
) -> None:
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    root = dockerenv.blueprint_folder(tmp_path, agents=SLOW)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AVRGEN_") or k == "AVRGEN_STATE"
    }

    def avrgen(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "avrgen", *args],
            cwd=root, env=env, capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip

    try:
        proc = avrgen("up", "t6e-slow", "--timeout", "3")
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        assert (
            "agent 't6e-slow': not healthy after 3s (`--timeout` sets how long `up` waits):"
            in proc.stderr
        )
        assert "avr-sts-t6e-slow (sts): running, starting; last log lines:" in proc.stderr
        assert "START_DELAY=60, serving after that" in proc.stderr
    finally:
        avrgen("down", "t6e-slow", "--network")
