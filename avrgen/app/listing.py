"""`ps` on a Docker Engine: which containers are a blueprint set's, and which agent names
are known (in its blueprints, or with containers); the engine's side is
avrgen/engine/containers.py, and the engine read early is app/reading.py."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from avrgen.app.agents import unknown_agent
from avrgen.app.project import Project
from avrgen.app.sets import scope_of
from avrgen.errors import ComposeError

# imported where used: compose (python-on-whales), which render need not import
if TYPE_CHECKING:
    from avrgen.app.render import RecordedSet
    from avrgen.engine.compose import ContainerStatus, Docker
    from avrgen.engine.containers import Snapshot
    from avrgen.engine.swarm import TaskStatus
    from avrgen.model.blueprint import Target
    from avrgen.model.plan import Plan


@dataclass
class Listing:
    """What `ps` lists: the containers of the compose target, or the swarm tasks."""

    target: Target
    containers: list[ContainerStatus] = field(default_factory=list)
    tasks: list[TaskStatus] = field(default_factory=list)


def held_elsewhere(docker: Docker, name: str) -> str:
    """ "" when no other blueprint set's containers are agent `name`'s; else which set's."""
    if docker.scope is None:
        return ""
    theirs = [s for s in docker.unscoped_containers([name]) if not docker.scope.owns(s)]
    owners = sorted({(s.set_id, s.output) for s in theirs})
    where = "; ".join(docker.scope.describe(set_id, output) for set_id, output in owners)
    return f"agent {name!r}: its containers belong to {where}" if theirs else ""


def known_agents(
    the_plan: Plan | None,
    docker: Docker,
    names: Sequence[str],
    known: Sequence[dict[str, Any]] | None = None,
) -> list[str]:
    """Names of agents in the blueprints or with containers; else the nearest match."""
    planned = set(the_plan.agents) if the_plan is not None else set()
    running: set[str] | None = None
    for name in names:
        if name in planned:
            continue
        if running is None:
            running = {s.agent for s in docker.containers(None, known)}
        if name not in running:
            elsewhere = held_elsewhere(docker, name)
            if elsewhere:  # not one of this set's: run avrgen where it belongs
                raise ComposeError(f"{elsewhere}, not to this one (not in its blueprints)")
            raise unknown_agent(name, planned | running)
    return list(dict.fromkeys(names))


def listing(
    project: Project,
    names: Sequence[str] = (),
    target: Target | None = None,
    all_sets: bool = False,
    early: Snapshot | None = None,
) -> Listing:
    """What `ps` lists: the containers (`ps`) or, for the swarm target, the swarm tasks
    (app/deploy.tasks). The target: `target`, else the one the last render recorded (when
    output/ is still what the blueprints render: app/render.recorded_set; then, without
    names, no blueprint is read), else the settings' (compose without blueprints, with
    `all_sets`). `early`: see `ps`."""
    from avrgen.app.render import recorded_set

    recorded = None if all_sets or target or names else recorded_set(project)
    anywhere = all_sets and not project.paths.blueprints.is_dir()  # --all-sets: no blueprints
    planned = recorded.target if recorded is not None else None
    chosen = target or planned or ("compose" if anywhere else project.target())
    if chosen == "swarm":
        from avrgen.app.deploy import tasks

        return Listing("swarm", tasks=tasks(project, names, all_sets=all_sets))
    return Listing("compose", ps(project, names, all_sets, early, recorded))


def ps(
    project: Project,
    names: Sequence[str] = (),
    all_sets: bool = False,
    early: Snapshot | None = None,
    recorded: RecordedSet | None = None,
) -> list[ContainerStatus]:
    """Containers of the named agents; without names, this blueprint set's containers on
    its network or of its agents (every set's with `all_sets`, which needs no blueprints).
    With names, planned containers that do not exist are listed as `absent`. `early`: the
    default engine's containers, being read since the command started (app/reading.py);
    `recorded`: what the last render recorded of the plan, when output/ is still what the
    blueprints render (app/render.recorded_set): without names, no blueprint is read."""
    from avrgen.engine.compose import Docker, SetScope, role_key

    if all_sets:  # every avrgen container of the engine(s), each with its set
        blueprints = project.plan_or_none() if project.paths.blueprints.is_dir() else None
        if blueprints is not None and blueprints.hosts:  # every host of the inventory
            from avrgen.app.hosts import all_sets_on_hosts

            return all_sets_on_hosts(blueprints, names)
        docker = Docker()
        docker.check(compose=False)
        found = docker.containers(list(dict.fromkeys(names)) or None)
        return sorted(found, key=lambda s: (s.set_id, *role_key(s)))
    if recorded is not None and recorded.hosts and not names:  # every host, as planned
        from avrgen.app.hosts import ps_on_recorded_hosts

        return ps_on_recorded_hosts(recorded)
    if recorded is not None and not names:
        agents = frozenset(recorded.agents)
        scope = SetScope(recorded.set_id, recorded.network, agents, project.paths.state_dir)
        docker = Docker(scope=scope)
        known = early.found() if early is not None else None
        with docker.checked_on_failure():
            found = docker.containers(None, known)
        return sorted(of_the_set(found, recorded.network, agents), key=role_key)
    the_plan = project.plan_or_none()
    if the_plan is not None and the_plan.hosts:  # several engines: each lists its own
        from avrgen.app.hosts import ps_on_hosts

        return ps_on_hosts(the_plan, names)
    docker = Docker(scope=scope_of(project, the_plan))
    known = early.found() if early is not None else None
    with docker.checked_on_failure():
        chosen = known_agents(the_plan, docker, names, known) if names else None
        return ps_on(docker, the_plan, chosen, known)


def ps_on(
    docker: Docker,
    the_plan: Plan | None,
    chosen: Sequence[str] | None,
    known: Sequence[dict[str, Any]] | None = None,
) -> list[ContainerStatus]:
    """ps on one engine: the `chosen` agents' containers (None: the blueprints' agents);
    `known`: the inspect data of every avrgen container of the engine, read already."""
    from avrgen.engine.compose import absent, role_key

    found = docker.containers(chosen, known)
    if the_plan is not None:
        if chosen is None:  # the blueprints' agents, on the network or not (it may be gone)
            found = of_the_set(found, the_plan.network.name, the_plan.agents)
        else:
            found = [replace(s, orphan=orphaned(s, the_plan.agents)) for s in found]
        existing = {s.name for s in found}
        for name in chosen or ():
            agent = the_plan.agents.get(name)
            for container in agent.containers if agent else ():
                if container.name not in existing:
                    found.append(absent(name, container))
    return sorted(found, key=role_key)


def of_the_set(
    found: Sequence[ContainerStatus], network: str, agents: Collection[str]
) -> list[ContainerStatus]:
    """Of a blueprint set's containers, those on its network or of its `agents` (the network
    may be gone), each marked when it is an orphan (of no agent of the set)."""
    return [
        replace(s, orphan=orphaned(s, agents))
        for s in found
        if network in s.networks or s.agent in agents
    ]


def orphaned(status: ContainerStatus, agents: Collection[str], set_id: str | None = None) -> bool:
    """A container of no agent of `agents` (the telephony stack's containers are no
    agent's: `down --telephony` removes them); with `set_id`, only one labelled with that
    blueprint set (an older avrgen's, without the label, is never taken for an orphan)."""
    return (
        not status.telephony
        and status.agent not in agents
        and (set_id is None or status.set_id == set_id)
    )
