"""An agent's containers as Docker reports them, found by their labels.

`avrgen.agent`, `avrgen.role`, `avrgen.managed=true` and compose's project label find an
agent's containers without reading its compose file: so ps, down, logs and restart need
no secrets (compose refuses to read a file whose `${NAME:?}` is unset) and still work
after the agent's blueprint was deleted.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Protocol

from avrgen.engine.docker import LOG_LINES, Engine, last_line, last_lines, role_rank
from avrgen.errors import ComposeError
from avrgen.model.labels import (
    AGENT_LABEL,
    MANAGED_LABEL,
    PROJECT_LABEL,
    ROLE_LABEL,
    SET_LABEL,
    TELEPHONY_LABEL,
    WORKING_DIR_LABEL,
)

# one `docker container ls --filter KEY=VALUE` condition: ("label", "avrgen.agent=x")
ListFilter = tuple[str, str]


@dataclass(frozen=True)
class ContainerStatus:
    """One container of an agent as Docker reports it (or as planned, when absent)."""

    agent: str
    name: str
    role: str
    state: str  # running | restarting | exited | created | ... | absent
    health: str | None = None  # healthy | unhealthy | starting | None (no healthcheck)
    ports: tuple[str, ...] = ()  # "5001->5001/tcp"
    id: str = ""
    image: str = ""
    exit_code: int | None = None
    started_at: str | None = None
    networks: tuple[str, ...] = ()
    orphan: bool = False  # on the blueprints' network, but its agent is not in them (any more)
    set_id: str = ""  # its blueprint set (label avrgen.set); "": made before set ids
    output: str = ""  # the output folder it was started from (compose's working_dir's parent)
    host: str | None = None  # which of the settings' `hosts` runs it; None: the default engine
    telephony: bool = False  # avr-asterisk or avr-ami: the telephony stack's, no agent's

    @property
    def ok(self) -> bool:
        return self.state == "running" and self.health in (None, "healthy")


def role_key(status: ContainerStatus) -> tuple[str, int, str]:
    return (status.agent, role_rank(status.role), status.name)


class Planned(Protocol):
    """A planned container, as the plan (model/plan.Container) or the render cache's record
    of it gives it."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def image(self) -> str: ...


def absent(agent: str, container: Planned) -> ContainerStatus:
    """A planned container that does not exist."""
    return ContainerStatus(agent, container.name, container.role, "absent", image=container.image)


def list_containers(
    engine: Engine, agents: Sequence[str] | None = None, named: Sequence[str] = ()
) -> list[ContainerStatus]:
    """The containers of `agents` (all avrgen containers with None), by their labels, and
    those holding one of the container names `named`: one `docker container ls` of
    avrgen's containers, then one `docker container inspect`."""
    return statuses_of(inspect_agents(engine, agents, named), None)


def inspect_agents(
    engine: Engine,
    agents: Sequence[str] | None = None,
    named: Sequence[str] = (),
    rows: Sequence[Listed] | None = None,
) -> list[dict[str, Any]]:
    """The inspect data of what `list_containers` lists. `rows`: a listing of avrgen's
    containers (or of every container), read already."""
    rows = listed(engine, managed_only=True) if rows is None else rows
    if agents is not None:
        names = set(agents)
        projects = {f"avr-{name}" for name in agents}
        held = set(named)
        # a container of the project avr-<agent> that avrgen did not create is never one of
        # its own (ownership.py refuses to start or remove next to it)
        rows = [r for r in rows if r.agent in names or r.project in projects or r.name in held]
    return [data for data in inspect(engine, [r.id for r in rows]) if is_managed(data)]


SNAPSHOT_THREAD = "avrgen-engine-snapshot"  # its thread's name (the tests look for it)


class Snapshot:
    """Every avrgen container of one engine, inspected (`inspect_agents`), read in a thread
    of its own from the moment it is made: a command makes one before it reads and plans
    the blueprints, so the engine answers meanwhile. A daemon thread: a command that never
    asks for it (its plan names other hosts) does not wait for it at exit."""

    def __init__(self, engine: Engine) -> None:
        self._found: list[dict[str, Any]] | None = None
        self._reading = threading.Thread(
            target=self._read, args=(engine,), name=SNAPSHOT_THREAD, daemon=True
        )
        self._reading.start()

    def _read(self, engine: Engine) -> None:
        # any failure (no engine, no docker CLI) is None here: the caller reads again the
        # ordinary way, and that says what is wrong, in the command's own thread
        with contextlib.suppress(Exception):
            self._found = inspect_agents(engine)

    def found(self) -> list[dict[str, Any]] | None:
        """The inspect data, once read; None when the engine did not answer."""
        self._reading.join()
        return self._found


def statuses_of(
    found: Sequence[dict[str, Any]], agents: Sequence[str] | None
) -> list[ContainerStatus]:
    """What `list_containers(engine, agents)` lists, from inspect data of every avrgen
    container (a Snapshot's)."""
    chosen = found if agents is None else of_agents(found, agents)
    return sorted(map(status_of, chosen), key=role_key)


def of_agents(found: Sequence[dict[str, Any]], agents: Sequence[str]) -> list[dict[str, Any]]:
    """Of `found` (inspect data), the containers of `agents`, by label or compose project."""
    names, projects = set(agents), {f"avr-{name}" for name in agents}
    return [
        data
        for data in found
        if (labels := (data.get("Config") or {}).get("Labels") or {}).get(AGENT_LABEL) in names
        or labels.get(PROJECT_LABEL) in projects
    ]


@dataclass(frozen=True)
class Listed:
    """One container as `docker container ls` lists it: enough to choose which to inspect."""

    id: str
    name: str
    agent: str  # its avrgen.agent label ("" without)
    project: str  # its compose project ("" without)
    managed: bool  # it carries avrgen.managed=true
    image: str


_LIST_FIELDS = (
    "{{.ID}}",
    "{{.Names}}",
    '{{.Label "' + AGENT_LABEL + '"}}',
    '{{.Label "' + PROJECT_LABEL + '"}}',
    '{{.Label "' + MANAGED_LABEL + '"}}',
    "{{.Image}}",
)


def listed(engine: Engine, managed_only: bool = False) -> list[Listed]:
    """Every container, running or not (only avrgen's with `managed_only`), from one
    `docker container ls`: its id, name, image and the labels that say whose it is."""
    command = ["container", "ls", "--all", "--no-trunc", "--format", "\t".join(_LIST_FIELDS)]
    if managed_only:
        command[3:3] = ["--filter", f"label={MANAGED_LABEL}=true"]
    text = engine.output(*command, doing="list containers")
    rows = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) == len(_LIST_FIELDS):
            cid, name, agent, project, managed, image = fields
            rows.append(Listed(cid, name, agent, project, managed == "true", image))
    return rows


def matching(engine: Engine, filters: Sequence[list[ListFilter]]) -> list[dict[str, Any]]:
    """The inspect data of every container, running or not, matching any of `filters`
    (each a list of conditions that must all hold)."""
    ids: set[str] = set()
    for each in filters:  # ids only, then one inspect of all of them
        conditions = [part for key, value in each for part in ("--filter", f"{key}={value}")]
        command = ("container", "ls", "--all", "--quiet", "--no-trunc", *conditions)
        ids.update(engine.output(*command, doing="list containers").split())
    return inspect(engine, sorted(ids))


def is_managed(data: dict[str, Any]) -> bool:
    """A container avrgen created (its label), from its `docker inspect` data."""
    labels = (data.get("Config") or {}).get("Labels") or {}
    return isinstance(labels, dict) and labels.get(MANAGED_LABEL) == "true"


NO_SUCH_CONTAINER = re.compile(r"no such container", re.IGNORECASE)


def inspect(engine: Engine, ids: Sequence[str]) -> list[dict[str, Any]]:
    """`docker container inspect` as plain data, read once (a container removed since it
    was listed is left out)."""
    if not ids:
        return []
    return engine.existing(
        "container", "inspect", *ids, doing="inspect containers", missing=NO_SUCH_CONTAINER
    )


def status_of(data: dict[str, Any]) -> ContainerStatus:
    """One container's status from its `docker container inspect` data."""
    config, state = data.get("Config") or {}, data.get("State") or {}
    settings = data.get("NetworkSettings") or {}
    labels: dict[str, str] = config.get("Labels") or {}
    ports: set[str] = set()
    for spec, bindings in (settings.get("Ports") or {}).items() if state.get("Running") else ():
        for binding in bindings or []:
            if binding.get("HostPort"):
                ports.add(f"{binding['HostPort']}->{spec}")
    project = labels.get(PROJECT_LABEL, "")
    status = str(state.get("Status", "unknown"))
    started = state.get("StartedAt")
    return ContainerStatus(
        agent=labels.get(AGENT_LABEL) or project.removeprefix("avr-"),
        name=str(data.get("Name", "")).lstrip("/"),
        role=labels.get(ROLE_LABEL) or labels.get("com.docker.compose.service", "?"),
        state=status,
        # docker keeps the last health status of a stopped container: not its health now
        health=(state.get("Health") or {}).get("Status") if state.get("Running") else None,
        ports=tuple(sorted(ports, key=lambda p: (int(p.split("->")[0]), p))),
        id=str(data.get("Id", "")),
        image=str(config.get("Image", "")),
        exit_code=state.get("ExitCode") if status in ("exited", "restarting", "dead") else None,
        started_at=None if not started or started.startswith("0001-") else started,
        networks=tuple(sorted(settings.get("Networks") or {})),
        telephony=TELEPHONY_LABEL in labels,
        set_id=labels.get(SET_LABEL, ""),
        output=str(PurePosixPath(labels[WORKING_DIR_LABEL]).parent)
        if labels.get(WORKING_DIR_LABEL)
        else "",
    )


STOP_BATCH = 50  # the docker CLI stops at most 50 containers at once: more run side by side


def remove(engine: Engine, statuses: Sequence[ContainerStatus], timeout: int | None = None) -> None:
    """Stop and remove these containers, all at once: SIGTERM, then SIGKILL after each
    container's own stop timeout (the compose file's stop_grace_period: longer for core,
    whose calls in progress may end) or after `timeout` seconds when given."""
    from python_on_whales.exceptions import DockerException

    ids = [s.id for s in statuses if s.id]
    if not ids:
        return
    batches = [ids[i : i + STOP_BATCH] for i in range(0, len(ids), STOP_BATCH)]

    def stop(batch: list[str]) -> None:
        # a container removed meanwhile, or already stopped: `remove --force` settles it
        with contextlib.suppress(DockerException):
            engine.client.container.stop(batch, time=timeout)

    def force_remove(batch: list[str]) -> str | None:
        try:
            engine.client.container.remove(batch, force=True)
        except DockerException as exc:
            return last_line(exc)
        return None

    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        list(pool.map(stop, batches))
        failed = [reason for reason in pool.map(force_remove, batches) if reason]
    if failed and existing(engine, ids):
        raise ComposeError(f"cannot remove containers: {failed[0]}")


def existing(engine: Engine, ids: Sequence[str]) -> list[str]:
    """Those of `ids` that are still containers of this engine."""
    from python_on_whales.exceptions import DockerException

    try:
        return [c.id for c in engine.client.container.list(all=True) if c.id in ids]
    except DockerException:
        return []


def restart(engine: Engine, statuses: Sequence[ContainerStatus], timeout: int = 10) -> None:
    from python_on_whales.exceptions import DockerException

    ids = [s.id for s in statuses if s.id]
    try:
        engine.client.container.restart(ids, time=timeout)
    except DockerException as exc:
        raise ComposeError(f"cannot restart containers: {last_line(exc)}") from None


def log_tail(engine: Engine, container: str) -> list[str]:
    """The last lines of a container's log, for an error message ([] when unreadable)."""
    from python_on_whales.exceptions import DockerException

    try:
        return last_lines(engine.client.container.logs(container, tail=LOG_LINES))
    except DockerException:
        return []
