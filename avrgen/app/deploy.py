"""The swarm target: `deploy`, `undeploy` and the agents' swarm tasks (`ps` on a swarm);
the engine's side is avrgen/engine/swarm.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from avrgen.app.agents import require_known, select, unknown_agent
from avrgen.app.project import Project
from avrgen.app.render import fresh_plan
from avrgen.app.running import Removal, Start, remove_network_if_unused, start_agents
from avrgen.app.sets import remember, scope_of
from avrgen.model.output import STACK_FILE

if TYPE_CHECKING:
    from avrgen.app.releases import Recorder
    from avrgen.engine.secrets import Secrets
    from avrgen.engine.swarm import AgentDeploy, DeployResult, Swarm, TaskStatus, UndeployResult
    from avrgen.model.plan import AgentPlan


def deploy(project: Project, start: Start, resolve_image: str = "always") -> DeployResult:
    """Render the stack files if stale (target swarm, whatever the settings say), check
    secrets and the swarm, create the overlay network, then `docker stack deploy` per
    agent and wait until its tasks run."""
    from avrgen.app.releases import Recorder  # pydantic's models: not for `--help`
    from avrgen.engine.swarm import DeployResult, Swarm
    from avrgen.fs.releases import ReleaseStore

    with project.set_lock(start.progress):
        the_plan, rendered = fresh_plan(
            project, start.names, start.all_agents, start.render, target="swarm"
        )
        selected = select(the_plan, start.names, start.all_agents)
        swarm = Swarm(start.progress, scope_of(project, the_plan))
        remember(project, the_plan)
        recorder = Recorder(
            ReleaseStore(project.paths.state_dir, the_plan.set_id), project.paths.blueprints
        )
        run = partial(_deploy_one, swarm, recorder, project, start.timeout, resolve_image)
        stack = None
        if the_plan.telephony is not None:  # on this node, with docker compose, as for `up`
            from avrgen.app.telephony import TelephonyStart

            stack = TelephonyStart(
                the_plan.telephony, project.paths.output, project.paths.state_dir, start.timeout
            )
        note, results = start_agents(
            swarm,
            the_plan,
            selected,
            start,
            lambda agent, secrets, _: run(agent, secrets),  # a swarm's claim reads no containers
            stack,
            blueprints=project.paths.blueprints,
        )
        return DeployResult(rendered, note, results, stack.result if stack else None)


def _deploy_one(
    swarm: Swarm,
    recorder: Recorder,
    project: Project,
    timeout: int,
    resolve_image: str,
    agent: AgentPlan,
    secrets: Secrets,
) -> AgentDeploy:
    """Deploy one agent; once its services run, record a release when it changed."""
    from avrgen.app.releases import record_started

    output = project.paths.output
    result = swarm.deploy(agent, output / agent.name / STACK_FILE, secrets, timeout, resolve_image)
    if result.status == "failed":
        return result
    done = record_started(
        recorder,
        swarm.say,
        agent,
        output,
        "deploy",
        project.paths.environment,
        lambda: swarm.images(agent.name),
        target="swarm",
    )
    if done.error is not None:
        return replace(result, status="failed", error=done.error)
    return replace(result, release=done.number) if done.number is not None else result


def undeploy(project: Project, removal: Removal) -> UndeployResult:
    """Remove agents' stacks (found by their services' labels) and wait until they are
    gone; `orphans`: stacks of agents no longer in the blueprints; `network`: remove the
    shared overlay network when nothing uses it."""
    from avrgen.engine.swarm import Swarm, UndeployResult

    the_plan = project.plan_or_none(
        required=removal.all_agents or removal.orphans or removal.network
    )
    swarm = Swarm(removal.progress, scope_of(project, the_plan))
    swarm.check()
    deployed = swarm.deployed_agents()
    planned = set(the_plan.agents) if the_plan is not None else set()
    chosen = require_known(removal.names, planned | deployed)
    if removal.all_agents:
        chosen = list(dict.fromkeys([*chosen, *sorted(planned)]))
    if removal.orphans:
        chosen += sorted(deployed - planned - set(chosen))
    removal.refuse_nothing(chosen)
    removed = swarm.undeploy(chosen)
    stack = None
    if removal.telephony:  # after the agents (their calls go through it), before the network
        from avrgen.app.telephony import remove

        telephony = the_plan.telephony if the_plan is not None else None
        stack = remove(swarm.compose_engine(), telephony, project.paths.state_dir)
    note = None
    if removal.network and the_plan is not None:
        note = remove_network_if_unused(swarm, the_plan)
    return UndeployResult(chosen, removed, note, stack)


def tasks(project: Project, names: Sequence[str] = (), all_sets: bool = False) -> list[TaskStatus]:
    """The swarm tasks of the named agents (of this set's agents without names; of every
    set's with `all_sets`, which needs no blueprints): the newest task of each service,
    with its node, state and error; planned services that are not deployed are listed
    with desired state `absent`."""
    from avrgen.engine.swarm import Swarm, TaskStatus

    if all_sets:
        swarm = Swarm()
        swarm.check()
        found = swarm.tasks(list(dict.fromkeys(names)) or None)
        return sorted(found, key=lambda t: (t.set_id, t.agent, t.service))
    the_plan = project.plan_or_none()
    swarm = Swarm(scope=scope_of(project, the_plan))
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
