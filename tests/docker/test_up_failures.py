"""How `up` tells an agent that did not come up, on real containers in each state: after
`docker compose up --wait` succeeds, every container is still held to running and healthy
within `--timeout` (compose's `--wait` was seen to return while a container it had not
looked at was `starting`); and what compose's own failures say is explained in avrgen's
words (failures.py). The containers here are started by plain `docker compose up
--detach`, without `--wait`, so that each state is met for real."""

from __future__ import annotations

import time
from collections.abc import Iterator

import dockerenv
import pytest

from avrgen.app.project import Paths, Project
from avrgen.engine.compose import Docker
from avrgen.engine.failures import explain_failure
from avrgen.engine.up import confirm_ready
from avrgen.errors import ComposeError
from avrgen.model.output import COMPOSE_FILE
from avrgen.model.plan import AgentPlan

pytestmark = pytest.mark.docker

BLUEPRINTS = f"""\
kind: settings
network: {{name: avrgen-ready, subnet: 10.213.61.0/24}}
ports: {{core: 28750-28759, http: 28760-28769, providers: 28770-28789}}
core: {{image: "{dockerenv.CORE_IMAGE}", env: {{CHECK_INTERVAL: "1"}}}}
---
kind: provider
name: Quick STS
type: STS
config: {{image: "{dockerenv.PROVIDER_IMAGE}"}}
---
kind: provider
name: Slow STS
type: STS
config: {{image: "{dockerenv.PROVIDER_IMAGE}", env: {{START_DELAY: "60"}}}}
---
kind: provider
name: Crashing STS
type: STS
config: {{image: "{dockerenv.PROVIDER_IMAGE}", env: {{CRASH: "1"}}}}
---
kind: agent
name: ready-quick
mode: sts
providers: {{sts: Quick STS}}
core: {{publish: true}}
---
kind: agent
name: ready-slow
mode: sts
providers: {{sts: Slow STS}}
---
kind: agent
name: ready-crash
mode: sts
providers: {{sts: Crashing STS}}
"""


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, AgentPlan]]:
    """The three agents, rendered, each started without `--wait`."""
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    root = dockerenv.blueprint_folder(tmp_path_factory.mktemp("ready"), agents=BLUEPRINTS)
    assert dockerenv.run_avrgen("render", cwd=root).returncode == 0
    plans = Project(Paths(root / "blueprints", root / "output")).plan()[0].agents
    try:
        dockerenv.docker("network", "create", "--subnet", "10.213.61.0/24", "avrgen-ready")
        for plan in plans.values():
            compose_file = root / "output" / plan.name / COMPOSE_FILE
            started = dockerenv.docker(
                "compose", "-p", plan.project, "-f", str(compose_file), "up", "--detach"
            )
            assert started.returncode == 0, started.stderr
        yield plans
    finally:
        for plan in plans.values():
            dockerenv.docker("compose", "-p", plan.project, "down", "--timeout", "0")
        dockerenv.docker("network", "rm", "avrgen-ready")


def confirm(agent: AgentPlan, seconds: int) -> None:
    confirm_ready(Docker(), agent, lambda text: text, time.monotonic() + seconds, seconds)


def test_containers_that_become_healthy_in_time_pass(agents: dict[str, AgentPlan]) -> None:
    confirm(agents["ready-quick"], 60)
    assert all(status.ok for status in Docker().containers(["ready-quick"]))


def test_a_container_still_starting_at_the_timeout_is_named(
    agents: dict[str, AgentPlan],
) -> None:
    with pytest.raises(ComposeError) as caught:
        confirm(agents["ready-slow"], 2)
    message = str(caught.value)
    assert message.startswith(
        "agent 'ready-slow': not healthy after 2s (`--timeout` sets how long `up` waits):\n"
    )
    assert "  avr-sts-ready-slow (sts): running, starting; last log lines:" in message
    assert "avr-core-ready-slow" not in message  # the core is healthy: not named


def test_a_crashing_container_is_named_at_once_with_its_exit_code(
    agents: dict[str, AgentPlan],
) -> None:
    began = time.monotonic()
    with pytest.raises(ComposeError) as caught:
        confirm(agents["ready-crash"], 120)
    message = str(caught.value)
    assert message.startswith(
        "agent 'ready-crash': container(s) failed while `up --wait` waited for them:\n"
    )
    assert "  avr-sts-ready-crash (sts): restarting, exit code 1" in message
    assert "CRASH=1 set, exiting with status 1" in message
    assert time.monotonic() - began < 120  # told without waiting out the timeout


def test_a_port_compose_found_taken_names_the_agent_role_and_holder(
    agents: dict[str, AgentPlan],
) -> None:
    quick = agents["ready-quick"]
    core = next(c for c in quick.containers if c.role == "core")
    port = core.published[0]
    line = (
        f"Error response from daemon: Bind for 127.0.0.1:{port} failed: port is already allocated"
    )
    message = str(explain_failure(Docker(), quick, [line], lambda text: text))
    role = "core HTTP" if port == core.http_port else "core"
    assert message == (
        f"host port {port} (agent 'ready-quick', role {role}, container avr-core-ready-quick) "
        "is already taken by container avr-core-ready-quick; free it, or pin another port in "
        "the agent's `ports:` and render again"
    )


def test_a_container_compose_found_unhealthy_is_named_with_its_log(
    agents: dict[str, AgentPlan],
) -> None:
    """Compose says unhealthy while the container reads `running, starting`: given a moment
    to show what it does, then named with its state and log."""
    line = "dependency failed to start: container avr-sts-ready-slow is unhealthy"
    message = str(explain_failure(Docker(), agents["ready-slow"], [line], lambda text: text))
    assert message.startswith(
        "agent 'ready-slow': container(s) failed while `up --wait` waited for them:\n"
        "  avr-sts-ready-slow (sts): running, starting; last log lines:\n"
    )
    assert "START_DELAY=60, serving after that" in message


def test_a_missing_image_and_any_other_failure_quote_compose(
    agents: dict[str, AgentPlan],
) -> None:
    quick, quiet = agents["ready-quick"], lambda text: text
    missing = ["pulling avrgen-test/absent:0", "Error: No such image: avrgen-test/absent:0"]
    assert str(explain_failure(Docker(), quick, missing, quiet)) == (
        "agent 'ready-quick': an image is missing:\n"
        "  pulling avrgen-test/absent:0\n  Error: No such image: avrgen-test/absent:0"
    )
    other = str(explain_failure(Docker(), quick, ["something else went wrong"], quiet))
    assert other == "agent 'ready-quick': docker compose up failed:\n  something else went wrong"
