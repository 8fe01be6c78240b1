"""Swarm stage: deploy, undeploy and inspect agents on a Docker Swarm (python-on-whales).

Each agent is one stack, `avr-<agent>`, deployed from its rendered `output/<agent>/stack.yml`
with `docker stack deploy`; the agent's secrets reach that one subprocess through its
environment, never a file or a command line (the stack file holds `${NAME:?...}`).
`docker stack deploy` returns before anything runs, so `deploy` then watches the tasks
until each service runs one, and turns the faults swarm reports into messages that name
the agent, the service, the node and the reason: not a manager, an image missing on a
node, a container that exits, a task that no node can take (placement, a host port).

Everything else finds an agent's services by their labels (`avrgen.agent`,
`avrgen.managed=true`), so it needs no secrets and works after a blueprint was deleted.
Engine checks, secrets and docker's error text come from compose.py and secrets.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from avrgen.engine.compose import LOG_LINES, ROLE_ORDER, Docker, Progress, Redact, _last_line, _tail
from avrgen.errors import ComposeError
from avrgen.model.blueprint import NetworkSettings
from avrgen.model.labels import AGENT_LABEL, MANAGED_LABEL, ROLE_LABEL, STACK_LABEL
from avrgen.model.plan import AgentPlan

_FAILED = ("failed", "rejected", "orphaned")
# newer docker CLIs say this on every `stack deploy` without --detach (older ones lack it)
_DETACH_NOTES = ("Since --detach=false was not specified", "In a future release, --detach")
_UNPLACEABLE = ("no suitable node", "host-mode port already in use", "insufficient resources")


@dataclass(frozen=True)
class TaskStatus:
    """The newest swarm task of one service of an agent (or the service, when it has none)."""

    agent: str
    service: str  # avr-<agent>_<role>
    role: str
    node: str  # the node's hostname; "" while not scheduled
    desired: str  # running | shutdown | ... | absent (not deployed)
    state: str  # new | pending | assigned | preparing | starting | running | failed | ...
    error: str | None = None
    image: str = ""
    since: str | None = None
    orphan: bool = False  # its agent is not in the blueprints (any more)

    @property
    def ok(self) -> bool:
        return self.state == "running" and self.desired == "running"

    def as_dict(self) -> dict[str, object]:
        return {
            "agent": self.agent,
            "service": self.service,
            "role": self.role,
            "node": self.node,
            "desired": self.desired,
            "state": self.state,
            "error": self.error,
            "image": self.image,
            "since": self.since,
            "orphan": self.orphan,
        }


@dataclass
class AgentDeploy:
    """What `deploy` did for one agent."""

    agent: str
    status: str  # deployed | unchanged | failed
    seconds: float
    tasks: list[TaskStatus] = field(default_factory=list)
    error: str | None = None


def _role_key(status: TaskStatus) -> tuple[str, int, str]:
    order = ROLE_ORDER.index(status.role) if status.role in ROLE_ORDER else len(ROLE_ORDER)
    return (status.agent, order, status.service)


@dataclass(frozen=True)
class _Service:
    """A service as inspected once (services and tasks vanish while a stack is removed)."""

    id: str
    name: str
    labels: dict[str, str]
    spec: dict[str, Any]
    networks: tuple[str, ...]


@dataclass(frozen=True)
class _Task:
    id: str
    created_at: datetime
    state: str
    err: str | None
    desired: str
    node_id: str
    image: str
    timestamp: datetime | None


class Swarm:
    """The swarm a manager node's Docker Engine belongs to, reached through the `docker` CLI."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.docker = Docker(progress)
        self.client: DockerClient = self.docker.client
        self._nodes: dict[str, str] = {}

    def say(self, agent: str, message: str) -> None:
        self.docker.say(agent, message)

    # -- the engine ------------------------------------------------------------------------

    def check(self) -> None:
        """Fail unless this engine answers and is a manager of an active swarm."""
        self.docker.check(compose=False)
        try:
            info = self.client.info().swarm
        except DockerException as exc:
            raise ComposeError(f"cannot read the engine's swarm state: {_last_line(exc)}") from None
        state = (info.local_node_state if info else None) or "inactive"
        if state != "active":
            why = f" ({info.error})" if info and info.error else ""
            raise ComposeError(
                f"this Docker Engine is not part of a swarm (swarm state: {state}{why}); run "
                "`docker swarm init` on the first node, or deploy from a manager of your swarm"
            )
        if not info.control_available:
            raise ComposeError(
                "this node is a swarm worker, not a manager: run avrgen on a manager node "
                "(`docker node ls` there lists the managers), or promote this one with "
                "`docker node promote`"
            )

    # -- the shared overlay network ----------------------------------------------------------

    def ensure_network(self, settings: NetworkSettings) -> str | None:
        """Create the shared attachable overlay network when missing; a note, or None."""
        name = settings.name
        subnet = str(settings.subnet) if settings.subnet is not None else None
        network = self.docker.inspect_network(name)
        if network is None:
            try:
                self.client.network.create(
                    name,
                    driver="overlay",
                    attachable=True,
                    subnet=subnet,
                    labels={MANAGED_LABEL: "true"},
                )
            except DockerException as exc:
                raise ComposeError(
                    f"cannot create the overlay network {name!r}"
                    + (f" with subnet {subnet}" if subnet else "")
                    + f": {_last_line(exc)}"
                ) from None
            return f"created overlay network {name}" + (f" (subnet {subnet})" if subnet else "")
        if network.driver != "overlay" or network.scope != "swarm":
            raise ComposeError(
                f"network {name!r} exists as a {network.driver} network ({network.scope} scope), "
                "not a swarm overlay network (it may come from `avrgen up`, the compose target); "
                f"remove it (`avrgen down --all --network`) or set another `network.name` in the "
                "settings"
            )
        notes = []
        if not network.attachable:
            notes.append("is not attachable (standalone containers cannot join it)")
        subnets = [str(c.get("Subnet")) for c in (network.ipam.config or []) if c.get("Subnet")]
        if subnet is not None and subnet not in subnets:
            notes.append(f"has subnet {', '.join(subnets) or 'none'}, not {subnet} as configured")
        if notes:
            return f"warning: overlay network {name} {' and '.join(notes)}; using it as it is"
        return None

    # -- deploy ----------------------------------------------------------------------------

    def deploy(
        self,
        agent: AgentPlan,
        stack_file: Path,
        secrets: Mapping[str, str],
        redact: Redact,
        timeout: int = 120,
        resolve_image: str = "always",
    ) -> AgentDeploy:
        """`docker stack deploy` one agent and wait for its tasks; never raises."""
        start = time.monotonic()
        try:
            changed = self._deploy(agent, stack_file, secrets, redact, timeout, resolve_image)
        except ComposeError as exc:
            self.say(agent.name, "failed")
            tasks = self._safe_tasks([agent.name])
            return AgentDeploy(
                agent.name, "failed", time.monotonic() - start, tasks, redact(str(exc))
            )
        tasks = self._safe_tasks([agent.name])
        status = "deployed" if changed else "unchanged"
        self.say(agent.name, f"{status}: {sum(t.ok for t in tasks)} running")
        return AgentDeploy(agent.name, status, time.monotonic() - start, tasks)

    def _deploy(
        self,
        agent: AgentPlan,
        stack_file: Path,
        secrets: Mapping[str, str],
        redact: Redact,
        timeout: int,
        resolve_image: str,
    ) -> bool:
        if not stack_file.is_file():
            raise ComposeError(
                f"agent {agent.name!r}: {stack_file} not found; run avrgen render --target swarm"
            )
        before = self._versions(agent.project)
        started = datetime.now().astimezone() - timedelta(seconds=2)
        command = [
            *map(str, self.client.client_config.docker_cmd),
            *("stack", "deploy", "--prune", "--resolve-image", resolve_image),
            *("--compose-file", str(stack_file.resolve()), agent.project),
        ]
        self.say(agent.name, f"docker stack deploy {agent.project}")
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
            self.say(agent.name, line.strip())
        if proc.returncode != 0:
            raise ComposeError(
                f"agent {agent.name!r}: docker stack deploy failed:\n{_tail(lines, 15)}"
            )
        self._wait(agent, started, timeout, redact)
        return self._versions(agent.project) != before

    def _versions(self, stack: str) -> dict[str, object]:
        """Each service of the stack and its spec: what changes when deploy updates it (the
        version index moves on every deploy, even when nothing changed)."""
        services = self._services([("label", f"{STACK_LABEL}={stack}")])
        return {s.name: s.spec for s in services}

    def _wait(self, agent: AgentPlan, started: datetime, timeout: int, redact: Redact) -> None:
        """Until every service of the agent runs a task; a fault or the timeout raises."""
        deadline = time.monotonic() + timeout
        reported: dict[str, str] = {}
        while True:
            tasks = self._tasks_of(agent.project)
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
                    self.say(agent.name, f"{service}: {text}")
            faults = [
                (service, task)
                for service, found in sorted(tasks.items())
                if found
                for task in [_newest_fault(found, started, current[service])]
                if task is not None
            ]
            if faults:
                raise ComposeError(self._fault_message(agent, faults, redact))
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
        self, agent: AgentPlan, faults: list[tuple[str, _Task]], redact: Redact
    ) -> str:
        parts = [f"agent {agent.name!r}: swarm could not run every service:"]
        for service, task in faults:
            state, error = task.state, redact(task.err or "no error given")
            node = self._node_name(task.node_id) if task.node_id else ""
            on = f" on node {node}" if node else ""
            image = task.image
            if "No such image" in error or "pull access denied" in error or "manifest" in error:
                parts.append(
                    f"  {service}: image {image} is missing{on} ({error}); build or pull it on "
                    "every node that may run it, or push it to a registry the nodes can reach"
                )
            elif state in ("pending", "new") and any(u in error for u in _UNPLACEABLE):
                where = ", ".join(agent.constraints) or "no placement constraints"
                parts.append(
                    f"  {service}: no node can take it: {error} ({where}); label a node "
                    "(`docker node update --label-add KEY=VALUE NODE`), free the host port, "
                    "or change the agent's `placement:`"
                )
            else:
                parts.append(f"  {service}: task {state}{on}: {error}; last log lines:")
                log = self._log_tail(service)
                parts.extend(f"    | {redact(line)}" for line in log or ["(no output)"])
        parts.append(
            f"the stack stays deployed (swarm keeps retrying): `avrgen ps {agent.name}` shows "
            f"its tasks, `avrgen undeploy {agent.name}` removes it"
        )
        return "\n".join(parts)

    def _log_tail(self, service: str) -> list[str]:
        try:
            text = self.client.service.logs(service, tail=LOG_LINES, task_ids=False)
        except DockerException:
            return []
        return [line for line in str(text).splitlines() if line.strip()][-LOG_LINES:]

    # -- what runs -------------------------------------------------------------------------

    def _services(self, filters: list[tuple[str, str]]) -> list[_Service]:
        """The services matching `filters`, inspected in one call (python-on-whales' model of
        a service spec leaves out networks, placement and endpoints)."""
        docker = [*map(str, self.client.client_config.docker_cmd), "service"]
        flags = [f"--filter={key}={value}" for key, value in filters]
        listed = subprocess.run(
            [*docker, "ls", "--quiet", *flags], capture_output=True, text=True, check=False
        )
        if listed.returncode != 0:
            why = listed.stderr.strip().splitlines() or ["exit status " + str(listed.returncode)]
            raise ComposeError(f"cannot list swarm services: {why[-1]}")
        ids = listed.stdout.split()
        if not ids:
            return []
        # a service removed meanwhile is left out (inspect then also exits 1)
        found = subprocess.run(
            [*docker, "inspect", "--format", "{{json .}}", *ids],
            capture_output=True,
            text=True,
            check=False,
        )
        services: list[_Service] = []
        for line in found.stdout.splitlines():
            data = json.loads(line)
            spec = data.get("Spec") or {}
            networks = (spec.get("TaskTemplate") or {}).get("Networks") or []
            services.append(
                _Service(
                    str(data["ID"]),
                    str(spec.get("Name", "")),
                    dict(spec.get("Labels") or {}),
                    spec,
                    tuple(str(n.get("Target", "")) for n in networks),
                )
            )
        return services

    def _tasks_of(self, stack: str) -> dict[str, list[_Task]]:
        """The tasks of each service of a stack, by service name."""
        services = self._services([("label", f"{STACK_LABEL}={stack}")])
        return {s.name: self._service_tasks(s) for s in services}

    def _service_tasks(self, service: _Service) -> list[_Task]:
        try:
            found = list(self.client.service.ps(service.id))
        except DockerException:
            return []  # removed meanwhile
        tasks: list[_Task] = []
        for task in found:
            try:  # removed meanwhile: skip it
                status = task.status
                tasks.append(
                    _Task(
                        str(task.id),
                        task.created_at,
                        str(status.state or "unknown"),
                        status.err,
                        str(task.desired_state),
                        str(task.node_id or ""),
                        str(task.spec.container_spec.image or "").split("@", 1)[0],
                        status.timestamp,
                    )
                )
            except DockerException:
                continue
        return tasks

    def _node_name(self, node_id: str) -> str:
        if node_id not in self._nodes:
            try:
                self._nodes[node_id] = str(self.client.node.inspect(node_id).description.hostname)
            except DockerException:
                self._nodes[node_id] = node_id[:12]
        return self._nodes[node_id]

    def tasks(self, agents: Sequence[str] | None = None) -> list[TaskStatus]:
        """The newest task of each service of `agents` (of every avrgen agent with None)."""
        if agents is None:
            services = self._services([("label", f"{MANAGED_LABEL}=true")])
        else:
            services = [
                s for name in agents for s in self._services([("label", f"{AGENT_LABEL}={name}")])
            ]
        found: list[TaskStatus] = []
        for service in {s.id: s for s in services}.values():
            labels = service.labels
            name = service.name
            agent = labels.get(AGENT_LABEL) or name.split("_", 1)[0].removeprefix("avr-")
            role = labels.get(ROLE_LABEL) or name.rsplit("_", 1)[-1]
            tasks = self._service_tasks(service)
            if not tasks:
                found.append(TaskStatus(agent, name, role, "", "running", "no task"))
                continue
            task = max(tasks, key=lambda t: t.created_at)
            error = task.err
            if not error and task.state != "running":
                previous = [t for t in tasks if t.err]
                error = max(previous, key=lambda t: t.created_at).err if previous else None
            found.append(
                TaskStatus(
                    agent=agent,
                    service=name,
                    role=role,
                    node=self._node_name(task.node_id) if task.node_id else "",
                    desired=task.desired,
                    state=task.state,
                    error=error,
                    image=task.image,
                    since=task.timestamp.isoformat() if task.timestamp else None,
                )
            )
        return sorted(found, key=_role_key)

    def _safe_tasks(self, agents: Sequence[str]) -> list[TaskStatus]:
        try:
            return self.tasks(agents)
        except ComposeError:
            return []

    def deployed_agents(self) -> set[str]:
        return {t.agent for t in self.tasks()}

    # -- undeploy --------------------------------------------------------------------------

    def undeploy(self, agents: Sequence[str], timeout: int = 60) -> list[str]:
        """`docker stack rm` each agent's stack; wait until its containers are gone here.

        Returns the services removed. Containers on other nodes are removed by their nodes.
        """
        removed: list[str] = []
        stacks: list[str] = []  # with services: `docker stack rm` them
        for name in agents:
            services = self._services([("label", f"{AGENT_LABEL}={name}")])
            names = sorted(s.name for s in services)
            stacks += sorted({s.labels.get(STACK_LABEL, "") for s in services})
            removed += names
        stacks = [s for s in dict.fromkeys(stacks) if s]
        for stack in stacks:
            self.say(stack.removeprefix("avr-"), f"docker stack rm {stack}")
            try:
                self.client.stack.remove(stack)
            except DockerException as exc:
                raise ComposeError(f"cannot remove stack {stack}: {_last_line(exc)}") from None
        deadline = time.monotonic() + timeout
        empty_checks = 0
        while True:  # also containers of a stack removed just before, still stopping
            left = self._leftovers([*stacks, *(f"avr-{name}" for name in agents)])
            # twice in a row, 0.5 s apart: the node may still be starting a task container
            # the manager assigned just before `stack rm` (seen in CI: it appeared after one)
            empty_checks = 0 if left else empty_checks + 1
            if empty_checks == 2:
                return removed
            if time.monotonic() > deadline:
                raise ComposeError(
                    f"after {timeout}s, still here: {', '.join(left)}; "
                    "run `avrgen undeploy` again, or remove them with docker"
                )
            time.sleep(0.5)

    def _leftovers(self, stacks: Sequence[str]) -> list[str]:
        left: list[str] = []
        for stack in dict.fromkeys(stacks):
            label = ("label", f"{STACK_LABEL}={stack}")
            left += [s.name for s in self._services([label])]
            with contextlib.suppress(DockerException):
                left += [str(c.name) for c in self.client.container.list(all=True, filters=[label])]
        return left

    def network_users(self, name: str) -> list[str] | None:
        """Services (swarm-wide) and containers (here) on network `name`; None if missing."""
        network = self.docker.inspect_network(name)
        if network is None:
            return None
        users = {str(c.name) for c in (network.containers or {}).values()}
        for service in self._services([]):
            if network.id in service.networks or name in service.networks:
                users.add(service.name)
        return sorted(users)

    def remove_network(self, name: str) -> None:
        self.docker.remove_network(name)


def _newest_fault(tasks: list[_Task], started: datetime, current: _Task) -> _Task | None:
    """The newest task since the deploy that failed, or the current one if it cannot be placed."""
    if current.state in ("pending", "new") and any(u in (current.err or "") for u in _UNPLACEABLE):
        return current
    if current.state == "running":
        return None
    failed = [t for t in tasks if t.state in _FAILED and t.created_at >= started]
    return max(failed, key=lambda t: t.created_at) if failed else None


@dataclass
class DeployResult:
    rendered: list[Any]  # files `deploy` rendered first (output/ was stale): write.Change
    network: str | None  # a note about the shared overlay network (created, other subnet)
    agents: list[AgentDeploy]

    @property
    def failed(self) -> list[AgentDeploy]:
        return [a for a in self.agents if a.status == "failed"]


@dataclass
class UndeployResult:
    agents: list[str]
    removed: list[str]  # services
    network: str | None  # what happened to the shared network with --network
