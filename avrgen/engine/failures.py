"""Why `docker compose up --wait` failed, in words that name the agent, the container and
its role: a host port taken, a container that died or stayed unhealthy while `--wait`
waited for it (with the last lines of its log), an image that is missing."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from avrgen.engine.containers import ContainerStatus, list_containers, log_tail
from avrgen.engine.docker import Engine, Redact, quoted_log, tail
from avrgen.engine.ports import port_holder, port_message, taken_port
from avrgen.errors import ComposeError

if TYPE_CHECKING:  # pydantic's models: not for a listing
    from avrgen.model.plan import AgentPlan

_UNHEALTHY = re.compile(r"container ([\w.-]+) (?:is unhealthy|exited \((\d+)\)|has exited)")
_NOT_HEALTHY = re.compile(r"not healthy after (\S+)")


def crashed(text: str) -> bool:
    """Docker compose says a container it waited for exited or is unhealthy."""
    return _UNHEALTHY.search(text) is not None


def waited_for(text: str) -> str | None:
    """How long docker compose says it waited for health in vain (`1s`), if it says so."""
    waited = _NOT_HEALTHY.search(text)
    return waited.group(1) if waited else None


def safe_list(engine: Engine, agent: AgentPlan) -> list[ContainerStatus]:
    """The agent's containers, or none when they cannot be listed (already failing)."""
    try:
        return list_containers(engine, [agent.name])
    except ComposeError:
        return []


def explain_failure(
    engine: Engine, agent: AgentPlan, lines: list[str], redact: Redact
) -> ComposeError:
    """The error for a failed `docker compose up` whose output was `lines`."""
    text = "\n".join(lines)
    port = taken_port(text)
    if port is not None:
        for container in agent.containers:
            if port in container.published:
                holder = port_holder(engine, port) or "something else"
                return ComposeError(port_message(agent, container, port, holder))
    statuses = safe_list(engine, agent)
    failing = [s for s in statuses if not s.ok and s.state != "absent"]
    if crashed(text) and any(s.state == "running" for s in failing):
        failing = settle(engine, agent, failing)
    if crashed(text) or (failing and "dependency failed" in text):
        return ComposeError(crash_message(engine, agent, failing, redact))
    waited = waited_for(text)
    if waited is not None:
        slow = failing or [s for s in statuses if s.state != "absent"]
        return ComposeError(crash_message(engine, agent, slow, redact, waited))
    if "No such image" in text or "pull access denied" in text:
        return ComposeError(f"agent {agent.name!r}: an image is missing:\n{tail(lines, 8)}")
    return ComposeError(f"agent {agent.name!r}: docker compose up failed:\n{tail(lines, 15)}")


def settle(
    engine: Engine, agent: AgentPlan, failing: list[ContainerStatus], seconds: float = 3.0
) -> list[ContainerStatus]:
    """A crash-looping container caught between two crashes reads `running, starting`;
    give it a moment to crash again, so the message shows `restarting, exit code N`."""
    names = {s.name for s in failing}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.25)
        again = [s for s in safe_list(engine, agent) if s.name in names]
        if again and not any(s.state == "running" for s in again):
            return again
    return failing


def crash_message(
    engine: Engine,
    agent: AgentPlan,
    failing: list[ContainerStatus],
    redact: Redact,
    timeout: str | None = None,
) -> str:
    if timeout is None:
        head = "container(s) failed while `up --wait` waited for them:"
    else:
        head = f"not healthy after {timeout} (`--timeout` sets how long `up` waits):"
    parts = [f"agent {agent.name!r}: {head}"]
    for status in failing:
        how = status.state
        if status.exit_code:
            how += f", exit code {status.exit_code}"
        if status.health:
            how += f", {status.health}"
        parts.append(f"  {status.name} ({status.role}): {how}; last log lines:")
        parts.extend(quoted_log(log_tail(engine, status.name), redact))
    parts.append(f"see `avrgen logs {agent.name}`; `avrgen down {agent.name}` stops it")
    return "\n".join(parts)
