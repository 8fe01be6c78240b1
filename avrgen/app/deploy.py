"""The swarm target: `deploy`, `undeploy` and the agents' swarm tasks (`ps` on a swarm);
the engine's side is avrgen/engine/swarm.py."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from avrgen.app.agents import require_known, select, unknown_agent
from avrgen.app.project import Project
from avrgen.app.render import fresh_plan
from avrgen.app.running import each_agent, prepare_engine, remove_network_if_unused
from avrgen.errors import AvrgenError

if TYPE_CHECKING:
    from avrgen.engine.compose import Progress
    from avrgen.engine.swarm import DeployResult, TaskStatus, UndeployResult


def deploy(
    project: Project,
    names: Sequence[str] = (),
    all_agents: bool = False,
    parallel: int = 4,
    secrets_file: Path | None = None,
    render: bool = True,
    timeout: int = 120,
    resolve_image: str = "always",
    environ: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> DeployResult:
    """Render the stack files if stale (target swarm, whatever the settings say), check
    secrets and the swarm, create the overlay network, then `docker stack deploy` per
    agent and wait until its tasks run."""
    from avrgen.engine.swarm import DeployResult, Swarm
    from avrgen.model.output import STACK_FILE

    the_plan, rendered = fresh_plan(project, names, all_agents, render, target="swarm")
    selected = [the_plan.agents[n] for n in select(the_plan, names, all_agents)]
    swarm = Swarm(progress)
    secrets, note = prepare_engine(swarm, the_plan, selected, environ, secrets_file)
    output = project.paths.output
    results = each_agent(
        parallel,
        selected,
        lambda agent: swarm.deploy(
            agent,
            output / agent.name / STACK_FILE,
            secrets.for_agent(agent),
            secrets.redact,
            timeout,
            resolve_image,
        ),
    )
    return DeployResult(rendered, note, results)


def undeploy(
    project: Project,
    names: Sequence[str] = (),
    all_agents: bool = False,
    network: bool = False,
    orphans: bool = False,
    progress: Progress | None = None,
) -> UndeployResult:
    """Remove agents' stacks (found by their services' labels) and wait until they are
    gone; `orphans`: stacks of agents no longer in the blueprints; `network`: remove the
    shared overlay network when nothing uses it."""
    from avrgen.engine.swarm import Swarm, UndeployResult

    the_plan = project.plan_or_none(required=all_agents or orphans or network)
    swarm = Swarm(progress)
    swarm.check()
    deployed = swarm.deployed_agents()
    planned = set(the_plan.agents) if the_plan is not None else set()
    chosen = require_known(names, planned | deployed)
    if all_agents:
        chosen = list(dict.fromkeys([*chosen, *sorted(planned)]))
    if orphans:
        chosen += sorted(deployed - planned - set(chosen))
    if not (chosen or network):
        raise AvrgenError("name an agent, or use --all / --orphans / --network")
    removed = swarm.undeploy(chosen)
    note = None
    if network and the_plan is not None:
        note = remove_network_if_unused(swarm, the_plan.network.name)
    return UndeployResult(chosen, removed, note)


def tasks(project: Project, names: Sequence[str] = ()) -> list[TaskStatus]:
    """The swarm tasks of the named agents (of every avrgen agent without names): the
    newest task of each service, with its node, state and error; planned services that
    are not deployed are listed with desired state `absent`."""
    from avrgen.engine.swarm import Swarm, TaskStatus

    the_plan = project.plan_or_none()
    swarm = Swarm()
    swarm.check()
    found = swarm.tasks(list(names) if names else None)
    if the_plan is not None:
        found = [replace(t, orphan=t.agent not in the_plan.agents) for t in found]
        services = {t.service for t in found}
        for name in names or (the_plan.agents if the_plan.target == "swarm" else ()):
            agent = the_plan.agents.get(name)
            if agent is None:
                continue
            for c in agent.containers:
                service = f"{agent.project}_{c.role}"
                if service not in services:
                    found.append(TaskStatus(name, service, c.role, "", "absent", "-"))
        for name in names:
            if name not in the_plan.agents and not any(t.agent == name for t in found):
                raise unknown_agent(name, the_plan.agents)
    return sorted(found, key=lambda t: (t.agent, t.service))
