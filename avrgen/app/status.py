"""`avrgen status` and `up --changed`: the running containers of each agent against what
the blueprints say now (the comparison itself: avrgen/engine/drift.py).

Secrets set here (environment, or --secrets-file: the environment wins, as for `up`) are
compared like any value; the report lists the secrets that are not set here, whose values
were therefore not compared.

States: `in sync`, `drifted` (what differs: image, env, ports, labels, network, config,
missing container, extra container, stopped container), `not running` (none of the
agent's containers runs), `orphaned` (containers with avrgen's labels on this blueprint
set's network whose agent is no longer in the blueprints, or, with `hosts`, is placed on
another host), `unreachable` (with `hosts`: its host's engine did not answer).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from avrgen.app.agents import require_known
from avrgen.app.insync import compose_hashes
from avrgen.app.lifecycle import UpResult, up
from avrgen.app.mounts import absolute_key_paths
from avrgen.app.project import Project
from avrgen.app.render import rendered_as_is
from avrgen.app.running import Start
from avrgen.app.telephony import TelephonyStatus
from avrgen.engine.compose import ContainerStatus, Docker, SetScope
from avrgen.engine.containers import Snapshot, inspect_agents
from avrgen.engine.differences import Difference
from avrgen.engine.drift import DriftChecker, orphans
from avrgen.errors import AvrgenError, ComposeError
from avrgen.fs.dotenv import read_secrets_file
from avrgen.fs.files import generated_files
from avrgen.model.output import COMPOSE_FILE
from avrgen.model.plan import AgentPlan, Plan, Telephony

AgentState = Literal["in sync", "drifted", "not running", "orphaned", "unreachable"]
STATES: tuple[AgentState, ...] = ("in sync", "drifted", "not running", "orphaned", "unreachable")


@dataclass
class AgentStatus:
    agent: str
    state: AgentState
    differences: list[Difference] = field(default_factory=list)
    containers: list[ContainerStatus] = field(default_factory=list)
    host: str | None = None  # which of the settings' `hosts` runs it; None: the default engine
    error: str | None = None  # unreachable: why (the host, its endpoint, docker's reason)


@dataclass
class StatusReport:
    network: str
    agents: list[AgentStatus]  # agents of the blueprints by name, then orphaned ones
    unchecked_secrets: list[str] = field(default_factory=list)  # not set here: not compared
    telephony: TelephonyStatus | None = None  # without telephony in the blueprints: None
    telephony_host: str | None = None  # with `hosts`: the stack's host (None: the default)

    @property
    def in_sync(self) -> bool:
        stack = self.telephony is None or self.telephony.state == "in sync"
        return stack and all(a.state == "in sync" for a in self.agents)

    def named(self, state: AgentState) -> list[str]:
        return [a.agent for a in self.agents if a.state == state]

    def summary(self) -> str:
        """`2 in sync, 1 drifted, 1 orphaned` (or `no agents`)."""
        parts = [f"{len(self.named(s))} {s}" for s in STATES if self.named(s)]
        return ", ".join(parts) if parts else "no agents"


def status(
    project: Project,
    names: Sequence[str] = (),
    secrets_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    docker: Docker | None = None,
    by: Literal["hash", "compose"] = "hash",
    early: Snapshot | None = None,
) -> StatusReport:
    """Compare every agent's containers (or the named agents') with the blueprints: by
    each container's content-hash label (`by="compose"`: by compose's own dry run, the
    tests' cross-check). `early`: the default engine's containers, being read since the
    command started (app/reading.py); `docker`'s are read here."""
    the_plan, _ = project.plan()
    if the_plan.target != "compose":
        raise AvrgenError("`status` compares docker compose agents; these blueprints render swarm")
    secrets = available_secrets(the_plan, os.environ if environ is None else environ, secrets_file)
    stack = None
    if the_plan.hosts and docker is None:  # several engines: each compares its own agents
        from avrgen.app.hosts import status_on_hosts

        results = status_on_hosts(project, the_plan, names, secrets)
        if the_plan.telephony is not None and not names:  # on the stack's own host
            from avrgen.app.hosts import engine_on

            on_its_host = engine_on(the_plan, the_plan.telephony.host)
            try:
                stack = telephony_status(
                    project, the_plan, the_plan.telephony, on_its_host, environ, secrets_file
                )
            except ComposeError as exc:  # its host does not answer: said, as for agents
                stack = TelephonyStatus("unreachable", [], [str(exc)])
    else:
        known = early.found() if early is not None and docker is None else None
        docker = docker or Docker()
        results = status_on(project, docker, the_plan, names, secrets, by=by, known=known)
        if the_plan.telephony is not None and not names:
            stack = telephony_status(
                project, the_plan, the_plan.telephony, docker, environ, secrets_file
            )
    wanted = {a.agent for a in results}
    used: set[str] = set().union(*(a.secrets for n, a in the_plan.agents.items() if n in wanted))
    used |= set(stack.unchecked_secrets) if stack is not None else set()
    unchecked = sorted(used - set(secrets))
    host = the_plan.telephony.host if the_plan.telephony is not None else None
    return StatusReport(the_plan.network.name, results, unchecked, stack, host)


def telephony_status(
    project: Project,
    the_plan: Plan,
    telephony: Telephony,
    docker: Docker,
    environ: Mapping[str, str] | None,
    secrets_file: Path | None,
) -> TelephonyStatus:
    """The telephony stack against the files the blueprints render now."""
    from avrgen.app.telephony import status as stack_status

    files = project.targets(the_plan)[0].files
    prefix = f"{telephony.folder}/"
    confs = {
        path.removeprefix(prefix): data
        for path, data in files.items()
        if path.startswith(prefix) and path.removeprefix(prefix) in telephony.conf_files
    }
    from_file = read_secrets_file(secrets_file) if secrets_file is not None else {}
    environ = os.environ if environ is None else environ
    available = {
        name: value
        for name in sorted(telephony.secrets)
        if (value := environ.get(name) or from_file.get(name) or "")
    }
    return stack_status(docker, telephony, confs, project.paths.state_dir, available)


def status_on(
    project: Project,
    docker: Docker,
    the_plan: Plan,
    names: Sequence[str],
    secrets: dict[str, str],
    check_names: bool = True,
    by: Literal["hash", "compose"] = "hash",
    known: Sequence[dict[str, Any]] | None = None,
) -> list[AgentStatus]:
    """status on one engine: its agents of the plan (or the named ones), then its orphans;
    only this blueprint set's containers (an engine given without a set gets the plan's).
    `known`: the inspect data of every avrgen container of the engine, read already."""
    if docker.scope is None:
        docker.scope = SetScope.of(the_plan, project.paths.state_dir)
    chosen = dict.fromkeys(names) if names else the_plan.agents
    planned = [the_plan.agents[name] for name in chosen if name in the_plan.agents]
    rendered = Rendered(project, the_plan, [a.name for a in planned])
    checker = DriftChecker(
        docker,
        the_plan,
        absolute_key_paths(the_plan.agents.values(), secrets),
        rendered.files,
        rendered.hashes,
        by,
    )

    def read_engine() -> dict[str, list[ContainerStatus]]:
        # every avrgen container of the engine, read once for the agents and the orphans
        seen = known if known is not None else inspect_agents(docker)
        found = orphans(docker, the_plan, seen)
        checker.load(planned, seen)
        return found

    # the engine is read (this set's orphans, the agents' containers and images) while the
    # agents render in memory; compose is asked only about containers without a hash, and
    # the engine checked when a call fails
    with docker.checked_on_failure(), ThreadPoolExecutor(max_workers=1) as pool:
        reading = pool.submit(read_engine)
        rendered.render()
        orphaned = reading.result()
    agents = [*the_plan.agents, *sorted(orphaned)]
    if check_names:
        wanted = require_known(names, agents) if names else agents
    else:  # several hosts: the names were checked against the whole plan
        wanted = [n for n in dict.fromkeys(names) if n in agents] if names else agents

    def agent_status(agent: AgentPlan) -> AgentStatus:
        drift = checker.drift(agent)
        state: AgentState = "drifted" if drift.differences else "in sync"
        if drift.running == 0:
            state = "not running"
        return AgentStatus(agent.name, state, drift.differences, drift.containers)

    with ThreadPoolExecutor(max_workers=min(8, max(1, len(planned)))) as pool:
        results = list(pool.map(agent_status, planned))
    for name in wanted:
        if name in orphaned:
            results.append(AgentStatus(name, "orphaned", containers=orphaned[name]))
    return results


class Rendered:
    """The agents' files as the blueprints render them (none written), and each service's
    content hash read from them: what the running containers are compared with. When the
    render cache says output/ holds exactly what they render, they are read from there;
    else rendered in memory."""

    def __init__(self, project: Project, the_plan: Plan, names: Sequence[str]) -> None:
        self._project, self._plan, self._names = project, the_plan, names
        self._files: dict[str, bytes] = {}

    def render(self) -> None:
        """Render the agents' files (before any of them is asked for)."""
        if not self._names:
            return
        if rendered_as_is(self._project):
            output = self._project.paths.output
            self._files = {
                f"{name}/{file}": data
                for name in self._names
                for file, data in generated_files(output / name).items()
            }
        else:
            self._files = self._project.targets(self._plan, self._names)[0].files

    def files(self, agent: AgentPlan) -> dict[str, bytes]:
        prefix = f"{agent.name}/"
        return {path: data for path, data in self._files.items() if path.startswith(prefix)}

    def hashes(self, agent: AgentPlan) -> dict[str, str]:
        return compose_hashes(self._files.get(f"{agent.name}/{COMPOSE_FILE}"))


@dataclass
class ChangedUp:
    """What `up --changed` did: the agents it brought up, and the ones it left alone."""

    up: UpResult | None  # None when no agent needed it
    brought_up: list[tuple[str, str]]  # the telephony stack as `(telephony)`
    left_alone: list[tuple[str, AgentState]]


def up_changed(
    project: Project,
    start: Start,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    docker: Docker | None = None,
) -> ChangedUp:
    """`up` for the agents that are drifted or not running (`start` names none); in-sync
    and orphaned agents are left alone (an orphan is `down`'s job)."""
    report = status(project, secrets_file=start.secrets_file, environ=start.environ, docker=docker)
    todo: list[tuple[str, AgentState]] = []
    alone: list[tuple[str, AgentState]] = []
    for agent in report.agents:
        (todo if agent.state in ("drifted", "not running") else alone).append(
            (agent.agent, agent.state)
        )
    stack = report.telephony
    stack_todo = stack is not None and stack.state != "in sync"
    if not todo and not stack_todo:
        return ChangedUp(None, [], alone)
    chosen = replace(start, names=[name for name, _ in todo], all_agents=False)
    told = [("(telephony)", stack.state)] if stack is not None and stack_todo else []
    told += todo
    # every `up` brings the stack in line: with no agent to do, `up` of the stack alone
    return ChangedUp(up(project, chosen, wait, on_wait), told, alone)


def available_secrets(
    the_plan: Plan, environ: Mapping[str, str], secrets_file: Path | None
) -> dict[str, str]:
    """The secrets of the plan that have a value here (the environment wins, as for `up`)."""
    from_file = read_secrets_file(secrets_file) if secrets_file is not None else {}
    found: dict[str, str] = {}
    for name in sorted(the_plan.secrets):
        value = environ.get(name) or from_file.get(name) or ""
        if value:
            found[name] = value
    return found
