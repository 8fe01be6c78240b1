"""`history` and `rollback`: the releases avrgen/app/releases.py recorded, what each
changed, and an agent brought back to one of them (its own files, its images by id or
digest), recorded as a new release, as Helm does."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from avrgen.app.releases import Recorder, agent_files, bring_back, release_agent
from avrgen.errors import AvrgenError, ComposeError
from avrgen.fs.releases import FILES, IMAGES_FILE, ReleaseStore
from avrgen.model.output import STACK_FILE
from avrgen.model.release import Release, images

if TYPE_CHECKING:
    from avrgen.app.project import Project
    from avrgen.engine.compose import AgentUp, Docker, Progress
    from avrgen.engine.secrets import Secrets
    from avrgen.engine.swarm import AgentDeploy


@dataclass(frozen=True)
class ReleaseChanges:
    """What a release changed relative to the one before it (all of it, for the first)."""

    files_added: tuple[str, ...] = ()
    files_removed: tuple[str, ...] = ()
    files_changed: tuple[str, ...] = ()
    images: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)  # role
    env_added: dict[str, tuple[str, ...]] = field(default_factory=dict)  # role -> keys
    env_removed: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryEntry:
    release: Release
    changes: ReleaseChanges  # relative to release `previous` (everything, when None)
    previous: int | None = None


@dataclass(frozen=True)
class RollbackResult:
    agent: str
    to: Release  # the release brought back
    up: AgentUp | AgentDeploy  # compose's outcome, or the swarm's (a release of `deploy`)
    recorded: Release | None  # the new release it was recorded as (None: the same as latest)


def store_of(project: Project) -> ReleaseStore:
    """The project's blueprint set's releases (its id from the plan, or else its lock)."""
    from avrgen.app.sets import scope_of

    return ReleaseStore(project.paths.state_dir, scope_of(project, project.plan_or_none()).set_id)


def history(project: Project, agent: str | None = None) -> list[HistoryEntry]:
    """Every release of `agent` (of every agent without one), oldest first, each with what
    it changed relative to the agent's release before it."""
    store = store_of(project)
    agents = [agent] if agent is not None else store.agents()
    entries = []
    for name in agents:
        releases = store.releases(name)
        if agent is not None and not releases:
            raise AvrgenError(no_releases(store, name))
        previous: Release | None = None
        for release in releases:
            number = previous.number if previous is not None else None
            entries.append(HistoryEntry(release, changes(previous, release), number))
            previous = release
    return entries


def changes(before: Release | None, after: Release) -> ReleaseChanges:
    """What `after` changed relative to `before` (everything, when there is none)."""
    old_files = before.files if before is not None else {}
    old_images = images(before) if before is not None else {}
    old_keys = env_keys(before) if before is not None else {}
    new_keys = env_keys(after)
    return ReleaseChanges(
        files_added=tuple(sorted(after.files.keys() - old_files.keys())),
        files_removed=tuple(sorted(old_files.keys() - after.files.keys())),
        files_changed=tuple(
            sorted(
                p for p in after.files.keys() & old_files.keys() if after.files[p] != old_files[p]
            )
        ),
        images={
            role: (old_images.get(role), images(after).get(role))
            for role in sorted(old_images.keys() | images(after).keys())
            if old_images.get(role) != images(after).get(role)
        },
        env_added={
            role: added
            for role, keys in new_keys.items()
            if (added := tuple(sorted(set(keys) - set(old_keys.get(role, ())))))
        },
        env_removed={
            role: removed
            for role, keys in old_keys.items()
            if (removed := tuple(sorted(set(keys) - set(new_keys.get(role, ())))))
        },
    )


def env_keys(release: Release) -> dict[str, tuple[str, ...]]:
    return {c.role: c.env_keys for c in release.containers}


def no_releases(store: ReleaseStore, agent: str) -> str:
    return (
        f"agent {agent!r} has no releases in {store.root} (`avrgen up {agent}` records one; "
        "--state or AVRGEN_STATE names another state folder)"
    )


def rollback(
    project: Project,
    agent: str,
    to: int | None = None,
    secrets_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: int = 120,
    progress: Progress | None = None,
) -> RollbackResult:
    """Bring `agent` back to release `to` (default: the one before its latest): that
    release's files, its images by id or digest; then record what runs as a new release.
    Touches neither output/ nor any other agent."""
    import os

    from avrgen.app.mounts import check_host_paths
    from avrgen.engine.images import running_images
    from avrgen.engine.secrets import resolve_secrets

    store = store_of(project)
    numbers = store.numbers(agent)
    if not numbers:
        raise AvrgenError(no_releases(store, agent))
    if to is None:
        if len(numbers) < 2:
            raise AvrgenError(
                f"agent {agent!r} has one release ({numbers[0]}): none before it to roll back "
                f"to (`--to {numbers[0]}` brings that one back)"
            )
        to = numbers[-2]
    release = store.release(agent, to)
    with project.set_lock(progress):
        target = release_agent(release)
        environ = os.environ if environ is None else environ
        secrets = resolve_secrets([target], environ, secrets_file)
        # key files' host paths (secrets) made absolute and checked, as `up` does
        secrets = check_host_paths([target], project.paths.blueprints, secrets)
        if release.target == "swarm":
            return _roll_back_stack(project, store, release, secrets, timeout, progress)
        docker = engine_for(project, release, progress)
        docker.check()
        # what avrgen did not create, or another set's containers, hold its names
        docker.claim([target], take_over=False)
        docker.say(agent, f"rolling back to release {release.number} ({release.created})")
        with docker.interrupts():
            outcome = bring_back(docker, store, release, secrets, timeout)
        if outcome.status == "failed" or docker.interruption.signal is not None:
            raise ComposeError(outcome.error or f"agent {agent!r}: rollback interrupted")
        recorder = Recorder(store, project.paths.blueprints)
        files = agent_files(store.folder(agent, release.number), FILES)
        runs = running_images(docker, agent)
        recorded = recorder.record(release, files, runs, f"rollback to {release.number}")
        if recorded is not None:
            docker.say(agent, f"recorded release {recorded.number}")
        return RollbackResult(agent, release, outcome, recorded)


def _roll_back_stack(
    project: Project,
    store: ReleaseStore,
    release: Release,
    secrets: Secrets,
    timeout: int,
    progress: Progress | None,
) -> RollbackResult:
    """A release `deploy` recorded: `docker stack deploy` of its own stack file with its
    images pinned over it, on this set's swarm; then what runs recorded."""
    from avrgen.app.sets import scope_of
    from avrgen.engine.swarm import Swarm

    agent, target = release.agent, release_agent(release)
    swarm = Swarm(progress, scope_of(project, project.plan_or_none()))
    swarm.check()
    swarm.claim([target], take_over=False)  # services not avrgen's, or another set's, in its stack
    swarm.say(agent, f"rolling back to release {release.number} ({release.created})")
    folder = store.folder(agent, release.number)
    stack_file, images = folder / FILES / STACK_FILE, folder / IMAGES_FILE
    outcome = swarm.deploy(target, stack_file, secrets, timeout, "never", [images])
    if outcome.status == "failed":
        raise ComposeError(outcome.error or f"agent {agent!r}: rollback failed")
    recorder = Recorder(store, project.paths.blueprints)
    files = agent_files(folder, FILES)
    recorded = recorder.record(release, files, swarm.images(agent), f"rollback to {release.number}")
    if recorded is not None:
        swarm.say(agent, f"recorded release {recorded.number}")
    return RollbackResult(agent, release, outcome, recorded)


def engine_for(project: Project, release: Release, progress: Progress | None) -> Docker:
    """The engine that ran `release`: the default one, or its host as the settings name it
    now (a host no longer in them is an error: avrgen cannot know where it was)."""
    from avrgen.app.sets import scope_of
    from avrgen.engine.compose import Docker

    if release.host is None:
        return Docker(progress, scope=scope_of(project, project.plan_or_none()))
    from avrgen.app.hosts import engine_on

    the_plan = project.plan()[0]
    if release.host not in the_plan.hosts:
        raise AvrgenError(
            f"release {release.number} of {release.agent!r} ran on host {release.host!r}, "
            f"which the settings' hosts no longer name; add it back to roll back"
        )
    return engine_on(the_plan, release.host, progress)
