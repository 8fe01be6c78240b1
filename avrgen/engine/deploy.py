"""`docker stack deploy` of one agent's stack, then watching its tasks until each service
runs one: `stack deploy` returns before anything runs.

The agent's secrets reach that one subprocess through its environment, never a file or a
command line (the stack file holds `${NAME:?...}`). The faults swarm reports become
messages that name the agent, the service, the node and the reason: an image missing on a
node, a container that exits, a task that no node can take (placement, a host port).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from avrgen.engine.docker import Engine, Redact, quoted_log, tail
from avrgen.engine.services import (
    UNPLACEABLE,
    Nodes,
    Task,
    newest_fault,
    service_log_tail,
    services,
    stack_filter,
    tasks_of,
)
from avrgen.errors import ComposeError
from avrgen.model.plan import AgentPlan

# newer docker CLIs say this on every `stack deploy` without --detach (older ones lack it)
_DETACH_NOTES = ("Since --detach=false was not specified", "In a future release, --detach")


def stack_deploy(
    engine: Engine,
    nodes: Nodes,
    agent: AgentPlan,
    stack_file: Path,
    secrets: Mapping[str, str],
    redact: Redact,
    timeout: int,
    resolve_image: str,
    overrides: Sequence[Path] = (),
) -> bool:
    """Deploy the agent and wait for it; True when a service changed. Fails with a
    ComposeError. `overrides`: stack files merged over `stack_file` (a rollback's images
    by digest or id)."""
    if not stack_file.is_file():
        raise ComposeError(
            f"agent {agent.name!r}: {stack_file} not found; run avrgen render --target swarm"
        )
    before = _versions(engine, agent.project)
    started = datetime.now().astimezone() - timedelta(seconds=2)
    command = engine.command(
        *("stack", "deploy", "--prune", "--resolve-image", resolve_image),
        *("--compose-file", str(stack_file.resolve())),
        *(part for path in overrides for part in ("--compose-file", str(path.resolve()))),
        agent.project,
    )
    engine.say(agent.name, f"docker stack deploy {agent.project}")
    # the secrets reach `docker stack deploy` through its environment, and only so
    proc = subprocess.run(
        command,
        env={**os.environ, **secrets},
        capture_output=True,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        check=False,
    )
    lines = [
        redact(line)
        for line in (proc.stdout + proc.stderr).splitlines()
        if line.strip() and not line.startswith(_DETACH_NOTES)
    ]
    for line in lines:
        engine.say(agent.name, line.strip())
    if proc.returncode != 0:
        raise ComposeError(f"agent {agent.name!r}: docker stack deploy failed:\n{tail(lines, 15)}")
    _wait(engine, nodes, agent, started, timeout, redact)
    return _versions(engine, agent.project) != before


def _versions(engine: Engine, stack: str) -> dict[str, object]:
    """Each service of the stack and its spec: what changes when deploy updates it (the
    version index moves on every deploy, even when nothing changed)."""
    return {s.name: s.spec for s in services(engine, [stack_filter(stack)])}


def _wait(
    engine: Engine,
    nodes: Nodes,
    agent: AgentPlan,
    started: datetime,
    timeout: int,
    redact: Redact,
) -> None:
    """Until every service of the agent runs a task; a fault or the timeout raises."""
    deadline = time.monotonic() + timeout
    reported: dict[str, str] = {}
    while True:
        tasks = tasks_of(engine, agent.project)
        current = {
            service: max(found, key=lambda t: t.created_at)
            for service, found in tasks.items()
            if found
        }
        if len(current) == len(agent.containers) and all(
            t.state == "running" and t.desired == "running" for t in current.values()
        ):
            return
        for service, task in sorted(current.items()):
            text = task.state + (f" ({task.err})" if task.err else "")
            if reported.get(service) != text:
                reported[service] = text
                engine.say(agent.name, f"{service}: {text}")
        faults = [
            (service, task)
            for service, found in sorted(tasks.items())
            if found
            for task in [newest_fault(found, started, current[service])]
            if task is not None
        ]
        if faults:
            raise ComposeError(_fault_message(engine, nodes, agent, faults, redact))
        if time.monotonic() > deadline:
            states = "\n".join(
                f"  {service}: {reported.get(service, 'no task')}"
                for service in sorted(
                    set(current) | {f"{agent.project}_{c.role}" for c in agent.containers}
                )
            )
            raise ComposeError(
                f"agent {agent.name!r}: not running after {timeout}s:\n{states}\n"
                f"see `avrgen ps {agent.name}`; `avrgen undeploy {agent.name}` removes it"
            )
        time.sleep(1)


def _fault_message(
    engine: Engine,
    nodes: Nodes,
    agent: AgentPlan,
    faults: list[tuple[str, Task]],
    redact: Redact,
) -> str:
    parts = [f"agent {agent.name!r}: swarm could not run every service:"]
    for service, task in faults:
        state, error = task.state, redact(task.err or "no error given")
        node = nodes.name(task.node_id) if task.node_id else ""
        on = f" on node {node}" if node else ""
        if "No such image" in error or "pull access denied" in error or "manifest" in error:
            parts.append(
                f"  {service}: image {task.image} is missing{on} ({error}); build or pull it "
                "on every node that may run it, or push it to a registry the nodes can reach"
            )
        elif state in ("pending", "new") and any(u in error for u in UNPLACEABLE):
            where = ", ".join(agent.constraints) or "no placement constraints"
            parts.append(
                f"  {service}: no node can take it: {error} ({where}); label a node "
                "(`docker node update --label-add KEY=VALUE NODE`), free the host port, "
                "or change the agent's `placement:`"
            )
        else:
            parts.append(f"  {service}: task {state}{on}: {error}; last log lines:")
            parts.extend(quoted_log(service_log_tail(engine, service), redact))
    parts.append(
        f"the stack stays deployed (swarm keeps retrying): `avrgen ps {agent.name}` shows "
        f"its tasks, `avrgen undeploy {agent.name}` removes it"
    )
    return "\n".join(parts)
