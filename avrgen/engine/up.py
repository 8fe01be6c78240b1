"""`docker compose up --detach --wait --remove-orphans` on one agent's compose file.

It runs under the agent's project name `avr-<agent>`, with the agent's secrets in the
environment of that one subprocess only (never in a file, never on a command line).
Images are pulled and host ports checked first, so that the usual failures are told
before anything starts; what compose reports after that, failures.py explains.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from avrgen.engine.docker import Engine, Redact, last_line
from avrgen.engine.failures import crash_message, explain_failure, safe_list, settle
from avrgen.engine.ports import check_ports
from avrgen.errors import ComposeError

if TYPE_CHECKING:  # pydantic's models: not for a listing
    from avrgen.model.plan import AgentPlan

_CHANGED = re.compile(r"\b(?:Creat|Recreat|Start|Remov|Stopp)")
_CRASHED = ("exited", "dead", "restarting")
_TRANSIENT = re.compile(r"\s(?:Creating|Recreate|Starting|Stopping|Removing|Waiting)$")


def changed(line: str) -> bool:
    """A line of compose's progress that says a container was created, started, removed..."""
    return _CHANGED.search(line) is not None


def transient(line: str) -> bool:
    """A line of compose's progress that a later line for the same container supersedes."""
    return _TRANSIENT.search(line) is not None


def compose_up(
    engine: Engine,
    agent: AgentPlan,
    compose_file: Path,
    secrets: Mapping[str, str],
    redact: Redact,
    timeout: int,
    overrides: Sequence[Path] = (),
) -> bool:
    """Bring the agent up; True when some container changed. Fails with a ComposeError.
    `overrides`: compose files merged over `compose_file` (a rollback's images by id)."""
    if not compose_file.is_file():
        raise ComposeError(f"agent {agent.name!r}: {compose_file} not found; run avrgen render")
    ensure_images(engine, agent)
    check_ports(engine, agent)
    if engine.interruption.signal is not None:  # while images were pulled
        raise ComposeError(f"agent {agent.name!r}: interrupted before docker compose started")
    engine.say(agent.name, "docker compose up --wait")
    deadline = time.monotonic() + timeout
    returncode, lines = run_compose_up(
        engine, agent.name, agent.project, compose_file, secrets, redact, timeout, overrides
    )
    if returncode != 0:
        raise explain_failure(engine, agent, lines, redact)
    confirm_ready(engine, agent, redact, deadline, timeout)
    return any(changed(line) for line in lines)


def confirm_ready(
    engine: Engine, agent: AgentPlan, redact: Redact, deadline: float, timeout: int
) -> None:
    """Compose's `--wait` can succeed while a container it did not look at is still
    `starting` (seen under load): wait out the rest of `timeout` for it, as `--wait`
    should have, and fail as `--wait` does when it does not become ready."""
    while True:
        failing = [s for s in safe_list(engine, agent) if not s.ok]
        if not failing:
            return
        if any(s.state in _CRASHED or s.health == "unhealthy" for s in failing):
            failing = settle(engine, agent, failing)
            raise ComposeError(crash_message(engine, agent, failing, redact))
        if time.monotonic() >= deadline:
            raise ComposeError(crash_message(engine, agent, failing, redact, f"{timeout}s"))
        time.sleep(0.5)


def run_compose_up(
    engine: Engine,
    name: str,
    project: str,
    compose_file: Path,
    environment: Mapping[str, str],
    redact: Redact,
    timeout: int,
    overrides: Sequence[Path] = (),
) -> tuple[int, list[str]]:
    """`docker compose up --detach --wait --remove-orphans` of `project`, its progress told
    under `name`; `environment` (secrets) reaches compose through its environment only.
    Returns compose's exit status and its output's lines, redacted."""
    client = engine.compose_client(compose_file.resolve(), project, overrides)
    command = [
        *map(str, client.compose.docker_compose_cmd),
        *("--ansi", "never", "--progress", "plain"),
        *("up", "--detach", "--wait", "--wait-timeout", str(timeout), "--remove-orphans"),
    ]
    env = {**os.environ, **environment}
    lines: list[str] = []
    with (
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            errors="replace",
        ) as process,
        engine.interruption.child(process),
    ):
        assert process.stdout is not None  # stdout=PIPE
        for raw in process.stdout:
            line = redact(raw.rstrip())
            if line.strip():
                lines.append(line)
                if not transient(line):
                    engine.say(name, " ".join(line.split()).removeprefix("Container "))
    return process.returncode, lines


def ensure_images(engine: Engine, agent: AgentPlan) -> None:
    """Pull each image of the agent that is not here; name its roles when that fails."""
    from python_on_whales.exceptions import DockerException

    roles: dict[str, list[str]] = {}
    for container in agent.containers:
        roles.setdefault(container.image, []).append(container.role)
    for image, image_roles in roles.items():
        try:
            if engine.client.image.exists(image):
                continue
            engine.say(agent.name, f"pulling {image}")
            engine.client.image.pull(image, quiet=True)
        except DockerException as exc:
            raise ComposeError(
                f"agent {agent.name!r}: image {image} ({', '.join(image_roles)}) is not "
                f"available locally and could not be pulled: {last_line(exc)}"
            ) from None
