"""The swarm target: deploy, undeploy and inspect agents on a Docker Swarm (python-on-whales).

Each agent is one stack, `avr-<agent>`, deployed from its rendered `output/<agent>/stack.yml`
(deploy.py); its services and tasks are found by their labels (services.py). The engine
must be a manager of an active swarm.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from avrgen.engine import network, ownership
from avrgen.engine.compose import ContainerStatus, Docker
from avrgen.engine.deploy import stack_deploy
from avrgen.engine.docker import AgentOutcome, Engine, Progress, last_line
from avrgen.engine.secrets import Secrets
from avrgen.engine.services import (
    Nodes,
    Service,
    TaskStatus,
    image_run,
    service_image,
    services,
    stack_filter,
    task_key,
    task_status,
)
from avrgen.engine.sets import SetScope
from avrgen.errors import ComposeError
from avrgen.model.blueprint import NetworkSettings
from avrgen.model.labels import AGENT_LABEL, MANAGED_LABEL, SET_LABEL, STACK_LABEL
from avrgen.model.plan import AgentPlan
from avrgen.model.release import ImageRun

__all__ = ["AgentDeploy", "DeployResult", "Swarm", "TaskStatus", "UndeployResult"]


@dataclass
class AgentDeploy(AgentOutcome):
    tasks: list[TaskStatus] = field(default_factory=list)
    error: str | None = None
    release: int | None = None  # the release `deploy` recorded (None: it changed nothing)


class Swarm:
    """The swarm a manager node's Docker Engine belongs to, reached through the `docker` CLI.

    With a `scope`, it sees the services of that blueprint set only (label `avrgen.set`),
    as the compose target sees its containers (sets.py)."""

    def __init__(self, progress: Progress | None = None, scope: SetScope | None = None) -> None:
        self.engine = Engine(progress)
        self.client: DockerClient = self.engine.client
        self._nodes = Nodes(self.engine)
        self._progress = progress
        self.scope = scope

    def say(self, agent: str, message: str) -> None:
        self.engine.say(agent, message)

    def compose_engine(self) -> Docker:
        """This manager node's engine as the compose target sees it: the telephony stack
        runs there with docker compose, on the attachable overlay network (reloading
        Asterisk in place needs bind mounts, which swarm's immutable configs cannot give)."""
        return Docker(self._progress, scope=self.scope)

    def interrupts(self) -> AbstractContextManager[None]:
        """Deploys are not interrupted midway: a signal ends avrgen as it always did."""
        return nullcontext()

    def checked_on_failure(self) -> AbstractContextManager[None]:
        """A swarm is checked first, not on a failure: deploy needs a manager."""
        self.check()
        return nullcontext()

    def check(self) -> None:
        """Fail unless this engine answers and is a manager of an active swarm."""
        self.engine.check(compose=False)
        try:
            info = self.client.info().swarm
        except DockerException as exc:
            raise ComposeError(f"cannot read the engine's swarm state: {last_line(exc)}") from None
        state = (info.local_node_state if info else None) or "inactive"
        if info is None or state != "active":
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

    # -- the shared overlay network ------------------------------------------------------------

    def ensure_network(self, settings: NetworkSettings) -> str | None:
        set_id = self.scope.set_id if self.scope is not None else None
        return network.ensure_overlay(self.engine, settings, set_id)

    def network_users(self, name: str) -> list[str] | None:
        """Services (swarm-wide) and containers (here) on network `name`; None if missing."""
        found = network.inspect_network(self.engine, name)
        if found is None:
            return None
        users = network.container_users(found)
        for service in services(self.engine, []):
            if found.id in service.networks or name in service.networks:
                users.add(service.name)
        return sorted(users)

    def network_is_ours(self, name: str) -> bool:
        return network.created_by_avrgen(self.engine, name)

    def remove_network(self, name: str) -> None:
        network.remove_network(self.engine, name)

    # -- deploy ------------------------------------------------------------------------------

    def deploy(
        self,
        agent: AgentPlan,
        stack_file: Path,
        secrets: Secrets,
        timeout: int = 120,
        resolve_image: str = "always",
        overrides: Sequence[Path] = (),
    ) -> AgentDeploy:
        """`docker stack deploy` one agent and wait for its tasks; never raises.
        `overrides`: stack files merged over `stack_file`."""
        start = time.monotonic()
        redact = secrets.redact
        try:
            changed = stack_deploy(
                self.engine,
                self._nodes,
                agent,
                stack_file,
                secrets.for_agent(agent),
                redact,
                timeout,
                resolve_image,
                overrides,
            )
        except ComposeError as exc:
            self.say(agent.name, "failed")
            tasks = self._safe_tasks([agent.name])
            seconds = time.monotonic() - start
            return AgentDeploy(agent.name, "failed", seconds, tasks, redact(str(exc)))
        tasks = self._safe_tasks([agent.name])
        status = "deployed" if changed else "unchanged"
        self.say(agent.name, f"{status}: {sum(t.ok for t in tasks)} running")
        return AgentDeploy(agent.name, status, time.monotonic() - start, tasks)

    def refuse_foreign(self, agents: Sequence[AgentPlan]) -> None:
        """Fail, before anything is deployed, when a service avrgen did not create is in
        one of the agents' stacks (`docker stack deploy` would update it)."""
        self._refuse_foreign([agent.project for agent in agents], "deploy into")

    def claim(self, agents: Sequence[AgentPlan], take_over: bool) -> None:
        """Before anything is deployed: fail when a service avrgen did not create is in an
        agent's stack (`refuse_foreign`); then fail, naming the set, when another blueprint
        set's services are there; with `take_over`, say so (deploy then updates them into
        this set's)."""
        self.refuse_foreign(agents)
        held = self._held([agent.project for agent in agents])
        if held and not take_over:
            raise ComposeError(
                f"refusing to deploy into stack(s) {', '.join(held)}: another blueprint "
                "set's services are in them:\n"
                + "\n".join(self._owners(held))
                + "\nnothing was changed; `avrgen undeploy` them from their own blueprint "
                "folder, or `avrgen deploy --take-over` replaces them with this set's"
            )
        for stack, theirs in held.items():
            owners = "; ".join(sorted({self._describe(s) for s in theirs}))
            taking = f"taking over {len(theirs)} service(s) of {owners} (--take-over)"
            self.say(stack.removeprefix("avr-"), taking)

    def _held(self, stacks: Sequence[str]) -> dict[str, list[Service]]:
        """Of these stacks, those with another set's services: stack -> those services."""
        held: dict[str, list[Service]] = {}
        if self.scope is None:
            return held
        for stack in dict.fromkeys(stacks):
            found = services(self.engine, [stack_filter(stack)])
            theirs = [s for s in found if not self._owns(s)]
            if theirs:
                held[stack] = theirs
        return held

    def _owners(self, held: dict[str, list[Service]]) -> list[str]:
        return [
            f"  {stack}: {', '.join(sorted(s.name for s in theirs))} belong to "
            + "; ".join(sorted({self._describe(s) for s in theirs}))
            for stack, theirs in held.items()
        ]

    def _owns(self, service: Service) -> bool:
        agent = service.labels.get(AGENT_LABEL, "")
        return self.scope is None or self.scope.owns_service(
            service.labels.get(SET_LABEL, ""), agent
        )

    def _describe(self, service: Service) -> str:
        assert self.scope is not None  # only services of another set are described
        return self.scope.describe(service.labels.get(SET_LABEL, ""), "")

    def _refuse_foreign(self, stacks: Sequence[str], what: str) -> None:
        foreign = [
            f
            for stack in dict.fromkeys(stacks)
            for f in ownership.foreign_services(
                (s.name, s.labels, service_image(s))
                for s in services(self.engine, [("label", f"{STACK_LABEL}={stack}")])
            )
        ]
        ownership.refuse(
            f"{what} stack(s) {', '.join(sorted({f.project for f in foreign}))}", foreign
        )

    # -- what runs ---------------------------------------------------------------------------

    def tasks(self, agents: Sequence[str] | None = None) -> list[TaskStatus]:
        """The newest task of each service of `agents` (of every avrgen agent with None),
        of this set's services only when it has a scope."""
        if agents is None:
            found = services(self.engine, [("label", f"{MANAGED_LABEL}=true")])
        else:
            found = [
                s
                for name in agents
                for s in services(self.engine, [("label", f"{AGENT_LABEL}={name}")])
            ]
        unique = {s.id: s for s in found if self._owns(s)}.values()
        return sorted((task_status(self.engine, s, self._nodes) for s in unique), key=task_key)

    def _safe_tasks(self, agents: Sequence[str]) -> list[TaskStatus]:
        try:
            return self.tasks(agents)
        except ComposeError:
            return []

    def images(self, agent: str) -> list[ImageRun]:
        """The image each of the agent's services runs (of this set's services), sorted
        by role: by the registry digest its spec names (`--resolve-image always`), and by
        this engine's id of that image where it has it."""
        found = [
            s for s in services(self.engine, [("label", f"{AGENT_LABEL}={agent}")]) if self._owns(s)
        ]
        return sorted((image_run(self.engine, s) for s in found), key=lambda r: r.role)

    def deployed_agents(self) -> set[str]:
        return {t.agent for t in self.tasks()}

    # -- undeploy ----------------------------------------------------------------------------

    def undeploy(self, agents: Sequence[str], timeout: int = 60) -> list[str]:
        """`docker stack rm` each agent's stack; wait until its containers are gone here.

        Returns the services removed. Containers on other nodes are removed by their nodes.
        """
        removed: list[str] = []
        stacks: list[str] = []  # with services: `docker stack rm` them
        for name in agents:
            found = services(self.engine, [("label", f"{AGENT_LABEL}={name}")])
            stacks += sorted({s.labels.get(STACK_LABEL, "") for s in found})
            removed += sorted(s.name for s in found)
        stacks = [s for s in dict.fromkeys(stacks) if s]
        self._refuse_foreign(stacks, "remove")  # `docker stack rm` removes every service
        held = self._held(stacks)
        if held:
            raise ComposeError(
                f"refusing to remove stack(s) {', '.join(held)}: another blueprint set's "
                "services are in them:\n"
                + "\n".join(self._owners(held))
                + "\nnothing was removed; `avrgen undeploy` them from their own blueprint folder"
            )
        for stack in stacks:
            self.say(stack.removeprefix("avr-"), f"docker stack rm {stack}")
            try:
                self.client.stack.remove(stack)
            except DockerException as exc:
                raise ComposeError(f"cannot remove stack {stack}: {last_line(exc)}") from None
        deadline = time.monotonic() + timeout
        empty_checks = 0
        while True:  # also containers of a stack removed just before, still stopping
            left = self._leftovers([*stacks, *(f"avr-{name}" for name in agents)])
            # empty twice in a row, 0.5 s apart: a node may still start a task container
            # that the manager assigned just before `stack rm`
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
            label = f"{STACK_LABEL}={stack}"
            left += [s.name for s in services(self.engine, [("label", label)])]
            with contextlib.suppress(DockerException):
                listed = self.client.container.list(all=True, filters=[("label", label)])
                left += [str(c.name) for c in listed]
        return left


@dataclass
class DeployResult:
    rendered: list[Any]  # files `deploy` rendered first (output/ was stale): write.Change
    network: str | None  # a note about the shared overlay network (created, other subnet)
    agents: list[AgentDeploy]
    telephony: Any = None  # the telephony stack's app.telephony.TelephonyUp (None: none)

    @property
    def failed(self) -> list[AgentDeploy]:
        return [a for a in self.agents if a.status == "failed"]


@dataclass
class UndeployResult:
    agents: list[str]
    removed: list[str]  # services
    network: str | None  # what happened to the shared network with --network
    telephony: list[ContainerStatus] | None = None  # --telephony: the stack's, removed
