"""The core calls behind the CLI: each chains the stages (load -> validate -> plan -> render
-> write) for one job and returns a result; none prints or reads sys.argv.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from avrgen.errors import AvrgenError, ComposeError, Problem, StaleOutputError
from avrgen.fs import mutex
from avrgen.fs.lock import LOCK_NAME, read_lock
from avrgen.pipeline.load import Document, load_blueprints

# imported where used: compose (python-on-whales), render (jinja2) which validate skips, and
# the pydantic stages (catalog, validate, plan, secrets: 0.15 s) which a cached render skips
if TYPE_CHECKING:
    from avrgen.engine.compose import AgentUp, ContainerStatus, Docker, LogLine, Progress
    from avrgen.engine.secrets import Secrets
    from avrgen.engine.swarm import DeployResult, Swarm, TaskStatus, UndeployResult
    from avrgen.model.blueprint import Blueprint
    from avrgen.model.blueprint import Target as TargetName
    from avrgen.model.catalog import Catalog
    from avrgen.model.plan import AgentPlan, Lock, Plan
    from avrgen.pipeline.cache import AgentReuse, PlanView
    from avrgen.pipeline.render import Renderer
    from avrgen.pipeline.validate import Validated
    from avrgen.pipeline.write import Change, Target

R = TypeVar("R")


@dataclass(frozen=True)
class _FirstRender:
    """A first render, planned, rendered and parsed back before the output folder exists,
    and the lock it was planned with (Project.render)."""

    lock: Lock
    plan: Plan
    renderer: Renderer
    targets: list[Target]
    reuse: AgentReuse | None


def load_catalog(folders: tuple[Path, ...]) -> Catalog:
    from avrgen.pipeline.catalog import load_catalog

    return load_catalog(folders)


def settings_catalog(documents: list[Document], blueprints: Path) -> Path | None:
    from avrgen.pipeline.catalog import settings_catalog

    return settings_catalog(documents, blueprints)


def validate(documents: list[Document], catalog: Catalog) -> Validated:
    from avrgen.pipeline.validate import validate

    return validate(documents, catalog)


def plan(blueprint: Blueprint, lock: Lock, catalog: Catalog) -> Plan:
    from avrgen.pipeline.plan import plan

    return plan(blueprint, lock, catalog)


def suggest(name: str, known: Iterable[str]) -> str:
    from avrgen.model.names import suggest

    return suggest(name, known)


def resolve_secrets(
    agents: Iterable[AgentPlan], environ: Mapping[str, str], secrets_file: Path | None = None
) -> Secrets:
    from avrgen.engine.secrets import resolve_secrets

    return resolve_secrets(agents, environ, secrets_file)


@dataclass(frozen=True)
class Paths:
    blueprints: Path = Path("blueprints")
    output: Path = Path("output")
    templates: Path | None = None
    catalogs: tuple[Path, ...] = ()

    @property
    def lock(self) -> Path:
        return self.blueprints / LOCK_NAME


@dataclass
class RenderResult:
    plan: Plan | PlanView  # PlanView: from the render cache (what the CLI prints of a plan)
    changes: list[Change]
    warnings: list[Problem] = field(default_factory=list)
    checked: bool = False  # --check: nothing was written


class Project:
    """One blueprint folder and its output folder."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self._catalogs: dict[tuple[Path, ...], Catalog] = {}
        self._settings_catalog: Path | None = None  # the last catalog_for()'s `catalog:`

    @property
    def catalog(self) -> Catalog:
        """Bundled templates, then the settings' `catalog:` folder, then each --catalog."""
        folder = self.paths.blueprints
        return self.catalog_for(load_blueprints(folder) if folder.is_dir() else [])

    def catalog_for(self, documents: list[Document]) -> Catalog:
        """The catalog for these documents (the settings document may name a folder)."""
        own = settings_catalog(documents, self.paths.blueprints)
        self._settings_catalog = own
        folders = (*((own,) if own else ()), *self.paths.catalogs)
        if folders not in self._catalogs:
            self._catalogs[folders] = load_catalog(folders)
        return self._catalogs[folders]

    def validate(self) -> Validated:
        documents = load_blueprints(self.paths.blueprints)
        return validate(documents, self.catalog_for(documents))

    def plan(self, checked: tuple[Validated, Catalog] | None = None) -> tuple[Plan, Validated]:
        """The plan; `checked` (from _validated()) saves loading and validating again."""
        validated, catalog = checked or self._validated()
        lock = read_lock(self.paths.blueprints)
        return plan(validated.blueprint, lock, catalog), validated

    def _validated(self, use_cache: bool = False) -> tuple[Validated, Catalog]:
        """`use_cache`: a blueprint file whose text is unchanged is not parsed again."""
        if not use_cache:
            documents = load_blueprints(self.paths.blueprints)
        else:
            from avrgen.pipeline.cache import DocumentCache

            parsed = DocumentCache(self.paths.blueprints)
            documents = load_blueprints(self.paths.blueprints, parsed)
            parsed.save()
        catalog = self.catalog_for(documents)
        return validate(documents, catalog), catalog

    def targets(
        self, the_plan: Plan, agents: Sequence[str] = (), target: TargetName | None = None
    ) -> list[Target]:
        """The output folder's files and the lock, as write targets.

        `target` (compose or swarm) overrides the settings' `target:`.
        """
        return self._targets(the_plan, agents, target, check=True)[1]

    def _targets(
        self,
        the_plan: Plan,
        agents: Sequence[str],
        target: TargetName | None,
        check: bool,
        reuse: AgentReuse | None = None,
    ) -> tuple[Renderer, list[Target]]:
        from avrgen.fs.lock import render_lock
        from avrgen.pipeline.render import Renderer
        from avrgen.pipeline.write import Target

        only = set(require_agents(the_plan, agents)) if agents else None
        renderer = Renderer(self.paths.templates, target or the_plan.target)
        files = renderer.render(the_plan, only, check=check, reuse=reuse)
        same = frozenset(reuse.same) if reuse is not None else frozenset()
        output = Target(self.paths.output, files, prune=only is None, same=same)
        lock = Target(self.paths.blueprints, {LOCK_NAME: render_lock(the_plan.lock)}, prune=False)
        return renderer, [output, lock]

    def _reuse(self, the_plan: Plan, target: TargetName | None) -> AgentReuse:
        """The render cache's per-agent reuse (avrgen/cache.py) for this plan."""
        from avrgen.pipeline.cache import AgentReuse

        shared = (the_plan.network, the_plan.swarm)
        return AgentReuse(
            self.paths.output, self.paths.templates, target or the_plan.target, shared
        )

    def render(
        self,
        check: bool = False,
        agents: Sequence[str] = (),
        target: TargetName | None = None,
        wait: bool = True,
        on_wait: Callable[[str], None] | None = None,
        use_cache: bool = False,
    ) -> RenderResult:
        """Write output/ and the lock; with `check`, write nothing and fail when stale.

        Holds the output folder's lock (avrgen/mutex.py) from reading the port lock to the
        last write: a second render waits (`on_wait` hears why) or, without `wait`, fails.
        With `use_cache` (and no `agents`), a render whose inputs and output files are as
        the last one left them is answered from the render cache (avrgen/cache.py); its
        `plan` is then a PlanView (what the CLI prints), so only the CLI asks for it.
        """
        from avrgen.pipeline import cache

        key: str | None = None
        if use_cache and not agents and cache.enabled():
            paths, options = self.paths, {"target": target}
            with mutex.hold(paths.output, wait, on_wait, create=False):
                key = cache.key(
                    paths.blueprints, paths.output, paths.templates, paths.catalogs, options
                )
                hit = None
                if key is not None and paths.output.is_dir():
                    hit = cache.lookup(key, paths.output, paths.lock)
            if hit is not None:
                return RenderResult(hit.plan, [], hit.warnings, checked=check)
        # the blueprints, read once (the mutex guards the lock)
        checked = self._validated(use_cache=key is not None)
        early: _FirstRender | None = None
        if not check and not self.paths.output.exists():
            # a first render writes every file, so all of it is planned, rendered and parsed
            # back here: invalid blueprints, a full port range or a template whose output
            # differs from the plan fail before the output folder is created
            lock = read_lock(self.paths.blueprints)
            the_plan = plan(checked[0].blueprint, lock, checked[1])
            reuse = self._reuse(the_plan, target) if key is not None else None
            renderer, targets = self._targets(the_plan, agents, target, check=True, reuse=reuse)
            early = _FirstRender(lock, the_plan, renderer, targets, reuse)
        with mutex.hold(self.paths.output, wait, on_wait, create=not check):
            result, targets, reuse = self._render(
                check, agents, target, checked, early, use_cache=key is not None
            )
            from avrgen.model.plan import Plan

            if key is not None and isinstance(result.plan, Plan):
                # stored only when the inputs after the render are those hashed before it
                after = cache.key(
                    paths.blueprints, paths.output, paths.templates, paths.catalogs, options
                )
                if after == key:
                    cache.store(
                        key,
                        paths.output,
                        self._settings_catalog,
                        targets[0].files,
                        targets[1].files[LOCK_NAME],
                        result.plan.agents,
                        result.warnings,
                        reuse,
                    )
            return result

    def _render(
        self,
        check: bool,
        agents: Sequence[str],
        target: TargetName | None,
        checked: tuple[Validated, Catalog],
        early: _FirstRender | None = None,
        use_cache: bool = False,
    ) -> tuple[RenderResult, list[Target], AgentReuse | None]:
        from avrgen.pipeline.write import apply, changes, written

        validated, catalog = checked
        lock = read_lock(self.paths.blueprints)
        if early is not None and early.lock == lock:  # rendered before the mutex, same lock
            the_plan, reuse = early.plan, early.reuse
            renderer, targets = early.renderer, early.targets
        else:
            the_plan = plan(validated.blueprint, lock, catalog)
            reuse = self._reuse(the_plan, target) if use_cache else None
            renderer, targets = self._targets(the_plan, agents, target, check=False, reuse=reuse)
        planned = [(target, changes(target)) for target in targets]
        found = [change for _, target_changes in planned for change in target_changes]
        # parse back (render.py) what is about to be written; an unchanged file is not
        renderer.check(written(*planned[0]))
        if check:
            if found:
                lines = "\n".join(f"  {c.action}: {c.path}" for c in found)
                raise StaleOutputError(
                    f"output is stale ({len(found)} file(s)); run `avrgen render`:\n{lines}"
                )
        else:
            for target, target_changes in planned:
                apply(target, target_changes)
        return RenderResult(the_plan, found, validated.warnings, checked=check), targets, reuse

    # -- the lifecycle on a Docker Engine (compose stage: avrgen/compose.py) ----------------

    def up(
        self,
        names: Sequence[str] = (),
        all_agents: bool = False,
        parallel: int = 4,
        secrets_file: Path | None = None,
        render: bool = True,
        timeout: int = 120,
        environ: Mapping[str, str] | None = None,
        progress: Progress | None = None,
        wait: bool = True,
        on_wait: Callable[[str], None] | None = None,
    ) -> UpResult:
        """Render if stale (or refuse, without `render`), check secrets, create the network,
        then `docker compose up --wait` per agent, `parallel` at a time. Holds the output
        folder's lock throughout, as render does: two `up`s on one output take turns."""
        with mutex.hold(self.paths.output, wait, on_wait):
            return self._up(
                names, all_agents, parallel, secrets_file, render, timeout, environ, progress
            )

    def _up(
        self,
        names: Sequence[str],
        all_agents: bool,
        parallel: int,
        secrets_file: Path | None,
        render: bool,
        timeout: int,
        environ: Mapping[str, str] | None,
        progress: Progress | None,
    ) -> UpResult:
        from avrgen.engine.compose import Docker

        the_plan, rendered = self._fresh_plan(names, all_agents, render)
        if the_plan.target != "compose":
            raise ComposeError(
                "the settings' target is swarm: `avrgen deploy` runs these agents on a swarm;"
                " `avrgen up` runs the compose target"
            )
        selected = [the_plan.agents[n] for n in _select(the_plan, names, all_agents)]
        if rendered and progress is not None:
            progress("render", f"output/ was stale: rendered {len(rendered)} changed file(s)")
        docker = Docker(progress)
        secrets, note = _prepare_engine(docker, the_plan, selected, environ, secrets_file)
        results = _each_agent(
            parallel,
            selected,
            lambda agent: docker.up(
                agent,
                self.paths.output / agent.name / "docker-compose.yml",
                secrets.for_agent(agent),
                secrets.redact,
                timeout,
            ),
        )
        return UpResult(rendered, note, results)

    def down(
        self,
        names: Sequence[str] = (),
        all_agents: bool = False,
        network: bool = False,
        orphans: bool = False,
    ) -> DownResult:
        """Stop and remove agents' containers (found by labels); `orphans`: those of agents
        no longer in the blueprints; `network`: remove the shared network when unused."""
        from avrgen.engine.compose import Docker, role_key

        the_plan = self._plan_or_none(required=all_agents or orphans or network)
        docker = Docker()
        docker.check(compose=False)
        chosen = self._known(the_plan, docker, names) if names else []
        if all_agents and the_plan is not None:
            chosen = list(dict.fromkeys([*chosen, *the_plan.agents]))
        if not (chosen or orphans or network):
            raise AvrgenError("name an agent, or use --all / --orphans / --network")
        statuses = docker.containers(chosen) if chosen else []
        if orphans and the_plan is not None:
            statuses += [s for s in docker.containers() if _orphan(s, the_plan)]
        statuses = sorted({s.id: s for s in statuses}.values(), key=role_key)
        docker.remove(statuses)
        note = None
        if network and the_plan is not None:
            note = _remove_network_if_unused(docker, the_plan.network.name)
        return DownResult(chosen, statuses, note)

    def ps(self, names: Sequence[str] = ()) -> list[ContainerStatus]:
        """Containers of the named agents; without names, every avrgen container on the
        blueprints' network (all of them when the blueprints cannot be read). With names,
        planned containers that do not exist are listed as `absent`."""
        from avrgen.engine.compose import Docker, absent, role_key

        the_plan = self._plan_or_none()
        docker = Docker()
        docker.check(compose=False)
        chosen = self._known(the_plan, docker, names) if names else None
        found = docker.containers(chosen)
        if the_plan is not None:
            if chosen is None:  # the blueprints' agents, on the network or not (it may be gone)
                network = the_plan.network.name
                found = [s for s in found if network in s.networks or s.agent in the_plan.agents]
            found = [replace(s, orphan=s.agent not in the_plan.agents) for s in found]
            existing = {s.name for s in found}
            for name in chosen or ():
                agent = the_plan.agents.get(name)
                for container in agent.containers if agent else ():
                    if container.name not in existing:
                        found.append(absent(name, container))
        return sorted(found, key=role_key)

    def logs(
        self, name: str, role: str | None = None, follow: bool = False, tail: int | None = None
    ) -> Iterator[LogLine]:
        """Log lines of an agent's containers (or of one role), merged by time."""
        from avrgen.engine.compose import Docker

        docker = Docker()
        docker.check(compose=False)
        self._known(self._plan_or_none(), docker, [name])
        statuses = docker.containers([name])
        if not statuses:
            raise ComposeError(f"agent {name!r} has no containers; `avrgen up {name}` starts it")
        if role is not None:
            roles = sorted({s.role for s in statuses})
            statuses = [s for s in statuses if s.role == role]
            if not statuses:
                raise ComposeError(
                    f"agent {name!r} has no container with role {role!r} (roles: "
                    f"{', '.join(roles)})"
                )
        return docker.logs(statuses, follow, tail)

    def restart(
        self,
        names: Sequence[str] = (),
        all_agents: bool = False,
        timeout: int = 120,
        progress: Progress | None = None,
    ) -> list[ContainerStatus]:
        """Restart agents' containers and wait until they run (healthy where checked)."""
        from avrgen.engine.compose import Docker

        the_plan = self._plan_or_none(required=all_agents)
        docker = Docker(progress)
        docker.check(compose=False)
        chosen = self._known(the_plan, docker, names) if names else []
        if all_agents and the_plan is not None:
            chosen = list(dict.fromkeys([*chosen, *the_plan.agents]))
        if not chosen:
            raise AvrgenError("name an agent, or use --all")
        result: list[ContainerStatus] = []
        for name in chosen:
            statuses = docker.containers([name])
            if not statuses:
                raise ComposeError(
                    f"agent {name!r} has no containers; `avrgen up {name}` starts it"
                )
            docker.say(name, f"restarting {len(statuses)} container(s)")
            docker.restart(statuses)
            result += docker.wait_ready(name, timeout)
            docker.say(name, "restarted")
        return result

    # -- the swarm target (swarm stage: avrgen/stack.py) -------------------------------------

    def deploy(
        self,
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

        the_plan, rendered = self._fresh_plan(names, all_agents, render, target="swarm")
        selected = [the_plan.agents[n] for n in _select(the_plan, names, all_agents)]
        swarm = Swarm(progress)
        secrets, note = _prepare_engine(swarm, the_plan, selected, environ, secrets_file)
        results = _each_agent(
            parallel,
            selected,
            lambda agent: swarm.deploy(
                agent,
                self.paths.output / agent.name / STACK_FILE,
                secrets.for_agent(agent),
                secrets.redact,
                timeout,
                resolve_image,
            ),
        )
        return DeployResult(rendered, note, results)

    def undeploy(
        self,
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

        the_plan = self._plan_or_none(required=all_agents or orphans or network)
        swarm = Swarm(progress)
        swarm.check()
        deployed = swarm.deployed_agents()
        planned = set(the_plan.agents) if the_plan is not None else set()
        for name in names:
            if name not in planned | deployed:
                raise AvrgenError(f"no agent named {name!r}{suggest(name, planned | deployed)}")
        chosen = list(dict.fromkeys(names))
        if all_agents:
            chosen = list(dict.fromkeys([*chosen, *sorted(planned)]))
        if orphans:
            chosen += sorted(deployed - planned - set(chosen))
        if not (chosen or network):
            raise AvrgenError("name an agent, or use --all / --orphans / --network")
        removed = swarm.undeploy(chosen)
        note = None
        if network and the_plan is not None:
            note = _remove_network_if_unused(swarm, the_plan.network.name)
        return UndeployResult(chosen, removed, note)

    def target(self) -> TargetName:
        """The settings' target (compose when the blueprints cannot be read): what `ps` shows."""
        the_plan = self._plan_or_none()
        return the_plan.target if the_plan is not None else "compose"

    def tasks(self, names: Sequence[str] = ()) -> list[TaskStatus]:
        """The swarm tasks of the named agents (of every avrgen agent without names): the
        newest task of each service, with its node, state and error; planned services that
        are not deployed are listed with desired state `absent`."""
        from avrgen.engine.swarm import Swarm, TaskStatus

        the_plan = self._plan_or_none()
        swarm = Swarm()
        swarm.check()
        found = swarm.tasks(list(names) if names else None)
        if the_plan is not None:
            found = [replace(t, orphan=t.agent not in the_plan.agents) for t in found]
            services = {t.service for t in found}
            for name in names or (the_plan.agents if the_plan.target == "swarm" else ()):
                agent = the_plan.agents.get(name)
                for c in agent.containers if agent else ():
                    service = f"{agent.project}_{c.role}"
                    if service not in services:
                        found.append(TaskStatus(name, service, c.role, "", "absent", "-"))
            for name in names:
                if name not in the_plan.agents and not any(t.agent == name for t in found):
                    raise AvrgenError(f"no agent named {name!r}{suggest(name, the_plan.agents)}")
        return sorted(found, key=lambda t: (t.agent, t.service))

    def _fresh_plan(
        self,
        names: Sequence[str],
        all_agents: bool,
        render: bool,
        target: TargetName | None = None,
    ) -> tuple[Plan, list[Change]]:
        """The plan, with output/ rendered when stale (or an error, without `render`)."""
        from avrgen.model.plan import Plan

        agents = () if all_agents else names
        if render:
            result = self.render(agents=agents, target=target)
            assert isinstance(result.plan, Plan)  # no use_cache: always the full plan
            return result.plan, result.changes
        try:
            result = self.render(check=True, agents=agents, target=target)
        except StaleOutputError as exc:
            raise StaleOutputError(
                f"{exc}\n--no-render: refusing to start agents from stale output"
            ) from None
        assert isinstance(result.plan, Plan)
        return result.plan, []

    def _plan_or_none(self, required: bool = False) -> Plan | None:
        """The plan; None when the blueprints cannot be read (ps/down/logs still work)."""
        try:
            return self.plan()[0]
        except AvrgenError:
            if required:
                raise
            return None

    @staticmethod
    def _known(the_plan: Plan | None, docker: Docker, names: Sequence[str]) -> list[str]:
        """Names of agents in the blueprints or with containers; else the nearest match."""
        planned = set(the_plan.agents) if the_plan is not None else set()
        running: set[str] | None = None
        for name in names:
            if name in planned:
                continue
            if running is None:
                running = {s.agent for s in docker.containers()}
            if name not in running:
                raise AvrgenError(f"no agent named {name!r}{suggest(name, planned | running)}")
        return list(dict.fromkeys(names))


@dataclass
class UpResult:
    rendered: list[Change]  # files `up` rendered first (output/ was stale)
    network: str | None  # a note about the shared network (created, other subnet)
    agents: list[AgentUp]

    @property
    def failed(self) -> list[AgentUp]:
        return [a for a in self.agents if a.status == "failed"]


@dataclass
class DownResult:
    agents: list[str]
    removed: list[ContainerStatus]
    network: str | None  # what happened to the shared network with --network


def _orphan(status: ContainerStatus, the_plan: Plan) -> bool:
    """A container of this blueprint set (on its network) whose agent is gone from it."""
    return status.agent not in the_plan.agents and the_plan.network.name in status.networks


def _remove_network_if_unused(engine: Docker | Swarm, name: str) -> str:
    """Remove the shared network unless something still uses it; say what happened."""
    users = engine.network_users(name)
    if users is None:
        return f"network {name} does not exist"
    if users:
        return f"network {name} kept: used by {', '.join(users)}"
    engine.remove_network(name)
    return f"removed network {name}"


def _prepare_engine(
    engine: Docker | Swarm,
    the_plan: Plan,
    selected: Sequence[AgentPlan],
    environ: Mapping[str, str] | None,
    secrets_file: Path | None,
) -> tuple[Secrets, str | None]:
    """Secrets first (a missing one fails before the engine is touched), then the engine,
    then the shared network; returns the secrets and any note about the network."""
    secrets = resolve_secrets(selected, os.environ if environ is None else environ, secrets_file)
    engine.check()
    note = engine.ensure_network(the_plan.network)
    if note:
        engine.say("network", note)
    return secrets, note


def _each_agent(
    parallel: int, agents: Sequence[AgentPlan], run: Callable[[AgentPlan], R]
) -> list[R]:
    """`run` for every agent, `parallel` at a time; results in the agents' order."""
    from concurrent.futures import ThreadPoolExecutor  # only here: render need not import it

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(run, agents))


def _select(the_plan: Plan, names: Sequence[str], all_agents: bool) -> list[str]:
    if all_agents:
        if not the_plan.agents:
            raise AvrgenError("--all: the blueprints define no agent")
        return list(the_plan.agents)
    if not names:
        raise AvrgenError("name an agent, or use --all")
    return require_agents(the_plan, names)


def require_agents(the_plan: Plan, names: Sequence[str]) -> list[str]:
    """The named agents, or an error naming the unknown one and its nearest match."""
    for name in names:
        if name not in the_plan.agents:
            raise AvrgenError(f"no agent named {name!r}{suggest(name, the_plan.agents)}")
    return list(dict.fromkeys(names))
