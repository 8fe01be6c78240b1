"""The compose target: one Docker Engine with the Compose v2 plugin (python-on-whales).

`Docker` is what the app layer holds: `up` (up.py, failures explained by failures.py),
the shared bridge network (network.py), an agent's containers found by their labels
(containers.py) and their logs (logs.py). Docker's failures become ComposeError messages
that name the agent, the container and its role.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avrgen.engine import containers, logs, network, ownership, sets
from avrgen.engine.containers import ContainerStatus, absent, role_key
from avrgen.engine.docker import AgentOutcome, Engine, Progress, Redact, quoted_log
from avrgen.engine.failures import safe_list
from avrgen.engine.interrupt import Interruption
from avrgen.engine.logs import LogLine
from avrgen.engine.secrets import Secrets
from avrgen.engine.sets import SetScope
from avrgen.engine.up import compose_up
from avrgen.errors import ComposeError

if TYPE_CHECKING:  # pydantic's models: not for a listing
    from avrgen.model.blueprint import Host, NetworkSettings
    from avrgen.model.endpoint import Endpoint
    from avrgen.model.plan import AgentPlan

__all__ = [
    "AgentUp",
    "ContainerStatus",
    "Docker",
    "LogLine",
    "Progress",
    "Redact",
    "SetScope",
    "absent",
    "role_key",
]


@dataclass
class AgentUp(AgentOutcome):
    containers: list[ContainerStatus] = field(default_factory=list)
    error: str | None = None
    host: str | None = None  # which of the settings' `hosts` runs it; None: the default engine


class Docker(Engine):
    """A Docker Engine with the Compose v2 plugin, reached through the `docker` CLI."""

    def __init__(
        self,
        progress: Progress | None = None,
        host: tuple[str, Host | Endpoint] | None = None,
        interruption: Interruption | None = None,
        scope: SetScope | None = None,
    ) -> None:
        super().__init__(progress, host, interruption)
        # whose containers `containers()` lists: one blueprint set's (None: every set's)
        self.scope = scope
        self._lost_lock = threading.Lock()
        self.engine_lost: str | None = None  # set when the engine stops answering mid-`up`

    # -- the shared network ----------------------------------------------------------------

    def inspect_network(self, name: str) -> network.NetworkInfo | None:
        return network.inspect_network(self, name)

    def ensure_network(self, settings: NetworkSettings) -> str | None:
        set_id = self.scope.set_id if self.scope is not None else None
        return network.ensure_bridge(self, settings, set_id)

    def network_users(self, name: str) -> list[str] | None:
        """Names of the containers on network `name`; None when it does not exist."""
        found = network.inspect_network(self, name)
        return None if found is None else sorted(network.container_users(found))

    def network_is_ours(self, name: str) -> bool:
        return network.created_by_avrgen(self, name)

    def remove_network(self, name: str) -> None:
        network.remove_network(self, name)

    # -- up ----------------------------------------------------------------------------------

    def refuse_foreign_in_projects(self, agents: Sequence[str]) -> None:
        """Fail, before anything is removed, when a container avrgen did not create is in
        one of these agents' compose projects."""
        ownership.refuse_in_projects(self, agents, "remove the containers of")

    def up(
        self,
        agent: AgentPlan,
        compose_file: Path,
        secrets: Secrets,
        timeout: int = 120,
        overrides: Sequence[Path] = (),
    ) -> AgentUp:
        """`docker compose up -d --wait --remove-orphans` for one agent; never raises.
        `overrides`: compose files merged over `compose_file`."""
        start = time.monotonic()
        redact = secrets.redact
        if self.interruption.signal is not None:
            self.say(agent.name, "not started")
            message = f"agent {agent.name!r}: not started: {self.interruption.name} received"
            return AgentUp(agent.name, "not started", 0.0, [], message)
        if self.engine_lost is not None:  # the engine went away: do not try the rest
            self.say(agent.name, "not attempted")
            message = f"agent {agent.name!r}: not attempted: {self.engine_lost}"
            return AgentUp(agent.name, "failed", 0.0, [], message)
        try:
            changed = compose_up(
                self, agent, compose_file, secrets.for_agent(agent), redact, timeout, overrides
            )
        except ComposeError as exc:
            message = redact(str(exc))
            if self.interruption.signal is not None:
                return self._interrupted(agent, time.monotonic() - start)
            if not self.answers():
                with self._lost_lock:
                    self.engine_lost = self.engine_lost or (
                        f"the Docker Engine{' of ' + self.where if self.where else ''} "
                        "stopped answering during `up`; once it is back, "
                        "`avrgen up` again brings up what is missing"
                    )
                message = f"agent {agent.name!r}: {self.engine_lost}\n  (last: {message})"
            self.say(agent.name, "failed")
            seconds = time.monotonic() - start
            return AgentUp(agent.name, "failed", seconds, safe_list(self, agent), message)
        found = self.containers([agent.name])
        status = "started" if changed else "unchanged"
        self.say(agent.name, f"{status}: {sum(c.ok for c in found)} healthy")
        return AgentUp(agent.name, status, time.monotonic() - start, found)

    def _interrupted(self, agent: AgentPlan, seconds: float) -> AgentUp:
        """An agent whose `docker compose up` a signal ended: what of it runs."""
        found = safe_list(self, agent)
        running = [c.name for c in found if c.state == "running"]
        self.say(agent.name, "interrupted")
        message = (
            f"agent {agent.name!r}: interrupted by {self.interruption.name} while starting; "
            + (f"running: {', '.join(running)}" if running else "none of its containers runs")
        )
        return AgentUp(agent.name, "interrupted", seconds, found, message)

    def interrupts(self) -> AbstractContextManager[None]:
        """While agents start: SIGINT and SIGTERM reach every `docker compose` child."""
        return self.interruption.catching()

    # -- what is running ---------------------------------------------------------------------

    def containers(
        self, agents: Sequence[str] | None = None, known: Sequence[dict[str, Any]] | None = None
    ) -> list[ContainerStatus]:
        """The containers of `agents` (all avrgen containers with None), by their labels:
        of this engine's blueprint set (`scope`) only, when it has one. `known`: the inspect
        data of every avrgen container of this engine (a Snapshot's), read already."""
        if known is not None:
            found = containers.statuses_of(known, agents)
        else:
            found = containers.list_containers(self, agents)
        return found if self.scope is None else [s for s in found if self.scope.owns(s)]

    def unscoped_containers(self, agents: Sequence[str] | None) -> list[ContainerStatus]:
        """The containers of `agents` (all avrgen containers with None), of any blueprint
        set."""
        return containers.list_containers(self, agents)

    def claim(self, agents: Sequence[AgentPlan], take_over: bool) -> list[dict[str, Any]] | None:
        """Before anything starts: fail when a container avrgen did not create is in an
        agent's compose project or holds one of its container names; then fail, naming
        the set, when another blueprint set's containers are there; with `take_over`, say
        so (compose then replaces them). One listing of every container serves both.
        Returns the inspect data it read of the agents' containers (None without a scope:
        nothing inspected), read just before anything starts: up's in-sync check takes it
        as it is."""
        rows = containers.listed(self)
        ownership.refuse_for_agents(self, agents, "start", rows)
        if self.scope is None:
            return None
        names = [c.name for agent in agents for c in agent.containers]
        ours = [row for row in rows if row.managed]
        data = containers.inspect_agents(self, [a.name for a in agents], names, ours)
        found = sorted(map(containers.status_of, data), key=role_key)
        held = sets.held_by_others(self.scope, agents, found)
        if not take_over:
            sets.refuse_held(self.scope, held)
        for each in held:
            self.say(each.agent, sets.taking_over(self.scope, each))
        return data

    def remove(self, statuses: Sequence[ContainerStatus], timeout: int | None = None) -> None:
        """Stop (each container's own stop timeout, without `timeout`) and remove them."""
        containers.remove(self, statuses, timeout)

    def containers_by_id(self, ids: Sequence[str]) -> list[str]:
        return containers.existing(self, ids)

    def restart(self, statuses: Sequence[ContainerStatus], timeout: int = 10) -> None:
        containers.restart(self, statuses, timeout)

    def wait_ready(
        self, agent: str, timeout: float, redact: Redact = lambda s: s
    ) -> list[ContainerStatus]:
        """Wait until every container of `agent` runs (healthy, where it has a check)."""
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.containers([agent])
            if all(s.ok for s in statuses):
                return statuses
            dead = [s for s in statuses if s.state in ("exited", "dead") or s.health == "unhealthy"]
            if dead or time.monotonic() > deadline:
                failing = dead or [s for s in statuses if not s.ok]
                parts = [f"agent {agent!r}: not ready after restart:"]
                for s in failing:
                    parts.append(f"  {s.name} ({s.role}): {s.state}, {s.health or '-'}")
                    parts.extend(quoted_log(containers.log_tail(self, s.name), redact, None))
                raise ComposeError("\n".join(parts))
            time.sleep(0.5)

    def logs(
        self, statuses: Sequence[ContainerStatus], follow: bool, tail: int | None
    ) -> Iterator[LogLine]:
        """Log lines of these containers: merged by time, or as they come with `follow`."""
        return logs.logs(self, statuses, follow, tail)
