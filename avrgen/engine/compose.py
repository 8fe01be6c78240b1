"""Compose stage: the only module that talks to Docker (through python-on-whales).

`up` runs `docker compose up --detach --wait --remove-orphans` on an agent's rendered
compose file, under its project name `avr-<agent>`, with the agent's secrets in the
environment of that one subprocess only (never in a file, never on a command line).

Everything else (ps, down, logs, restart) finds an agent's containers by their labels
(`avrgen.agent`, `avrgen.role`, `avrgen.managed=true`, and compose's project label), not
by reading the compose file: so it needs no secrets (compose refuses to read a file whose
`${NAME:?}` is unset) and still works after the agent's blueprint was deleted.

Docker's failures become ComposeError messages that name the agent, the container and its
role: no engine, no compose plugin, an image that is neither here nor pullable, a host
port already taken, a container that dies while `--wait` waits for it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_on_whales import DockerClient, Network
from python_on_whales.exceptions import DockerException, NoSuchNetwork

from avrgen.errors import ComposeError
from avrgen.model.blueprint import NetworkSettings
from avrgen.model.labels import AGENT_LABEL, MANAGED_LABEL, PROJECT_LABEL, ROLE_LABEL
from avrgen.model.plan import AgentPlan, Container

ROLE_ORDER = ("asr", "llm", "tts", "sts", "core")
LOG_LINES = 15  # lines of a failing container's log shown in an error

Progress = Callable[[str, str], None]  # (agent, message)
Redact = Callable[[str], str]

_PORT_TAKEN = re.compile(
    r"(?:0\.0\.0\.0|\[?::\]?|127\.0\.0\.1|[\d.]+):(\d+)[^\n]*?"
    r"(?:address already in use|port is already allocated)"
    r"|Bind for [^:\s]*:(\d+) failed"
)
_UNHEALTHY = re.compile(r"container ([\w.-]+) (?:is unhealthy|exited \((\d+)\)|has exited)")
_CHANGED = re.compile(r"\b(?:Creat|Recreat|Start|Remov|Stopp)")
_NOT_HEALTHY = re.compile(r"not healthy after (\S+)")
_TRANSIENT = re.compile(r"\s(?:Creating|Recreate|Starting|Stopping|Removing|Waiting)$")


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

    @property
    def ok(self) -> bool:
        return self.state == "running" and self.health in (None, "healthy")

    def as_dict(self) -> dict[str, object]:
        return {
            "agent": self.agent,
            "container": self.name,
            "role": self.role,
            "state": self.state,
            "health": self.health,
            "ports": list(self.ports),
            "id": self.id,
            "image": self.image,
            "exit_code": self.exit_code,
            "started_at": self.started_at,
            "networks": list(self.networks),
            "orphan": self.orphan,
        }


@dataclass
class AgentUp:
    """What `up` did for one agent."""

    agent: str
    status: str  # started | unchanged | failed
    seconds: float
    containers: list[ContainerStatus] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class LogLine:
    container: str
    role: str
    text: str


def role_key(status: ContainerStatus) -> tuple[str, int, str]:
    order = ROLE_ORDER.index(status.role) if status.role in ROLE_ORDER else len(ROLE_ORDER)
    return (status.agent, order, status.name)


class Docker:
    """A Docker Engine with the Compose v2 plugin, reached through the `docker` CLI."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.client = DockerClient()
        self._progress = progress
        self._lock = threading.Lock()
        self.engine_lost: str | None = None  # set when the engine stops answering mid-`up`

    def say(self, agent: str, message: str) -> None:
        if self._progress is not None:
            with self._lock:
                self._progress(agent, message)

    # -- the engine ------------------------------------------------------------------------

    def check(self, compose: bool = True) -> None:
        """Fail with a clear message when there is no engine (or no compose plugin)."""
        if shutil.which("docker") is None:
            raise ComposeError(
                "the docker CLI is not installed (no `docker` on PATH); install Docker Engine"
            )
        try:
            self.client.version()
        except DockerException as exc:
            host = os.environ.get("DOCKER_HOST")
            where = f" at DOCKER_HOST={host}" if host else " (is dockerd running?)"
            raise ComposeError(f"no Docker Engine reachable{where}: {_last_line(exc)}") from None
        if compose:
            try:
                self.client.compose.version()
            except DockerException as exc:
                raise ComposeError(
                    "the Docker Compose v2 plugin is missing (`docker compose version` failed: "
                    f"{_last_line(exc)}); install it as ~/.docker/cli-plugins/docker-compose"
                ) from None

    # -- the shared network ------------------------------------------------------------------

    def inspect_network(self, name: str) -> Network | None:
        """The network `name`; None when it does not exist."""
        try:
            return self.client.network.inspect(name)
        except NoSuchNetwork:
            return None
        except DockerException as exc:
            raise ComposeError(f"cannot inspect network {name!r}: {_last_line(exc)}") from None

    def ensure_network(self, settings: NetworkSettings) -> str | None:
        """Create the shared network when missing; a note for the user, or None."""
        name = settings.name
        network = self.inspect_network(name)
        if network is None:
            subnet = str(settings.subnet) if settings.subnet is not None else None
            try:
                self.client.network.create(
                    name, driver="bridge", subnet=subnet, labels={MANAGED_LABEL: "true"}
                )
            except DockerException as exc:
                if self.client.network.exists(name):  # created meanwhile by someone else
                    return None
                raise ComposeError(
                    f"cannot create network {name!r}"
                    + (f" with subnet {subnet}" if subnet else "")
                    + f": {_last_line(exc)}"
                ) from None
            return f"created network {name}" + (f" (subnet {subnet})" if subnet else "")
        if settings.subnet is None:
            return None
        subnets = [str(c.get("Subnet")) for c in (network.ipam.config or []) if c.get("Subnet")]
        if str(settings.subnet) not in subnets:
            found = ", ".join(subnets) or "none"
            return (
                f"warning: network {name} exists with subnet {found}, not {settings.subnet} as "
                "configured; using it as it is (`avrgen down --all --network` removes it)"
            )
        return None

    def network_users(self, name: str) -> list[str] | None:
        """Names of the containers on network `name`; None when it does not exist."""
        network = self.inspect_network(name)
        if network is None:
            return None
        return sorted(str(c.name) for c in (network.containers or {}).values())

    def remove_network(self, name: str) -> None:
        try:
            self.client.network.remove(name)
        except DockerException as exc:
            raise ComposeError(f"cannot remove network {name!r}: {_last_line(exc)}") from None

    # -- up -------------------------------------------------------------------------------

    def up(
        self,
        agent: AgentPlan,
        compose_file: Path,
        secrets: Mapping[str, str],
        redact: Redact,
        timeout: int = 120,
    ) -> AgentUp:
        """`docker compose up -d --wait --remove-orphans` for one agent; never raises."""
        start = time.monotonic()
        if self.engine_lost is not None:  # the engine went away: do not try the rest
            self.say(agent.name, "not attempted")
            message = f"agent {agent.name!r}: not attempted: {self.engine_lost}"
            return AgentUp(agent.name, "failed", 0.0, [], message)
        try:
            changed = self._up(agent, compose_file, secrets, redact, timeout)
        except ComposeError as exc:
            message = redact(str(exc))
            if self._engine_gone():
                with self._lock:
                    self.engine_lost = self.engine_lost or (
                        "the Docker Engine stopped answering during `up`; once it is back, "
                        "`avrgen up` again brings up what is missing"
                    )
                message = f"agent {agent.name!r}: {self.engine_lost}\n  (last: {message})"
            self.say(agent.name, "failed")
            return AgentUp(
                agent.name, "failed", time.monotonic() - start, self._safe_list(agent), message
            )
        containers = self.containers([agent.name])
        status = "started" if changed else "unchanged"
        self.say(agent.name, f"{status}: {sum(c.ok for c in containers)} healthy")
        return AgentUp(agent.name, status, time.monotonic() - start, containers)

    def _engine_gone(self) -> bool:
        """True when the engine does not answer now (after a failure: was it the engine?)."""
        try:
            self.client.version()
        except DockerException:
            return True
        return False

    def _safe_list(self, agent: AgentPlan) -> list[ContainerStatus]:
        try:
            return self.containers([agent.name])
        except ComposeError:
            return []

    def _up(
        self,
        agent: AgentPlan,
        compose_file: Path,
        secrets: Mapping[str, str],
        redact: Redact,
        timeout: int,
    ) -> bool:
        if not compose_file.is_file():
            raise ComposeError(f"agent {agent.name!r}: {compose_file} not found; run avrgen render")
        self._ensure_images(agent)
        self._check_ports(agent)
        client = DockerClient(
            compose_files=[compose_file.resolve()], compose_project_name=agent.project
        )
        command = [
            *map(str, client.compose.docker_compose_cmd),
            *("--ansi", "never", "--progress", "plain"),
            *("up", "--detach", "--wait", "--wait-timeout", str(timeout), "--remove-orphans"),
        ]
        self.say(agent.name, "docker compose up --wait")
        # the secrets reach docker compose through its environment, and only through it
        env = {**os.environ, **secrets}
        lines: list[str] = []
        with subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            errors="replace",
        ) as process:
            assert process.stdout is not None
            for raw in process.stdout:
                line = redact(raw.rstrip())
                if line.strip():
                    lines.append(line)
                    if not _TRANSIENT.search(line):
                        self.say(agent.name, " ".join(line.split()).removeprefix("Container "))
        if process.returncode != 0:
            raise self._explain_failure(agent, lines, redact)
        return any(_CHANGED.search(line) for line in lines)

    def _ensure_images(self, agent: AgentPlan) -> None:
        roles: dict[str, list[str]] = {}
        for container in agent.containers:
            roles.setdefault(container.image, []).append(container.role)
        for image, image_roles in roles.items():
            try:
                if self.client.image.exists(image):
                    continue
                self.say(agent.name, f"pulling {image}")
                self.client.image.pull(image, quiet=True)
            except DockerException as exc:
                raise ComposeError(
                    f"agent {agent.name!r}: image {image} ({', '.join(image_roles)}) is not "
                    f"available locally and could not be pulled: {_last_line(exc)}"
                ) from None

    def _check_ports(self, agent: AgentPlan) -> None:
        """A published port already held by something else: fail before starting anything."""
        own = {
            int(port.split("->")[0].rsplit(":", 1)[-1])
            for status in self.containers([agent.name])
            if status.state in ("running", "restarting")
            for port in status.ports
        }
        for container in agent.containers:
            for port in container.published:
                if port in own:
                    continue
                holder = self._port_holder(port)
                if holder is not None:
                    raise ComposeError(_port_message(agent, container, port, holder))

    def _port_holder(self, port: int) -> str | None:
        """Who holds host port `port`: a container's name, "another process", or None."""
        try:
            ids = [c.id for c in self.client.container.list(filters=[("publish", str(port))])]
        except DockerException:
            ids = []
        for data in self._inspect(ids):
            return f"container {str(data.get('Name', '')).lstrip('/')}"
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("0.0.0.0", port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return "another process on this host"
        return None

    def _explain_failure(self, agent: AgentPlan, lines: list[str], redact: Redact) -> ComposeError:
        text = "\n".join(lines)
        taken = _PORT_TAKEN.search(text)
        if taken:
            port = int(taken.group(1) or taken.group(2))
            for container in agent.containers:
                if port in container.published:
                    holder = self._port_holder(port) or "something else"
                    return ComposeError(_port_message(agent, container, port, holder))
        statuses = self._safe_list(agent)
        failing = [s for s in statuses if not s.ok and s.state != "absent"]
        if _UNHEALTHY.search(text) and any(s.state == "running" for s in failing):
            failing = self._settle(agent, failing)
        if _UNHEALTHY.search(text) or (failing and "dependency failed" in text):
            return ComposeError(self._crash_message(agent, failing, redact))
        waited = _NOT_HEALTHY.search(text)
        if waited:
            slow = failing or [s for s in statuses if s.state != "absent"]
            return ComposeError(self._crash_message(agent, slow, redact, waited.group(1)))
        if "No such image" in text or "pull access denied" in text:
            return ComposeError(f"agent {agent.name!r}: an image is missing:\n{_tail(lines, 8)}")
        return ComposeError(f"agent {agent.name!r}: docker compose up failed:\n{_tail(lines, 15)}")

    def _settle(
        self, agent: AgentPlan, failing: list[ContainerStatus], seconds: float = 3.0
    ) -> list[ContainerStatus]:
        """A crash-looping container caught between two crashes reads `running, starting`;
        give it a moment to crash again, so the message shows `restarting, exit code N`."""
        names = {s.name for s in failing}
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.25)
            again = [s for s in self._safe_list(agent) if s.name in names]
            if again and not any(s.state == "running" for s in again):
                return again
        return failing

    def _crash_message(
        self,
        agent: AgentPlan,
        failing: list[ContainerStatus],
        redact: Redact,
        timeout: str | None = None,
    ) -> str:
        if timeout is None:
            head = "container(s) failed while `up --wait` waited for them:"
        else:
            head = f"not healthy after {timeout} (`--timeout` sets how long `up` waits):"
        parts = [f"agent {agent.name!r}: {head}"]
        for status in failing:
            how = status.state
            if status.exit_code:
                how += f", exit code {status.exit_code}"
            if status.health:
                how += f", {status.health}"
            parts.append(f"  {status.name} ({status.role}): {how}; last log lines:")
            log = self._log_tail(status.name, LOG_LINES)
            parts.extend(f"    | {redact(line)}" for line in log or ["(no output)"])
        parts.append(f"see `avrgen logs {agent.name}`; `avrgen down {agent.name}` stops it")
        return "\n".join(parts)

    def _log_tail(self, container: str, lines: int) -> list[str]:
        try:
            text = self.client.container.logs(container, tail=lines)
        except DockerException:
            return []
        return [line for line in str(text).splitlines() if line.strip()][-lines:]

    # -- what is running ---------------------------------------------------------------------

    def containers(self, agents: Sequence[str] | None = None) -> list[ContainerStatus]:
        """The containers of `agents` (all avrgen containers with None), by their labels."""
        filters: list[list[tuple[str, str]]]
        if agents is None:
            filters = [[("label", f"{MANAGED_LABEL}=true")]]
        else:
            filters = []
            for name in agents:
                filters.append([("label", f"{AGENT_LABEL}={name}")])
                filters.append([("label", f"{PROJECT_LABEL}=avr-{name}")])
        ids: set[str] = set()
        try:
            for each in filters:
                ids.update(c.id for c in self.client.container.list(all=True, filters=each))
        except DockerException as exc:
            raise ComposeError(f"cannot list containers: {_last_line(exc)}") from None
        return sorted((_status(data) for data in self._inspect(sorted(ids))), key=role_key)

    def _inspect(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """`docker container inspect` as plain data, read once (a container removed since
        it was listed is left out)."""
        if not ids:
            return []
        proc = subprocess.run(
            [*map(str, self.client.docker_cmd), "container", "inspect", *ids],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            found = json.loads(proc.stdout or "[]")
        except json.JSONDecodeError:
            found = None
        if not isinstance(found, list) or (proc.returncode != 0 and not found and ids):
            missing = "No such container" in proc.stderr
            if missing:
                return []
            lines = proc.stderr.strip().splitlines()
            reason = lines[-1] if lines else f"exit status {proc.returncode}"
            raise ComposeError(f"cannot inspect containers: {reason}")
        return [data for data in found if isinstance(data, dict)]

    def remove(self, statuses: Sequence[ContainerStatus], timeout: int = 10) -> None:
        """Stop (SIGTERM, then SIGKILL after `timeout`) and remove these containers."""
        ids = [s.id for s in statuses if s.id]
        if not ids:
            return
        # a container removed meanwhile, or already stopped: `remove --force` settles it
        with contextlib.suppress(DockerException):
            self.client.container.stop(ids, time=timeout)
        try:
            self.client.container.remove(ids, force=True)
        except DockerException as exc:
            if self.containers_by_id(ids):
                raise ComposeError(f"cannot remove containers: {_last_line(exc)}") from None

    def containers_by_id(self, ids: Sequence[str]) -> list[str]:
        try:
            return [c.id for c in self.client.container.list(all=True) if c.id in ids]
        except DockerException:
            return []

    def restart(self, statuses: Sequence[ContainerStatus], timeout: int = 10) -> None:
        ids = [s.id for s in statuses if s.id]
        try:
            self.client.container.restart(ids, time=timeout)
        except DockerException as exc:
            raise ComposeError(f"cannot restart containers: {_last_line(exc)}") from None

    def wait_ready(
        self, agent: str, timeout: float, redact: Redact = lambda s: s
    ) -> list[ContainerStatus]:
        """Wait until every container of `agent` runs (healthy, where it has a check)."""
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.containers([agent])
            if all(s.ok for s in statuses):
                return statuses
            dead = [s for s in statuses if s.state in ("exited", "dead") or s.health == "unhealthy"]
            if dead or time.monotonic() > deadline:
                failing = dead or [s for s in statuses if not s.ok]
                parts = [f"agent {agent!r}: not ready after restart:"]
                for s in failing:
                    parts.append(f"  {s.name} ({s.role}): {s.state}, {s.health or '-'}")
                    parts.extend(f"    | {redact(x)}" for x in self._log_tail(s.name, LOG_LINES))
                raise ComposeError("\n".join(parts))
            time.sleep(0.5)

    # -- logs -----------------------------------------------------------------------------

    def logs(
        self, statuses: Sequence[ContainerStatus], follow: bool, tail: int | None
    ) -> Iterator[LogLine]:
        """Log lines of these containers: merged by time, or as they come with `follow`."""
        if not follow:
            stamped: list[tuple[str, int, LogLine]] = []
            for index, status in enumerate(statuses):
                for stamp, text in self._read_log(status.name, tail, timestamps=True):
                    stamped.append((stamp, index, LogLine(status.name, status.role, text)))
            stamped.sort(key=lambda item: (item[0], item[1]))
            yield from (line for _, _, line in stamped)
            return
        yield from self._follow(statuses, tail)

    def _follow(self, statuses: Sequence[ContainerStatus], tail: int | None) -> Iterator[LogLine]:
        """`docker logs --follow` of each container, lines interleaved as they come; the
        processes are ended when the caller stops (Ctrl-C, or closing the iterator)."""
        lines: queue.Queue[LogLine | None] = queue.Queue()
        processes: list[subprocess.Popen[str]] = []

        def pump(status: ContainerStatus, process: subprocess.Popen[str]) -> None:
            try:
                assert process.stdout is not None
                for raw in process.stdout:
                    lines.put(LogLine(status.name, status.role, raw.rstrip("\n")))
            finally:
                lines.put(None)

        try:
            for status in statuses:
                command = [*map(str, self.client.docker_cmd), "logs", "--follow"]
                if tail is not None:
                    command += ["--tail", str(tail)]
                process = subprocess.Popen(
                    [*command, status.id or status.name],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    errors="replace",
                )
                processes.append(process)
                threading.Thread(target=pump, args=(status, process), daemon=True).start()
            open_streams = len(processes)
            while open_streams:
                item = lines.get()
                if item is None:
                    open_streams -= 1
                else:
                    yield item
        finally:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            for process in processes:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=5)

    def _read_log(
        self, container: str, tail: int | None, timestamps: bool, follow: bool = False
    ) -> Iterator[tuple[str, str]]:
        try:
            stream = self.client.container.logs(
                container, tail=tail, timestamps=timestamps, follow=follow, stream=True
            )
            for _, raw in stream:
                text = raw.decode(errors="replace").rstrip("\n")
                if timestamps:
                    stamp, _, text = text.partition(" ")
                    yield stamp, text
                else:
                    yield "", text
        except DockerException as exc:
            raise ComposeError(f"cannot read the logs of {container}: {_last_line(exc)}") from None


def _status(data: dict[str, Any]) -> ContainerStatus:
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
        health=(state.get("Health") or {}).get("Status"),
        ports=tuple(sorted(ports, key=lambda p: (int(p.split("->")[0]), p))),
        id=str(data.get("Id", "")),
        image=str(config.get("Image", "")),
        exit_code=state.get("ExitCode") if status in ("exited", "restarting", "dead") else None,
        started_at=None if not started or started.startswith("0001-") else started,
        networks=tuple(sorted(settings.get("Networks") or {})),
    )


def absent(agent: str, container: Container) -> ContainerStatus:
    """A planned container that does not exist."""
    return ContainerStatus(agent, container.name, container.role, "absent", image=container.image)


def _port_message(agent: AgentPlan, container: Container, port: int, holder: str) -> str:
    return (
        f"host port {port} (agent {agent.name!r}, role {container.role}, container "
        f"{container.name}) is already taken by {holder}; free it, or pin another port in "
        f"the agent's `ports:` and render again"
    )


def _last_line(exc: DockerException) -> str:
    text = (getattr(exc, "stderr", None) or getattr(exc, "stdout", None) or str(exc)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {getattr(exc, 'return_code', '?')}"


def _tail(lines: list[str], count: int) -> str:
    return "\n".join(f"  {line.strip()}" for line in lines[-count:])
