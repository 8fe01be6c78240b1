"""The lifecycle across the settings' `hosts` (issue 18): each host's engine runs what one
engine runs, on the agents placed there (Plan.on_host: its containers of any other agent
are orphans there), every host at once. A host whose engine fails (unreachable, refusing,
gone mid-way) fails only its own agents, with a message naming the host and its endpoint;
the others' results stand, and the command exits 1 after telling them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from avrgen.app.agents import unknown_agent
from avrgen.errors import AvrgenError, ComposeError, HostFailure, HostsUnreachable
from avrgen.model.names import DEFAULT_HOST

if TYPE_CHECKING:
    from avrgen.app.lifecycle import DownResult
    from avrgen.app.project import Project
    from avrgen.app.running import Claimed, Removal, Stack, Start
    from avrgen.app.status import AgentStatus
    from avrgen.engine.compose import AgentUp, ContainerStatus, Docker, Progress, SetScope
    from avrgen.engine.interrupt import Interruption
    from avrgen.engine.secrets import Secrets
    from avrgen.model.plan import AgentPlan, Plan

R = TypeVar("R")
MAX_HOSTS_AT_ONCE = 16


def engine_on(
    the_plan: Plan,
    host: str | None,
    progress: Progress | None = None,
    interruption: Interruption | None = None,
    scope: SetScope | None = None,
) -> Docker:
    """The engine of `host` (None: the default one), seeing the plan's blueprint set's
    containers (`scope`, default: the plan's)."""
    from avrgen.engine.compose import Docker, SetScope

    target = (host, the_plan.hosts[host]) if host is not None else None
    return Docker(progress, target, interruption, scope or SetScope.of(the_plan))


def engine_of(
    the_plan: Plan | None,
    agent: str,
    progress: Progress | None = None,
    scope: SetScope | None = None,
) -> Docker:
    """The engine that runs `agent` (the default one for an agent not in the plan)."""
    from avrgen.engine.compose import Docker

    planned = the_plan.agents.get(agent) if the_plan is not None else None
    if the_plan is None or planned is None:
        return Docker(progress, scope=scope)
    return engine_on(the_plan, planned.host, progress, scope=scope)


def where(docker: Docker) -> str:
    return docker.where or f"host {DEFAULT_HOST!r} (the default Docker Engine)"


def hosts_for(the_plan: Plan, names: Sequence[str]) -> list[str | None]:
    """The hosts that run the named agents; every host, for a name the plan lacks (its
    containers may be anywhere), and without names."""
    if not names or any(name not in the_plan.agents for name in names):
        return the_plan.hosts_in_use
    wanted = {the_plan.agents[name].host for name in names}
    return [h for h in the_plan.hosts_in_use if h in wanted]


def on_each_host(
    the_plan: Plan,
    hosts: Sequence[str | None],
    job: Callable[[Docker, Plan], R],
    progress: Progress | None = None,
    interruption: Interruption | None = None,
) -> tuple[list[tuple[str | None, R]], list[HostFailure]]:
    """`job(engine, the host's plan)` on every host at once: each host's result, in the
    order of `hosts`, and the hosts where it failed."""

    def engine(host: str | None) -> Docker:
        told = progress
        if progress is not None:  # "[network on edge-1] created network avr ..."

            def told(agent: str, message: str) -> None:
                progress(
                    f"network on {host or DEFAULT_HOST}" if agent == "network" else agent, message
                )

        return engine_on(the_plan, host, told, interruption)

    engines = [engine(host) for host in hosts]
    return on_each_engine(engines, lambda docker: job(docker, the_plan.on_host(docker.host_name)))


def on_each_engine(
    engines: Sequence[Docker], job: Callable[[Docker], R]
) -> tuple[list[tuple[str | None, R]], list[HostFailure]]:
    """`job(engine)` on every engine (each one host's) at once: each host's result, in the
    order of `engines`, and the hosts where it failed, each failure naming its host."""

    def run(docker: Docker) -> tuple[str | None, R | HostFailure]:
        host = docker.host_name
        try:
            return host, job(docker)
        except ComposeError as exc:
            text = str(exc)
            named = text if docker.where and text.startswith(docker.where) else None
            return host, HostFailure(host, named or f"{where(docker)}: {text}")

    from concurrent.futures import ThreadPoolExecutor  # only here: not for `--help`

    with ThreadPoolExecutor(max_workers=min(MAX_HOSTS_AT_ONCE, max(1, len(engines)))) as pool:
        outcomes = list(pool.map(run, engines))
    done = [(h, r) for h, r in outcomes if not isinstance(r, HostFailure)]
    failed = [r for _, r in outcomes if isinstance(r, HostFailure)]
    return done, failed


def start_on_hosts(
    the_plan: Plan,
    selected: Sequence[AgentPlan],
    start: Start,
    up_one: Callable[[Docker, AgentPlan, Secrets, Claimed], AgentUp],
    blueprints: Path,
    stack: Stack | None = None,
) -> tuple[str | None, list[AgentUp], int | None]:
    """`up` on every host that runs one of `selected`, all hosts at once (each: its engine,
    the network there, its agents `start.parallel` at a time). Secrets are checked first,
    for every agent, before any engine is touched. Returns the notes about the networks,
    each agent's outcome in the order of `selected`, and the signal that ended it, if any."""
    import os

    from avrgen.app.running import start_agents
    from avrgen.engine.compose import AgentUp
    from avrgen.engine.interrupt import Interruption
    from avrgen.engine.secrets import resolve_secrets

    environ = os.environ if start.environ is None else start.environ
    resolve_secrets(selected, environ, start.secrets_file, stack.needs if stack else None)
    interruption = Interruption()
    groups: dict[str | None, list[AgentPlan]] = {}
    stack_host = the_plan.telephony.host if the_plan.telephony is not None else None
    if stack is not None:  # its host takes part with no agent of its own to start
        groups.setdefault(stack_host, [])
    for agent in selected:
        groups.setdefault(agent.host, []).append(agent)

    def on_host(docker: Docker, host_plan: Plan) -> tuple[str | None, list[AgentUp]]:
        agents = groups[docker.host_name]
        return start_agents(
            docker,
            host_plan,
            agents,
            start,
            lambda a, s, claimed: up_one(docker, a, s, claimed),
            stack if docker.host_name == stack_host else None,
            blueprints=blueprints,
        )

    hosts = [h for h in [None, *sorted(the_plan.hosts)] if h in groups]
    with interruption.catching():
        done, failed = on_each_host(the_plan, hosts, on_host, start.progress, interruption)
    outcomes: dict[str, AgentUp] = {}
    notes = []
    for host, (note, results) in done:
        if note:
            notes.append(f"{host or DEFAULT_HOST}: {note}")
        outcomes.update((r.agent, replace(r, host=host)) for r in results)
    for failure in failed:
        for agent in groups[failure.host]:
            message = f"agent {agent.name!r}: {failure.message}"
            outcomes[agent.name] = AgentUp(agent.name, "failed", 0.0, [], message, failure.host)
    results = [outcomes[a.name] for a in selected]
    return "; ".join(notes) or None, results, interruption.signal


def down_on_hosts(the_plan: Plan, removal: Removal, state_dir: Path) -> DownResult:
    """down on every host at once: each removes the chosen agents placed on it (a name the
    plan lacks: its containers on any host), and with `orphans` its containers of agents
    not placed there; with `telephony` the stack on its host (after the agents, before the
    network); with `network` the network where unused."""
    from avrgen.app.lifecycle import DownResult, down_on, down_with_stack

    chosen = list(dict.fromkeys(removal.names))
    if removal.all_agents:
        chosen = list(dict.fromkeys([*chosen, *the_plan.agents]))
    removal.refuse_nothing(chosen)
    everywhere = removal.orphans or removal.network
    hosts = the_plan.hosts_in_use if everywhere else hosts_for(the_plan, chosen)
    telephony = the_plan.telephony if removal.telephony else None
    if telephony is not None and telephony.host not in hosts:
        hosts = [h for h in [None, *sorted(the_plan.hosts)] if h in {*hosts, telephony.host}]

    def on_host(docker: Docker, host_plan: Plan) -> DownResult:
        docker.check(compose=False)
        here = [n for n in chosen if n in host_plan.agents or n not in the_plan.agents]
        if telephony is None or docker.host_name != telephony.host:
            return down_on(docker, host_plan, here, removal)
        return down_with_stack(docker, host_plan, the_plan, here, removal, telephony, state_dir)

    done, failed = on_each_host(the_plan, hosts, on_host, removal.progress)
    removed = [replace(s, host=host) for host, result in done for s in result.removed]
    for name in chosen:
        if name not in the_plan.agents and all(s.agent != name for s in removed):
            raise unknown_agent(name, the_plan.agents)
    notes = [f"{host or DEFAULT_HOST}: {r.network}" for host, r in done if r.network]
    alone = [note for _, r in done for note in r.left_alone]
    network = "\n".join(notes) or None
    result = DownResult(chosen, removed, network, dry_run=removal.dry_run, left_alone=alone)
    result.telephony = next((r.telephony for _, r in done if r.telephony is not None), None)
    if failed:
        raise HostsUnreachable(failed, result)
    return result


def restart_on_hosts(
    the_plan: Plan,
    names: Sequence[str],
    all_agents: bool,
    timeout: int,
    progress: Progress | None,
    parallel: int,
) -> list[ContainerStatus]:
    """restart on every host that runs one of the agents (named ones of the plan, or all),
    all hosts at once; each container with its host."""
    from avrgen.app.agents import require_agents
    from avrgen.app.lifecycle import restart_on

    chosen = require_agents(the_plan, names)
    if all_agents:
        chosen = list(dict.fromkeys([*chosen, *the_plan.agents]))
    if not chosen:
        raise AvrgenError("name an agent, or use --all")

    def on_host(docker: Docker, host_plan: Plan) -> list[ContainerStatus]:
        docker.check(compose=False)
        return restart_on(docker, [n for n in chosen if n in host_plan.agents], timeout, parallel)

    done, failed = on_each_host(the_plan, hosts_for(the_plan, chosen), on_host, progress)
    found = [replace(s, host=host) for host, statuses in done for s in statuses]
    if failed:
        raise HostsUnreachable(failed, found)
    return found


def status_on_hosts(
    project: Project, the_plan: Plan, names: Sequence[str], secrets: dict[str, str]
) -> list[AgentStatus]:
    """status on every host at once: each host's agents (and its orphans), each with its
    host; the agents of a host that fails are `unreachable`, with the reason."""
    from avrgen.app.agents import require_agents
    from avrgen.app.status import AgentStatus, status_on

    wanted = require_agents(the_plan, [n for n in names if n in the_plan.agents])
    unplanned = [n for n in names if n not in the_plan.agents]

    def on_host(docker: Docker, host_plan: Plan) -> list[AgentStatus]:
        return status_on(project, docker, host_plan, names, secrets, check_names=False)

    hosts = hosts_for(the_plan, names)
    done, failed = on_each_host(the_plan, hosts, on_host)
    found = {(a.agent, a.state == "orphaned"): replace(a, host=h) for h, r in done for a in r}
    for failure in failed:
        for agent in the_plan.on_host(failure.host).agents.values():
            if not names or agent.name in wanted:
                found[agent.name, False] = AgentStatus(
                    agent.name, "unreachable", host=failure.host, error=failure.message
                )
    for (name, orphan), left in list(found.items()):
        planned_row = found.get((name, False))
        if orphan and name in the_plan.agents and planned_row is not None:
            # left on another host by a move: the planned agent's drift, not another agent
            del found[name, True]
            found[name, False] = _left_behind(planned_row, left)
    orphaned = sorted(name for name, orphan in found if orphan)
    for name in unplanned:
        if name not in orphaned:
            raise unknown_agent(name, [*the_plan.agents, *orphaned])
    planned = [n for n in the_plan.agents if (not names or n in wanted) and (n, False) in found]
    return [*(found[n, False] for n in planned), *(found[n, True] for n in orphaned)]


def _left_behind(agent: AgentStatus, left: AgentStatus) -> AgentStatus:
    """`agent` with its containers still on another host (`left`) as differences."""
    from avrgen.engine.differences import Difference

    extra = [
        Difference(
            c.name,
            c.role,
            "extra",
            f"still on host {left.host or DEFAULT_HOST} (the agent runs on "
            f"{agent.host or DEFAULT_HOST}); `avrgen down --orphans` removes it",
        )
        for c in left.containers
    ]
    state = "drifted" if agent.state == "in sync" else agent.state
    return replace(agent, state=state, differences=[*agent.differences, *extra])
