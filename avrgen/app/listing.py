"""`ps`: which containers are a blueprint set's, on one Docker Engine or on every host of
the settings' `hosts` (app/hosts.py runs a job on each), and which agent names are known
(in its blueprints, or with containers); the engine's side is avrgen/engine/containers.py,
and the engine read early is app/reading.py."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from avrgen.app.agents import unknown_agent
from avrgen.app.hosts import hosts_for, on_each_engine, on_each_host
from avrgen.app.project import Project
from avrgen.app.sets import scope_of
from avrgen.errors import ComposeError, HostFailure, HostsUnreachable

# imported where used: compose (python-on-whales), which render need not import
if TYPE_CHECKING:
    from avrgen.app.render import RecordedSet
    from avrgen.engine.compose import ContainerStatus, Docker
    from avrgen.engine.containers import Snapshot
    from avrgen.engine.swarm import TaskStatus
    from avrgen.model.blueprint import Target
    from avrgen.model.plan import AgentPlan, Plan
    from avrgen.pipeline.cache import AgentView


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
            return all_sets_on_hosts(blueprints, names)
        docker = Docker()
        docker.check(compose=False)
        found = docker.containers(list(dict.fromkeys(names)) or None)
        return sorted(found, key=lambda s: (s.set_id, *role_key(s)))
    if recorded is not None and recorded.hosts and not names:  # every host, as planned
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


# -- over the settings' hosts (app/hosts.py): every host at once -----------------------------


def ps_on_hosts(the_plan: Plan, names: Sequence[str]) -> list[ContainerStatus]:
    """ps on every host at once, each container with its host; a host that fails lists its
    planned containers as `unreachable` and raises HostsUnreachable after the rest."""
    chosen = list(dict.fromkeys(names)) or None

    def on_host(docker: Docker, host_plan: Plan) -> list[ContainerStatus]:
        # a named agent placed elsewhere: its containers here, if any (orphans of this host);
        # the engine checked only when a call fails, as ps on one engine does
        with docker.checked_on_failure():
            return ps_on(docker, host_plan, chosen)

    done, failed = on_each_host(the_plan, hosts_for(the_plan, names), on_host)
    found = [replace(s, host=host) for host, statuses in done for s in statuses]
    for name in chosen or ():
        if name not in the_plan.agents and all(s.agent != name for s in found):
            raise unknown_agent(name, the_plan.agents)
    planned = {
        name: agent for name, agent in the_plan.agents.items() if chosen is None or name in chosen
    }
    return _listed(found, failed, planned)


def ps_on_recorded_hosts(recorded: RecordedSet) -> list[ContainerStatus]:
    """ps of every agent on every host at once, as ps_on_hosts lists them, from what the
    last render recorded (app/render.recorded_set: output/ is still what the blueprints
    render): the hosts' endpoints and each agent's host and containers; no blueprint is
    read (nor pydantic imported)."""
    from avrgen.engine.compose import Docker, SetScope, role_key

    scope = SetScope(recorded.set_id, recorded.network, frozenset(recorded.agents))
    placed: dict[str | None, list[str]] = {}
    for name, agent in recorded.agents.items():
        placed.setdefault(agent.host, []).append(name)
    # as Plan.hosts_in_use: every host, after the default engine when an agent runs there
    hosts = [*([None] if None in placed else []), *sorted(recorded.hosts)]
    engines = [
        Docker(host=None if h is None else (h, recorded.hosts[h]), scope=scope) for h in hosts
    ]

    def on_host(docker: Docker) -> list[ContainerStatus]:
        with docker.checked_on_failure():  # as ps_on_hosts: checked when a call fails
            found = docker.containers(None)
        here = of_the_set(found, recorded.network, placed.get(docker.host_name, ()))
        return sorted(here, key=role_key)

    done, failed = on_each_engine(engines, on_host)
    found = [replace(s, host=host) for host, statuses in done for s in statuses]
    return _listed(found, failed, recorded.agents)


def _listed(
    found: list[ContainerStatus],
    failed: Sequence[HostFailure],
    planned: Mapping[str, AgentPlan | AgentView],
) -> list[ContainerStatus]:
    """What ps lists over hosts: the containers `found`, then those `planned` on each host
    that failed, as `unreachable`; HostsUnreachable after them when a host failed."""
    from avrgen.engine.compose import absent, role_key

    for failure in failed:
        found += [
            replace(absent(name, c), state="unreachable", host=failure.host)
            for name, agent in planned.items()
            if agent.host == failure.host
            for c in agent.containers
        ]
    found.sort(key=role_key)
    if failed:
        raise HostsUnreachable(failed, found)
    return found


def all_sets_on_hosts(the_plan: Plan, names: Sequence[str]) -> list[ContainerStatus]:
    """`ps --all-sets` on every host of the inventory at once: every avrgen container of
    each engine, of any blueprint set, each with its host and set; a host that fails
    raises HostsUnreachable after the rest."""
    from avrgen.engine.compose import role_key

    chosen = list(dict.fromkeys(names)) or None

    def on_host(docker: Docker, _: Plan) -> list[ContainerStatus]:
        with docker.checked_on_failure():
            return docker.unscoped_containers(chosen)

    done, failed = on_each_host(the_plan, the_plan.hosts_in_use, on_host)
    found = [replace(s, host=host) for host, statuses in done for s in statuses]
    found.sort(key=lambda s: (s.set_id, s.host or "", *role_key(s)))
    if failed:
        raise HostsUnreachable(failed, found)
    return found
