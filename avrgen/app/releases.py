"""Releases: what `up` records after it changed an agent, and `up --atomic` (an agent
that failed to come up is brought back to its last release); `history` and `rollback`
are avrgen/app/history.py.

A release is recorded when an agent came up and what it runs (its rendered files, the
image id of each container) differs from its latest release: the first `up`, a changed
blueprint, a moved tag. The store is avrgen/fs/releases.py; a rollback runs the release's
own files (never output/, which stays the blueprints' version) with each image pinned by
id or digest (its `images.yml`), then records what runs as a new release, as Helm does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from avrgen.errors import AvrgenError
from avrgen.fs.files import read_regular
from avrgen.fs.releases import FILES, IMAGES_FILE, ReleaseStore
from avrgen.fs.revision import blueprint_revision
from avrgen.model.blueprint import Secret
from avrgen.model.mounts import Mount
from avrgen.model.output import COMPOSE_FILE
from avrgen.model.plan import AgentPlan, Container
from avrgen.model.release import ContainerRecord, ImageRun, Release, Revision

if TYPE_CHECKING:
    from avrgen.app.project import Project
    from avrgen.app.running import Claimed
    from avrgen.engine.compose import AgentUp, Docker
    from avrgen.engine.secrets import Secrets


# -- recording -------------------------------------------------------------------------------


def agent_files(output: Path, agent: str) -> dict[str, bytes]:
    """Every regular file under output/<agent>/ (path relative to it -> bytes)."""
    folder = output / agent
    found: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
        data = None if path.is_symlink() else read_regular(path.as_posix())
        if data is not None:  # a regular file (render writes nothing else)
            found[path.relative_to(folder).as_posix()] = data
    return found


def digest(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def container_records(
    containers: Sequence[ContainerRecord | Container], runs: Sequence[ImageRun]
) -> tuple[ContainerRecord, ...] | None:
    """Each container with the image it runs; None when one of them does not run."""
    by_role = {run.role: run for run in runs}
    records = []
    for c in containers:
        run = by_role.get(c.role)
        if run is None:
            return None
        if isinstance(c, ContainerRecord):
            records.append(
                c.model_copy(update={"image_id": run.image_id, "repo_digests": run.repo_digests})
            )
            continue
        records.append(
            ContainerRecord(
                role=c.role,
                name=c.name,
                image=c.image,
                image_id=run.image_id,
                repo_digests=run.repo_digests,
                port=c.port,
                http_port=c.http_port,
                published=c.published,
                host_ip=c.host_ip,
                env_keys=tuple(sorted({k for k, _ in c.env})),
                secrets=c.secret_env,
                key_files=tuple((m.target, m.secret) for m in c.key_files if m.secret),
            )
        )
    return tuple(records)


def images_override(containers: Sequence[ContainerRecord]) -> bytes:
    """The compose override that runs each service's image by content, not by tag."""
    lines = ["# Written by avrgen: each image of this release by id or digest.", "services:"]
    for c in containers:
        lines += [f"  {json.dumps(c.role)}:", f"    image: {json.dumps(c.pinned)}"]
    return ("\n".join(lines) + "\n").encode("utf-8")


@dataclass
class Recorder:
    """Records releases for one `up` (or rollback): the store, the blueprints' revision
    (asked of git once, when first needed)."""

    store: ReleaseStore
    blueprints: Path
    _revision: list[Revision | None] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)  # `up`'s threads

    def revision(self) -> Revision | None:
        if not self._revision:
            self._revision.append(blueprint_revision(self.blueprints))
        return self._revision[0]

    def record(
        self,
        agent: AgentPlan | Release,
        files: Mapping[str, bytes],
        runs: Sequence[ImageRun],
        origin: str,
        environment: str | None = None,
        target: str = "compose",
    ) -> Release | None:
        """A new release when what runs differs from the latest; None when it is the same
        (or a container does not run: nothing whole to record)."""
        containers = container_records(agent.containers, runs)
        if containers is None:
            return None
        name = agent.name if isinstance(agent, AgentPlan) else agent.agent
        agent_id = agent.id if isinstance(agent, AgentPlan) else agent.agent_id
        host = agent.host
        hashes = {path: digest(data) for path, data in sorted(files.items())}
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        def make(number: int) -> Release:
            return Release(
                agent=name,
                number=number,
                created=created,
                origin=origin,
                # a rollback's is the revision of the release it brings back
                revision=self.revision() if isinstance(agent, AgentPlan) else agent.revision,
                agent_id=agent_id,
                mode=agent.mode,
                tenant=agent.tenant,
                host=host,
                # a rollback's is the environment of the release it brings back
                environment=environment if isinstance(agent, AgentPlan) else agent.environment,
                target=target if isinstance(agent, AgentPlan) else agent.target,
                files=hashes,
                containers=containers,
            )

        with self._lock, self.store.locked():
            latest = self.store.latest(name)
            if latest is not None and latest.same_run(make(latest.number)):
                return None
            return self.store.record(name, make, files, images_override(containers))


def not_recorded(store: ReleaseStore, agent: str, exc: OSError | AvrgenError) -> str:
    """The error of an agent that runs but whose release could not be written."""
    reason = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) else exc
    return (
        f"agent {agent!r} runs, but its release was not recorded in {store.root}: {reason} "
        "(`--state` names another folder)"
    )


@dataclass(frozen=True)
class Recorded:
    """What recording a release after a start gave."""

    number: int | None = None  # the new release; None when nothing changed since the latest
    error: str | None = None  # why none could be written (the agent runs, with no way back)


def record_started(
    recorder: Recorder,
    say: Callable[[str, str], None],
    agent: AgentPlan,
    output: Path,
    command: str,
    environment: str | None,
    images: Callable[[], Sequence[ImageRun]],
    target: str = "compose",
) -> Recorded:
    """After `command` (up, deploy) started `agent`: a release of its rendered files and
    the images it runs (`images`, asked only now) when they changed; `say` tells which."""
    try:
        files = agent_files(output, agent.name)
        origin = f"{command} -e {environment}" if environment else command
        release = recorder.record(agent, files, images(), origin, environment, target=target)
    except (OSError, AvrgenError) as exc:  # it runs, but there is no way back to it
        say(agent.name, "its release was not recorded")
        return Recorded(error=not_recorded(recorder.store, agent.name, exc))
    if release is None:
        return Recorded()
    say(agent.name, f"recorded release {release.number}")
    return Recorded(number=release.number)


# -- during `up` ----------------------------------------------------------------------------


class Releasing:
    """`up`'s start of one agent on an engine (`run`: engine, agent, secrets, what the
    claim read -> AgentUp),
    then: a release when it came up changed; with `atomic`, an agent that failed brought
    back to its latest release (without one, its containers removed), its error saying so.
    Called in `up`'s threads, on every host; `recorded` is each agent's new release."""

    def __init__(
        self,
        project: Project,
        set_id: str | None,
        run: Callable[[Docker, AgentPlan, Secrets, Claimed], AgentUp],
        atomic: bool = False,
        timeout: int = 120,
    ) -> None:
        store = ReleaseStore(project.paths.state_dir, set_id)
        self.recorder = Recorder(store, project.paths.blueprints)
        self.output = project.paths.output
        self.environment = project.paths.environment
        self.run = run
        self.atomic = atomic
        self.timeout = timeout
        self.recorded: dict[str, int] = {}

    def __call__(
        self, docker: Docker, agent: AgentPlan, secrets: Secrets, claimed: Claimed = None
    ) -> AgentUp:
        from avrgen.engine.images import running_images

        result = self.run(docker, agent, secrets, claimed)
        # unchanged: nothing was created or replaced, so its latest release still says what
        # runs (asking the engine for its images again cost two docker calls an agent)
        recorded = result.status == "unchanged" and bool(self.recorder.store.numbers(agent.name))
        if result.status in ("started", "unchanged") and not recorded:
            done = record_started(
                self.recorder,
                docker.say,
                agent,
                self.output,
                "up",
                self.environment,
                lambda: running_images(docker, agent.name),
            )
            if done.error is not None:
                return replace(result, status="failed", error=done.error)
            if done.number is not None:
                self.recorded[agent.name] = done.number
        elif result.status == "failed" and self.atomic:
            note = self.restore_latest(docker, agent, secrets)
            result = replace(result, error=f"{result.error or agent.name}\n  --atomic: {note}")
        return result

    def restore_latest(self, docker: Docker, agent: AgentPlan, secrets: Secrets) -> str:
        """The failed agent's latest release brought back, or without one its containers
        removed (as Helm's --atomic purges a failed first install); says which."""
        store = self.recorder.store
        latest = store.latest(agent.name)
        if latest is None:
            statuses = docker.containers([agent.name])
            docker.remove(statuses)
            docker.say(agent.name, "--atomic: no earlier release, its containers removed")
            return (
                f"no earlier release of {agent.name!r} to go back to: its "
                f"{len(statuses)} container(s) removed"
            )
        docker.say(agent.name, f"--atomic: rolling back to release {latest.number}")
        outcome = bring_back(docker, store, latest, secrets, self.timeout)
        if outcome.status == "failed":
            return f"rolling back to release {latest.number} failed too:\n{outcome.error}"
        return f"rolled back to release {latest.number} (of {latest.created}), which runs again"


def bring_back(
    docker: Docker, store: ReleaseStore, release: Release, secrets: Secrets, timeout: int
) -> AgentUp:
    """`docker compose up` on the release's own files with its images pinned by content."""
    folder = store.folder(release.agent, release.number)
    agent = release_agent(release)
    return docker.up(agent, folder / FILES / COMPOSE_FILE, secrets, timeout, [folder / IMAGES_FILE])


def release_agent(release: Release) -> AgentPlan:
    """The agent as the engine needs it to bring `release` back: its containers by name,
    each image pinned, its published ports and its secrets' names."""
    containers = tuple(
        Container(
            role=c.role,
            name=c.name,
            image=c.pinned,
            env=tuple((key, Secret(secret=name)) for key, name in c.secrets),
            port=c.port,
            labels=(),
            http_port=c.http_port,
            published=c.published,
            host_ip=c.host_ip,
            mounts=tuple(
                Mount(target=path, field="config.files", kind="file", secret=name)
                for path, name in c.key_files
            ),
        )
        for c in release.containers
    )
    return AgentPlan(
        release.agent, release.agent_id, release.mode, release.tenant, containers, host=release.host
    )
