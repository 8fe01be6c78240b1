"""`avrgen render`: the blueprints through every stage into output/ and the lock, under the
output folder's mutex, answered from the render cache when nothing changed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from avrgen.app.environments import environment_names
from avrgen.app.project import Project
from avrgen.errors import Problem, StaleOutputError
from avrgen.fs import mutex
from avrgen.fs.lock import LOCK_NAME

if TYPE_CHECKING:
    from avrgen.model.blueprint import Target as TargetName
    from avrgen.model.catalog import Catalog
    from avrgen.model.endpoint import Endpoint
    from avrgen.model.plan import Lock, Plan
    from avrgen.pipeline.cache import AgentReuse, AgentView, Hit, PlanView
    from avrgen.pipeline.render import Renderer
    from avrgen.pipeline.validate import Validated
    from avrgen.pipeline.write import Change, Target


@dataclass
class RenderResult:
    plan: Plan | PlanView  # PlanView: from the render cache (what the CLI prints of a plan)
    changes: list[Change]
    warnings: list[Problem] = field(default_factory=list)
    checked: bool = False  # --check: nothing was written
    # the caller's text of the plan (`summary` of render()), made or given back by the cache
    summary: str | None = None


@dataclass(frozen=True)
class _FirstRender:
    """A first render, planned, rendered and parsed back before the output folder exists,
    and the lock it was planned with."""

    lock: Lock
    locked_set: str
    plan: Plan
    renderer: Renderer
    targets: list[Target]
    reuse: AgentReuse | None


@dataclass(frozen=True)
class _Rendered:
    result: RenderResult
    targets: list[Target]
    reuse: AgentReuse | None


def render(
    project: Project,
    check: bool = False,
    agents: Sequence[str] = (),
    target: TargetName | None = None,
    wait: bool = True,
    on_wait: Callable[[str], None] | None = None,
    use_cache: bool = False,
    summary: Callable[[Plan | PlanView], str] | None = None,
) -> RenderResult:
    """Write output/ and the lock; with `check`, write nothing and fail when stale.

    Holds the blueprint set's lock (on its folder: the port lock is the set's, whatever
    the output folder) throughout, and the output folder's (avrgen/fs/mutex.py) from reading
    the port lock to the last write: a second render of the same set, into any output
    folder, waits (`on_wait` hears why) or, without `wait`, fails.
    With `use_cache` (and no `agents`), a render whose inputs and output files are as the
    last one left them is answered from the render cache (avrgen/pipeline/cache.py); its
    `plan` is then a PlanView (what the CLI prints), so only the CLI asks for it.
    `summary`: text the caller makes of a plan (the CLI: its table), for a render that uses
    the cache: made after a full render and stored, given back by a hit (result.summary).
    """
    with mutex.hold(project.paths.blueprints, wait, on_wait, create=False):
        return _render_set(project, check, agents, target, wait, on_wait, use_cache, summary)


def _render_set(
    project: Project,
    check: bool,
    agents: Sequence[str],
    target: TargetName | None,
    wait: bool,
    on_wait: Callable[[str], None] | None,
    use_cache: bool,
    summary: Callable[[Plan | PlanView], str] | None,
) -> RenderResult:
    from avrgen.pipeline import cache

    since = cache.clock()  # before any output file is read: see cache.settled()
    paths = project.paths

    def cache_key() -> str | None:
        return _cache_key(project, target)

    key: str | None = None
    if use_cache and not agents and cache.enabled():
        with mutex.hold(paths.output, wait, on_wait, create=False):
            key = cache_key()
            hit = None
            if key is not None and paths.output.is_dir():
                hit = cache.lookup(key, paths.output, paths.lock)
                if hit is not None and summary is not None and hit.summary is None:
                    # stored by a render that asked for none (`up`): made once, and kept
                    hit = cache.with_summary(hit, key, paths.output, summary(hit.plan))
        if hit is not None:
            return RenderResult(hit.plan, [], hit.warnings, checked=check, summary=hit.summary)
    # the blueprints, read once (the mutex guards the lock)
    checked = project.validated(use_cache=key is not None)
    early: _FirstRender | None = None
    if not check and not paths.output.exists():
        # a first render writes every file, so all of it is planned, rendered and parsed
        # back here: invalid blueprints, a full port range or a template whose output
        # differs from the plan fail before the output folder is created
        early = _first_render(project, checked, agents, target, use_cache=key is not None)
    with mutex.hold(paths.output, wait, on_wait, create=not check):
        done = _render(project, check, agents, target, checked, early, use_cache=key is not None)
        from avrgen.model.endpoint import endpoints
        from avrgen.model.plan import Plan

        # stored only when the inputs after the render are those hashed before it
        if key is not None and isinstance(done.result.plan, Plan):
            if summary is not None:
                done.result.summary = summary(done.result.plan)
            if cache_key() != key:
                return done.result
            output, lock = done.targets
            the_plan = done.result.plan
            cache.store(
                key,
                paths.output,
                project.settings_catalog,
                output.files,
                lock.files[LOCK_NAME],
                the_plan.agents,
                done.result.warnings,
                done.reuse,
                since,
                done.result.summary,
                cache.SetView(
                    the_plan.set_id,
                    the_plan.network.name,
                    the_plan.target,
                    endpoints(the_plan.hosts),
                ),
            )
        return done.result


def _cache_key(project: Project, target: TargetName | None) -> str | None:
    """The render cache's key of a render of `project` (None when an input is unreadable)."""
    from avrgen.pipeline import cache

    paths = project.paths
    options: dict[str, object] = {"target": target}
    if paths.environment is None:  # their names are validated against the base's agents
        options["environments"] = environment_names(paths)
    return cache.key(
        paths.blueprints, paths.output, paths.templates, paths.catalogs, options, paths.overlay
    )


def rendered_as_is(project: Project) -> bool:
    """output/ holds what `avrgen render` of the blueprints writes, as the render cache
    recorded it (a lookup that hits: every input and output file as the last render left
    them); False when the cache is off or cannot tell."""
    return _as_rendered(project) is not None


@dataclass(frozen=True)
class RecordedSet:
    """What the last render recorded of its plan, read back when output/ is still exactly
    what the blueprints render (rendered_as_is): enough for `ps` without reading them."""

    set_id: str
    network: str
    target: TargetName
    hosts: dict[str, Endpoint]  # the settings' `hosts` ({}: every agent on the default engine)
    agents: dict[str, AgentView]  # by name, each with its host and containers


def recorded_set(project: Project) -> RecordedSet | None:
    """The RecordedSet of the last render, when output/ is as it left it; else None."""
    hit = _as_rendered(project)
    view = hit.set_view if hit is not None else None
    if hit is None or view is None or view.target not in ("compose", "swarm"):
        return None
    target: TargetName = "swarm" if view.target == "swarm" else "compose"
    return RecordedSet(view.set_id, view.network, target, view.hosts, hit.plan.agents)


def _as_rendered(project: Project) -> Hit | None:
    from avrgen.pipeline import cache

    paths = project.paths
    if not cache.enabled() or not paths.output.is_dir():
        return None
    key = _cache_key(project, None)
    return cache.lookup(key, paths.output, paths.lock) if key is not None else None


def _first_render(
    project: Project,
    checked: tuple[Validated, Catalog],
    agents: Sequence[str],
    target: TargetName | None,
    use_cache: bool,
) -> _FirstRender:
    from avrgen.pipeline.plan import plan

    lock, locked_set = project.port_lock(), project.locked_set()
    the_plan = plan(checked[0].blueprint, lock, checked[1], locked_set)
    reuse = project.reuse(the_plan, target) if use_cache else None
    renderer, targets = project.render_targets(the_plan, agents, target, check=True, reuse=reuse)
    return _FirstRender(lock, locked_set, the_plan, renderer, targets, reuse)


def _render(
    project: Project,
    check: bool,
    agents: Sequence[str],
    target: TargetName | None,
    checked: tuple[Validated, Catalog],
    early: _FirstRender | None,
    use_cache: bool,
) -> _Rendered:
    from avrgen.pipeline.plan import plan
    from avrgen.pipeline.write import apply, changes, written

    validated, catalog = checked
    lock, locked_set = project.port_lock(), project.locked_set()
    if early is not None and (early.lock, early.locked_set) == (lock, locked_set):
        # rendered before the mutex, with the same lock
        the_plan, reuse = early.plan, early.reuse
        renderer, targets = early.renderer, early.targets
    else:
        the_plan = plan(validated.blueprint, lock, catalog, locked_set)
        reuse = project.reuse(the_plan, target) if use_cache else None
        renderer, targets = project.render_targets(
            the_plan, agents, target, check=False, reuse=reuse
        )
    planned = [(each, changes(each)) for each in targets]
    found = [change for _, each_changes in planned for change in each_changes]
    # parse back (render.py) what is about to be written; an unchanged file is not
    renderer.check(written(*planned[0]))
    if check:
        if found:
            lines = "\n".join(f"  {c.action}: {c.path}" for c in found)
            raise StaleOutputError(
                f"output is stale ({len(found)} file(s)); run `avrgen render`:\n{lines}"
            )
    else:
        for each, each_changes in planned:
            apply(each, each_changes)
    return _Rendered(RenderResult(the_plan, found, validated.warnings, check), targets, reuse)


def fresh_plan(
    project: Project,
    names: Sequence[str],
    all_agents: bool,
    render_stale: bool,
    target: TargetName | None = None,
) -> tuple[Plan, list[Change]]:
    """The plan, with output/ rendered when stale (or an error, without `render_stale`).
    Through the render cache, as `avrgen render` runs: output/ as the last render left it
    is not rendered again, and of several agents only the changed ones are rendered."""
    from avrgen.model.plan import Plan

    agents = () if all_agents else names
    if render_stale:
        result = render(project, agents=agents, target=target, use_cache=True)
    else:
        try:
            result = render(project, check=True, agents=agents, target=target, use_cache=True)
        except StaleOutputError as exc:
            raise StaleOutputError(
                f"{exc}\n--no-render: refusing to start agents from stale output"
            ) from None
    if not isinstance(result.plan, Plan):  # the cache's answer: output/ is what they render
        return project.plan()[0], []
    return result.plan, result.changes if render_stale else []
