"""An agent's swarm services and their tasks, found by their labels (`avrgen.agent`,
`avrgen.managed=true`, the stack's namespace), so that reading them needs no secrets and
works after a blueprint was deleted."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from python_on_whales import Image
from python_on_whales.exceptions import DockerException

from avrgen.engine.docker import LOG_LINES, Engine, last_line, last_lines, role_rank
from avrgen.errors import ComposeError
from avrgen.model.labels import AGENT_LABEL, ROLE_LABEL, SET_LABEL, STACK_LABEL
from avrgen.model.release import ImageRun, repository_of

FAILED = ("failed", "rejected", "orphaned")
UNPLACEABLE = ("no suitable node", "host-mode port already in use", "insufficient resources")


@dataclass(frozen=True)
class TaskStatus:
    """The newest swarm task of one service of an agent (or the service, when it has none)."""

    agent: str
    service: str  # avr-<agent>_<role>
    role: str
    node: str  # the node's hostname; "" while not scheduled
    desired: str  # running | shutdown | ... | absent (not deployed)
    state: str  # new | pending | assigned | preparing | starting | running | failed | ...
    error: str | None = None
    image: str = ""
    since: str | None = None
    orphan: bool = False  # its agent is not in the blueprints (any more)
    set_id: str = ""  # its blueprint set (label avrgen.set); "": deployed before set ids

    @property
    def ok(self) -> bool:
        return self.state == "running" and self.desired == "running"


def task_key(status: TaskStatus) -> tuple[str, int, str]:
    return (status.agent, role_rank(status.role), status.service)


@dataclass(frozen=True)
class Service:
    """A service as inspected once (services and tasks vanish while a stack is removed)."""

    id: str
    name: str
    labels: dict[str, str]
    spec: dict[str, Any]
    networks: tuple[str, ...]


@dataclass(frozen=True)
class Task:
    id: str
    created_at: datetime
    state: str
    err: str | None
    desired: str
    node_id: str
    image: str
    timestamp: datetime | None


def stack_filter(stack: str) -> tuple[str, str]:
    return ("label", f"{STACK_LABEL}={stack}")


def services(engine: Engine, filters: list[tuple[str, str]]) -> list[Service]:
    """The services matching `filters`, inspected in one call (python-on-whales' model of
    a service spec leaves out networks, placement and endpoints)."""
    flags = [f"--filter={key}={value}" for key, value in filters]
    listed = subprocess.run(
        engine.command("service", "ls", "--quiet", *flags),
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0:
        why = listed.stderr.strip().splitlines() or ["exit status " + str(listed.returncode)]
        raise ComposeError(f"cannot list swarm services: {why[-1]}")
    ids = listed.stdout.split()
    if not ids:
        return []
    # a service removed meanwhile is left out (inspect then also exits 1)
    found = subprocess.run(
        engine.command("service", "inspect", "--format", "{{json .}}", *ids),
        capture_output=True,
        text=True,
        check=False,
    )
    return [_service(json.loads(line)) for line in found.stdout.splitlines()]


def service_image(service: Service) -> str:
    return spec_image(service).split("@", 1)[0]


def spec_image(service: Service) -> str:
    """The image the service's spec names, with the digest deploy resolved (if it did)."""
    spec = (service.spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    return str(spec.get("Image", ""))


def _service(data: dict[str, Any]) -> Service:
    spec = data.get("Spec") or {}
    networks = (spec.get("TaskTemplate") or {}).get("Networks") or []
    return Service(
        str(data["ID"]),
        str(spec.get("Name", "")),
        dict(spec.get("Labels") or {}),
        spec,
        tuple(str(n.get("Target", "")) for n in networks),
    )


def service_tasks(engine: Engine, service: Service) -> list[Task]:
    try:
        found = list(engine.client.service.ps(service.id))
    except DockerException:
        return []  # removed meanwhile
    tasks: list[Task] = []
    for task in found:
        try:  # removed meanwhile: skip it
            status = task.status
            spec = task.spec.container_spec
            image = str((spec.image if spec is not None else None) or "")
            tasks.append(
                Task(
                    str(task.id),
                    task.created_at,
                    str(status.state or "unknown"),
                    status.err,
                    str(task.desired_state),
                    str(task.node_id or ""),
                    image.split("@", 1)[0],
                    status.timestamp,
                )
            )
        except DockerException:
            continue
    return tasks


def tasks_of(engine: Engine, stack: str) -> dict[str, list[Task]]:
    """The tasks of each service of a stack, by service name."""
    return {s.name: service_tasks(engine, s) for s in services(engine, [stack_filter(stack)])}


def newest_fault(tasks: list[Task], started: datetime, current: Task) -> Task | None:
    """The newest task since the deploy that failed, or the current one if it cannot be placed."""
    if current.state in ("pending", "new") and any(u in (current.err or "") for u in UNPLACEABLE):
        return current
    if current.state == "running":
        return None
    failed = [t for t in tasks if t.state in FAILED and t.created_at >= started]
    return max(failed, key=lambda t: t.created_at) if failed else None


def node_names(nodes: Iterable[tuple[str, str]]) -> dict[str, str]:
    """How each node (id, hostname) is named in avrgen's output: by its hostname, or
    `hostname/<id, 12 characters>` where several nodes share it (cloned VMs, hosts that all
    say `localhost`): the hostname alone would not say which node a task runs on."""
    found = list(nodes)
    count = Counter(hostname for _, hostname in found)
    return {
        node_id: hostname if count[hostname] == 1 else f"{hostname}/{node_id[:12]}"
        for node_id, hostname in found
    }


class Nodes:
    """Node names by id (node_names), the swarm's nodes read once."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._names: dict[str, str] | None = None

    def name(self, node_id: str) -> str:
        if self._names is None or node_id not in self._names:  # a node joined since
            try:
                listed = self._engine.client.node.list()
                self._names = node_names((str(n.id), str(n.description.hostname)) for n in listed)
            except DockerException:
                self._names = self._names or {}
        return self._names.setdefault(node_id, node_id[:12])  # a node removed since


def task_status(engine: Engine, service: Service, nodes: Nodes) -> TaskStatus:
    """What the newest task of `service` does, with the last error of its earlier tasks
    while it does not run."""
    labels, name = service.labels, service.name
    agent = labels.get(AGENT_LABEL) or name.split("_", 1)[0].removeprefix("avr-")
    role = labels.get(ROLE_LABEL) or name.rsplit("_", 1)[-1]
    tasks = service_tasks(engine, service)
    set_id = labels.get(SET_LABEL, "")
    if not tasks:
        return TaskStatus(agent, name, role, "", "running", "no task", set_id=set_id)
    task = max(tasks, key=lambda t: t.created_at)
    error = task.err
    if not error and task.state != "running":
        previous = [t for t in tasks if t.err]
        error = max(previous, key=lambda t: t.created_at).err if previous else None
    return TaskStatus(
        agent=agent,
        service=name,
        role=role,
        node=nodes.name(task.node_id) if task.node_id else "",
        desired=task.desired,
        state=task.state,
        error=error,
        image=task.image,
        since=task.timestamp.isoformat() if task.timestamp else None,
        set_id=set_id,
    )


def image_run(engine: Engine, service: Service) -> ImageRun:
    """What a release records of the image `service` runs: `name:tag@sha256:...` (as
    `--resolve-image always` pins it) gives its registry digest; the image this engine
    has by that digest (else by the tag) gives its id. Fails when neither is known."""
    name, _, pinned = spec_image(service).partition("@")
    by_digest = f"{repository_of(name)}@{pinned}" if pinned else None
    role = service.labels.get(ROLE_LABEL) or service.name.rsplit("_", 1)[-1]
    local = _local_image(engine, by_digest or name)
    if local is None and by_digest is None:
        raise ComposeError(
            f"service {service.name}: image {name} is not on this engine and has no "
            "registry digest (deploy with --resolve-image always, or pull it here)"
        )
    found = tuple(local.repo_digests or ()) if local is not None else ()
    return ImageRun(
        role=role,
        container=service.name,
        image_id=str(local.id) if local is not None else pinned,
        repo_digests=tuple(sorted({*found, *((by_digest,) if by_digest else ())})),
    )


def _local_image(engine: Engine, reference: str) -> Image | None:
    try:
        exists = engine.client.image.exists(reference)
        return engine.client.image.inspect(reference) if exists else None
    except DockerException as exc:
        raise ComposeError(f"cannot inspect image {reference}: {last_line(exc)}") from None


def service_log_tail(engine: Engine, service: str) -> list[str]:
    """The last lines of a service's log, for an error message ([] when unreadable)."""
    try:
        return last_lines(engine.client.service.logs(service, tail=LOG_LINES, task_ids=False))
    except DockerException:
        return []
