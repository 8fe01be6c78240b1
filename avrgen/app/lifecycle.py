"""The lifecycle on a Docker Engine: `up`, `down`, `logs`, `restart` (the compose target;
the engine's side is avrgen/engine/compose.py; `ps`: app/listing.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from avrgen.app.agents import select
from avrgen.app.insync import InSync, InSyncOnEach
from avrgen.app.listing import held_elsewhere, known_agents, orphaned
from avrgen.app.project import Project
from avrgen.app.render import fresh_plan
from avrgen.app.running import Claimed, Removal, Start, remove_network_if_unused, start_agents
from avrgen.app.sets import remember, scope_of
from avrgen.errors import AvrgenError, ComposeError
from avrgen.fs import mutex
from avrgen.model.output import COMPOSE_FILE

# imported where used: compose (python-on-whales), which render need not import
if TYPE_CHECKING:
    from avrgen.app.telephony import TelephonyUp
    from avrgen.engine.compose import AgentUp, ContainerStatus, Docker, LogLine, Progress
    from avrgen.engine.secrets import Secrets
    from avrgen.model.plan import AgentPlan, Plan, Telephony
    from avrgen.pipeline.write import Change


@dataclass
class UpResult:
    rendered: list[Change]  # files `up` rendered first (output/ was stale)
    network: str | None  # a note about the shared network (created, other subnet)
    agents: list[AgentUp]
    interrupted: int | None = None  # the signal that ended the start (SIGINT, SIGTERM)
    telephony: TelephonyUp | None = None  # without telephony in the blueprints: None
    releases: dict[str, int] = field(default_factory=dict)  # agent -> release recorded


@dataclass
class DownResult:
    agents: list[str]
    removed: list[ContainerStatus]  # with dry_run: what would be removed
    network: str | None  # what happened to the shared network with --network
    telephony: list[ContainerStatus] | None = None  # --telephony: the stack's, removed
    dry_run: bool = False
    left_alone: list[str] = field(default_factory=list)  # named agents another set runs


def up(
    project: Project,
    start: Start,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
) -> UpResult:
    """Render if stale (or refuse, without `render`), check secrets, create the network,
    then `docker compose up --wait` per agent, `parallel` at a time. Holds the output
    folder's lock throughout, as render does: two `up`s on one output take turns."""
    from avrgen.app.releases import Releasing  # pydantic's models: not for `--help`
    from avrgen.engine.compose import Docker

    # the set's lock first (its port lock and containers), then its output folder's
    with (
        mutex.hold(project.paths.blueprints, wait, on_wait, create=False),
        mutex.hold(project.paths.output, wait, on_wait),
    ):
        the_plan, rendered = fresh_plan(project, start.names, start.all_agents, start.render)
        if the_plan.target != "compose":
            raise ComposeError(
                "the settings' target is swarm: `avrgen deploy` runs these agents on a swarm;"
                " `avrgen up` runs the compose target"
            )
        # no names, no --all: `up --changed` of a drifted telephony stack alone
        none = not (start.names or start.all_agents)
        selected = [] if none else select(the_plan, start.names, start.all_agents)
        if rendered and start.progress is not None:
            start.progress("render", f"output/ was stale: rendered {len(rendered)} changed file(s)")
        remember(project, the_plan)
        # each agent's start, then its release recorded (or with --atomic, the way back)
        # an agent in sync (engine read once on each engine) starts no compose: app/insync.py
        per_engine = InSyncOnEach(the_plan, project.paths.output, selected)
        up_one = partial(_up_on, project.paths.output, start.timeout, per_engine)
        releasing = Releasing(project, the_plan.set_id, up_one, start.atomic, start.timeout)
        stack = None
        # the stack carries every agent's calls, and its dialplan every agent's ports: every
        # `up` brings it in line first (started when missing, changed files reloaded), as
        # compose starts a service's dependencies
        if the_plan.telephony is not None:
            from avrgen.app.telephony import TelephonyStart

            stack = TelephonyStart(
                the_plan.telephony, project.paths.output, project.paths.state_dir, start.timeout
            )
        if the_plan.hosts:  # several engines: app/hosts.py (the stack on its own host)
            from avrgen.app.hosts import start_on_hosts

            note, results, signal = start_on_hosts(
                the_plan, selected, start, releasing, project.paths.blueprints, stack
            )
            telephony = stack.result if stack is not None else None
            return UpResult(rendered, note, results, signal, telephony, releasing.recorded)
        docker = Docker(start.progress, scope=scope_of(project, the_plan))
        note, results = start_agents(
            docker,
            the_plan,
            selected,
            start,
            partial(releasing, docker),
            stack,
            blueprints=project.paths.blueprints,
        )
        telephony = stack.result if stack is not None else None
        interrupted = docker.interruption.signal
        return UpResult(rendered, note, results, interrupted, telephony, releasing.recorded)


def down(project: Project, removal: Removal) -> DownResult:
    """Stop and remove agents' containers (found by labels); `orphans`: those of agents
    no longer in the blueprints; `network`: remove the shared network when unused."""
    from avrgen.engine.compose import Docker

    with project.set_lock(removal.progress):
        the_plan = project.plan_or_none(
            required=removal.all_agents or removal.orphans or removal.network
        )
        if the_plan is not None and the_plan.hosts:  # several engines: each removes its own
            from avrgen.app.hosts import down_on_hosts

            return down_on_hosts(the_plan, removal, project.paths.state_dir)
        docker = Docker(scope=scope_of(project, the_plan))
        docker.check(compose=False)
        chosen = _chosen(the_plan, docker, removal.names, removal.all_agents)
        removal.refuse_nothing(chosen)
        if not removal.telephony:
            return down_on(docker, the_plan, chosen, removal)
        telephony = the_plan.telephony if the_plan is not None else None
        state_dir = project.paths.state_dir
        return down_with_stack(docker, the_plan, the_plan, chosen, removal, telephony, state_dir)


def down_with_stack(
    docker: Docker,
    host_plan: Plan | None,
    the_plan: Plan | None,
    chosen: list[str],
    removal: Removal,
    telephony: Telephony | None,
    state_dir: Path,
) -> DownResult:
    """down on the engine of the telephony stack: the agents (`host_plan`'s, of this
    engine), then the stack (their calls go through it; the default project's without
    `telephony`), then with `removal.network` the network (the stack is on it)."""
    from avrgen.app.telephony import remove

    result = down_on(docker, host_plan, chosen, replace(removal, network=False))
    result.telephony = remove(docker, telephony, state_dir)
    if removal.network and the_plan is not None:
        result.network = remove_network_if_unused(docker, the_plan)
    return result


def down_on(
    docker: Docker, the_plan: Plan | None, chosen: list[str], removal: Removal
) -> DownResult:
    """down on one engine: the `chosen` agents' containers, then what `removal` asks."""
    from avrgen.engine.compose import role_key

    docker.refuse_foreign_in_projects(chosen)
    statuses = docker.containers(chosen) if chosen else []
    if removal.orphans and the_plan is not None:
        statuses += [
            s for s in docker.containers() if orphaned(s, the_plan.agents, the_plan.set_id)
        ]
    statuses = sorted({s.id: s for s in statuses}.values(), key=role_key)
    left_alone = [held_elsewhere(docker, name) for name in removal.names]
    if removal.dry_run:
        return DownResult(
            chosen, statuses, None, dry_run=True, left_alone=[n for n in left_alone if n]
        )
    docker.remove(statuses)
    note = None
    if removal.network and the_plan is not None:
        note = remove_network_if_unused(docker, the_plan)
    return DownResult(chosen, statuses, note, left_alone=[n for n in left_alone if n])


def logs(
    project: Project,
    name: str,
    role: str | None = None,
    follow: bool = False,
    tail: int | None = None,
) -> Iterator[LogLine]:
    """Log lines of an agent's containers (or of one role), merged by time."""
    from avrgen.app.hosts import engine_of

    the_plan = project.plan_or_none()
    # the agent's host's engine, with `hosts`
    docker = engine_of(the_plan, name, scope=scope_of(project, the_plan))
    docker.check(compose=False)
    known_agents(the_plan, docker, [name])
    statuses = _containers(docker, name)
    if role is not None:
        roles = sorted({s.role for s in statuses})
        statuses = [s for s in statuses if s.role == role]
        if not statuses:
            raise ComposeError(
                f"agent {name!r} has no container with role {role!r} (roles: {', '.join(roles)})"
            )
    return docker.logs(statuses, follow, tail)


def restart(
    project: Project,
    names: Sequence[str] = (),
    all_agents: bool = False,
    timeout: int = 120,
    progress: Progress | None = None,
    parallel: int = 4,
) -> list[ContainerStatus]:
    """Restart agents' containers and wait until they run (healthy where checked),
    `parallel` agents at a time; the result in the agents' order."""
    from avrgen.engine.compose import Docker

    with project.set_lock(progress):
        the_plan = project.plan_or_none(required=all_agents)
        if the_plan is not None and the_plan.hosts:  # several engines: each its own agents
            from avrgen.app.hosts import restart_on_hosts

            return restart_on_hosts(the_plan, names, all_agents, timeout, progress, parallel)
        docker = Docker(progress, scope=scope_of(project, the_plan))
        docker.check(compose=False)
        chosen = _chosen(the_plan, docker, names, all_agents)
        if not chosen:
            raise AvrgenError("name an agent, or use --all")
        return restart_on(docker, chosen, timeout, parallel)


def restart_on(
    docker: Docker, chosen: Sequence[str], timeout: int, parallel: int
) -> list[ContainerStatus]:
    """restart on one engine: the `chosen` agents, `parallel` at a time, in their order."""
    from concurrent.futures import ThreadPoolExecutor

    def restart_one(name: str) -> list[ContainerStatus]:
        statuses = _containers(docker, name)
        docker.say(name, f"restarting {len(statuses)} container(s)")
        docker.restart(statuses)
        ready = docker.wait_ready(name, timeout)
        docker.say(name, "restarted")
        return ready

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return [s for statuses in pool.map(restart_one, chosen) for s in statuses]


def _up_one(
    docker: Docker,
    output: Path,
    timeout: int,
    in_sync: InSync,
    agent: AgentPlan,
    secrets: Secrets,
    claimed: Claimed,
) -> AgentUp:
    """One agent: nothing when its containers run what output/ says, else compose up."""
    unchanged = in_sync.unchanged(agent, secrets, claimed)
    if unchanged is not None:
        return unchanged
    return docker.up(agent, output / agent.name / COMPOSE_FILE, secrets, timeout)


def _up_on(
    output: Path,
    timeout: int,
    per_engine: InSyncOnEach,
    docker: Docker,
    agent: AgentPlan,
    secrets: Secrets,
    claimed: Claimed,
) -> AgentUp:
    return _up_one(docker, output, timeout, per_engine.of(docker), agent, secrets, claimed)


def _containers(docker: Docker, name: str) -> list[ContainerStatus]:
    statuses = docker.containers([name])
    if not statuses:
        elsewhere = held_elsewhere(docker, name)
        if elsewhere:
            raise ComposeError(
                f"{elsewhere}, not this one's; run avrgen from that blueprint folder, or "
                f"`avrgen up --take-over {name}` makes them this set's"
            )
        raise ComposeError(f"agent {name!r} has no containers; `avrgen up {name}` starts it")
    return statuses


def _chosen(
    the_plan: Plan | None, docker: Docker, names: Sequence[str], all_agents: bool
) -> list[str]:
    """The named agents (known ones), then with `all_agents` every agent of the plan."""
    chosen = known_agents(the_plan, docker, names) if names else []
    if all_agents and the_plan is not None:
        chosen = list(dict.fromkeys([*chosen, *the_plan.agents]))
    return chosen
