"""Drift detection: the running containers of each agent against what the blueprints say now.

For each agent of the blueprints, compose itself decides whether a container matches: its
rendered files (rendered in memory from the blueprints, written to a private temporary
folder, so a stale output/ does not matter and nothing in output/ is touched) go through
`docker compose --dry-run up`, which compares its config hash (env files resolved, secrets
interpolated) and image with every container's `com.docker.compose.*` labels, exactly as a
real `up` would. A container compose would recreate is drifted; avrgen then says *what*
differs (image, env keys, published ports, labels, network) by comparing `docker inspect`
with the plan, naming env keys only, never a value.

Secrets: compose needs a value for every `${NAME:?}` to read the file at all. Secrets set
here (environment, or --secrets-file: the environment wins, as for `up`) are compared like
any value (only the key is named). A secret not set here cannot be compared: compose is
given the running container's own value for it (held in memory only, never shown), so
every other difference is still found, and the report lists the secrets it did not check.

States: `in sync`, `drifted` (what differs: image, env, ports, labels, network, config,
missing container, extra container, stopped container), `not running` (none of the
agent's containers runs), `orphaned` (containers with avrgen's labels on this blueprint
set's network whose agent is no longer in the blueprints).
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException
from python_on_whales.utils import run

from avrgen.app.project import Project
from avrgen.engine.compose import ContainerStatus, Docker, _last_line, role_key
from avrgen.errors import AvrgenError, ComposeError
from avrgen.fs.dotenv import read_secrets_file
from avrgen.model.labels import AGENT_LABEL, IMAGE_LABEL, MANAGED_LABEL
from avrgen.model.names import suggest
from avrgen.model.output import COMPOSE_FILE
from avrgen.model.plan import AgentPlan, Container, Plan

AgentState = Literal["in sync", "drifted", "not running", "orphaned"]
DiffKind = Literal[
    "image", "env", "ports", "labels", "network", "config", "missing", "extra", "stopped", "compose"
]
STATES: tuple[AgentState, ...] = ("in sync", "drifted", "not running", "orphaned")
_KIND_ORDER: tuple[DiffKind, ...] = (
    "missing",
    "stopped",
    "image",
    "env",
    "ports",
    "labels",
    "network",
    "config",
    "extra",
    "compose",
)
_DRY_RUN_LINE = re.compile(r"Container\s+(\S+)\s+(\w+)")
_RECREATE = frozenset({"Recreate", "Recreated"})
_RUNNING = frozenset({"running"})
_OWN_LABELS = frozenset({"app", "agentName", "tenant"})  # the dashboard's, set by avrgen
_DRY_RUN_TIMEOUT = 60


@dataclass(frozen=True, order=True)
class Difference:
    """One way a container differs from the plan; names keys, never values."""

    container: str
    role: str
    kind: DiffKind
    detail: str
    keys: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.container} ({self.role}): {self.detail}"

    def as_dict(self) -> dict[str, object]:
        return {
            "container": self.container,
            "role": self.role,
            "kind": self.kind,
            "detail": self.detail,
            "keys": list(self.keys),
        }


@dataclass
class AgentStatus:
    agent: str
    state: AgentState
    differences: list[Difference] = field(default_factory=list)
    containers: list[ContainerStatus] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "differences": [d.as_dict() for d in self.differences],
            "containers": [c.as_dict() for c in self.containers],
        }


@dataclass
class StatusReport:
    network: str
    agents: list[AgentStatus]  # agents of the blueprints by name, then orphaned ones
    unchecked_secrets: list[str] = field(default_factory=list)  # not set here: not compared

    @property
    def in_sync(self) -> bool:
        return all(a.state == "in sync" for a in self.agents)

    def named(self, state: AgentState) -> list[str]:
        return [a.agent for a in self.agents if a.state == state]

    def summary(self) -> str:
        """`2 in sync, 1 drifted, 1 orphaned` (or `no agents`)."""
        parts = [f"{len(self.named(s))} {s}" for s in STATES if self.named(s)]
        return ", ".join(parts) if parts else "no agents"

    def as_dict(self) -> dict[str, object]:
        return {
            "in_sync": self.in_sync,
            "summary": self.summary(),
            "network": self.network,
            "agents": {a.agent: a.as_dict() for a in self.agents},
            "unchecked_secrets": self.unchecked_secrets,
        }


# -- the core call --------------------------------------------------------------------------


def status(
    project: Project,
    names: Sequence[str] = (),
    secrets_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    docker: Docker | None = None,
) -> StatusReport:
    """Compare every agent's containers (or the named agents') with the blueprints."""
    the_plan, _ = project.plan()
    if getattr(the_plan, "target", "compose") != "compose":
        raise AvrgenError("`status` compares docker compose agents; these blueprints render swarm")
    docker = docker or Docker()
    docker.check()
    orphans = _orphans(docker, the_plan)
    wanted = _select(the_plan, orphans, names)
    secrets = available_secrets(the_plan, os.environ if environ is None else environ, secrets_file)
    checker = _Checker(docker, project, the_plan, secrets)
    planned = [the_plan.agents[name] for name in wanted if name in the_plan.agents]
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(planned)))) as pool:
        results = list(pool.map(checker.agent_status, planned))
    for name in wanted:
        if name in orphans:
            results.append(AgentStatus(name, "orphaned", containers=orphans[name]))
    used: set[str] = set().union(*(a.secrets for a in planned))
    return StatusReport(the_plan.network.name, results, sorted(used - set(secrets)))


@dataclass
class ChangedUp:
    """What `up --changed` did: the agents it brought up, and the ones it left alone."""

    up: Any | None  # project.UpResult; None when no agent needed it
    brought_up: list[tuple[str, AgentState]]
    left_alone: list[tuple[str, AgentState]]


def up_changed(
    project: Project,
    secrets_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    docker: Docker | None = None,
    **up_options: Any,
) -> ChangedUp:
    """`up` for the agents that are drifted or not running; in-sync and orphaned agents are
    left alone (an orphan is `down`'s job)."""
    report = status(project, secrets_file=secrets_file, environ=environ, docker=docker)
    todo = [(a.agent, a.state) for a in report.agents if a.state in ("drifted", "not running")]
    alone = [(a.agent, a.state) for a in report.agents if a.state in ("in sync", "orphaned")]
    if not todo:
        return ChangedUp(None, [], alone)
    result = project.up(
        [name for name, _ in todo], secrets_file=secrets_file, environ=environ, **up_options
    )
    return ChangedUp(result, todo, alone)


def available_secrets(
    the_plan: Plan, environ: Mapping[str, str], secrets_file: Path | None
) -> dict[str, str]:
    """The secrets of the plan that have a value here (the environment wins, as for `up`)."""
    from_file = read_secrets_file(secrets_file) if secrets_file is not None else {}
    found: dict[str, str] = {}
    for name in sorted(the_plan.secrets):
        value = environ.get(name) or from_file.get(name) or ""
        if value:
            found[name] = value
    return found


def env_differences(
    expected: Mapping[str, str | None], actual: Mapping[str, str], image_env: Mapping[str, str]
) -> tuple[list[str], list[str], list[str]]:
    """(changed, missing, extra) env keys; an expected value of None is not compared.

    A key the container has from its image (same value as the image's default) and the plan
    does not set is not extra.
    """
    changed = sorted(
        k for k, v in expected.items() if v is not None and k in actual and actual[k] != v
    )
    missing = sorted(k for k in expected if k not in actual)
    extra = sorted(
        k
        for k in actual
        if k not in expected and not (k in image_env and image_env[k] == actual[k])
    )
    return changed, missing, extra


def parse_env(items: Iterable[str] | None) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in items or ():
        key, _, value = item.partition("=")
        env[key] = value
    return env


def parse_dry_run(text: str) -> dict[str, set[str]]:
    """Container name -> the actions `docker compose --dry-run up` printed for it."""
    actions: dict[str, set[str]] = {}
    for line in text.splitlines():
        match = _DRY_RUN_LINE.search(line)
        if match:
            actions.setdefault(match.group(1), set()).add(match.group(2))
    return actions


# -- the work -------------------------------------------------------------------------------


def _select(the_plan: Plan, orphans: Mapping[str, object], names: Sequence[str]) -> list[str]:
    known = [*the_plan.agents, *sorted(orphans)]
    if not names:
        return known
    for name in names:
        if name not in known:
            raise AvrgenError(f"no agent named {name!r}{suggest(name, known)}")
    return list(dict.fromkeys(names))


def _orphans(docker: Docker, the_plan: Plan) -> dict[str, list[ContainerStatus]]:
    """Containers with avrgen's labels on this blueprint set's network, of agents it lacks."""
    command = [
        *map(str, docker.client.docker_cmd),
        *("container", "ls", "--all", "--no-trunc"),
        *("--filter", f"label={MANAGED_LABEL}=true"),
        *("--filter", f"network={the_plan.network.name}"),
        *("--format", '{{.Label "' + AGENT_LABEL + '"}}'),
    ]
    try:
        listed = run(command)
    except DockerException as exc:
        raise ComposeError(f"cannot list containers: {_last_line(exc)}") from None
    names = sorted({n.strip() for n in str(listed).splitlines() if n.strip()})
    names = [n for n in names if n not in the_plan.agents]
    found: dict[str, list[ContainerStatus]] = {}
    for each in docker.containers(names) if names else []:
        found.setdefault(each.agent, []).append(dataclasses.replace(each, orphan=True))
    return {name: sorted(found[name], key=role_key) for name in sorted(found)}


class _Checker:
    def __init__(self, docker: Docker, project: Project, the_plan: Plan, secrets: dict[str, str]):
        self.docker = docker
        self.project = project
        self.plan = the_plan
        self.secrets = secrets
        self._image_env: dict[str, dict[str, str]] = {}

    def agent_status(self, agent: AgentPlan) -> AgentStatus:
        statuses = self.docker.containers([agent.name])
        by_name = {s.name: s for s in statuses}
        inspected = self._inspect([s.id for s in statuses])
        planned_names = {c.name for c in agent.containers}
        differences: list[Difference] = []
        running = 0
        for container in agent.containers:
            current = by_name.get(container.name)
            if current is None:
                differences.append(
                    Difference(container.name, container.role, "missing", "missing container")
                )
                continue
            if current.state in _RUNNING:
                running += 1
            else:
                how = current.state + (
                    f", exit code {current.exit_code}" if current.exit_code is not None else ""
                )
                differences.append(
                    Difference(container.name, container.role, "stopped", f"not running ({how})")
                )
            differences += self._compare(agent, container, inspected.get(current.id))
        for extra in statuses:
            if extra.name not in planned_names:
                differences.append(
                    Difference(extra.name, extra.role, "extra", "extra container (not in the plan)")
                )
        if any(s.name in planned_names for s in statuses):
            differences += self._compose_verdict(agent, statuses, differences)
        differences = sorted(set(differences), key=lambda d: _order(agent, d))
        if running == 0:
            state: AgentState = "not running"
        elif differences:
            state = "drifted"
        else:
            state = "in sync"
        return AgentStatus(agent.name, state, differences, statuses)

    # -- docker inspect against the plan ------------------------------------------------------

    def _inspect(self, ids: list[str]) -> dict[str, Any]:
        if not ids:
            return {}
        try:
            return {c.id: c for c in self.docker.client.container.inspect(ids)}
        except DockerException as exc:
            raise ComposeError(f"cannot inspect containers: {_last_line(exc)}") from None

    def _image_defaults(self, image_id: str) -> dict[str, str]:
        if image_id not in self._image_env:
            try:
                self._image_env[image_id] = parse_env(
                    self.docker.client.image.inspect(image_id).config.env
                )
            except DockerException:
                self._image_env[image_id] = {}
        return self._image_env[image_id]

    def _local_image_id(self, reference: str) -> str | None:
        try:
            return str(self.docker.client.image.inspect(reference).id)
        except DockerException:
            return None

    def _compare(self, agent: AgentPlan, planned: Container, found: Any) -> list[Difference]:
        if found is None:
            return []
        name, role = planned.name, planned.role
        out: list[Difference] = []
        config = found.config
        labels: dict[str, str] = dict(config.labels or {})
        if str(config.image) != planned.image:
            out.append(Difference(name, role, "image", f"image {config.image} -> {planned.image}"))
        else:
            local = self._local_image_id(planned.image)
            if local is not None and labels.get(IMAGE_LABEL, local) != local:
                out.append(
                    Difference(name, role, "image", f"image {planned.image} was updated since")
                )
        expected: dict[str, str | None] = {
            key: value
            if isinstance(value, str)
            else self.secrets.get(value.secret)  # None: not set here, not compared
            for key, value in planned.env
        }
        changed, missing, extra = env_differences(
            expected, parse_env(config.env), self._image_defaults(str(found.image))
        )
        parts = [
            f"{label} {', '.join(keys)}"
            for label, keys in (("changed", changed), ("added", missing), ("removed", extra))
            if keys
        ]
        if parts:
            keys = tuple(sorted({*changed, *missing, *extra}))
            out.append(Difference(name, role, "env", "env " + "; ".join(parts), keys))
        published = _published(found)
        if published != set(planned.published):
            want = ", ".join(map(str, sorted(planned.published))) or "none"
            have = ", ".join(map(str, sorted(published))) or "none"
            out.append(Difference(name, role, "ports", f"published ports {have} -> {want}"))
        wanted_labels = dict(planned.labels)
        label_keys = sorted(
            {k for k, v in wanted_labels.items() if labels.get(k) != v}
            | {k for k in labels if _is_own_label(k) and k not in wanted_labels}
        )
        if label_keys:
            out.append(
                Difference(
                    name,
                    role,
                    "labels",
                    f"labels changed {', '.join(label_keys)}",
                    tuple(label_keys),
                )
            )
        networks = set((found.network_settings.networks or {}).keys())
        if self.plan.network.name not in networks:
            have = ", ".join(sorted(networks)) or "none"
            out.append(
                Difference(name, role, "network", f"network {have} -> {self.plan.network.name}")
            )
        return out

    # -- compose's own comparison -------------------------------------------------------------

    def _compose_verdict(
        self, agent: AgentPlan, statuses: list[ContainerStatus], found: list[Difference]
    ) -> list[Difference]:
        """`docker compose --dry-run up`: which containers compose itself would recreate."""
        env = self._compose_env(agent, statuses)
        files = self.project.targets(self.plan, [agent.name])[0].files
        with tempfile.TemporaryDirectory(prefix="avrgen-status-") as tmp:
            root = Path(tmp)
            for rel, data in files.items():
                path = root / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                path.chmod(0o600)
            client = DockerClient(
                compose_files=[root / agent.name / COMPOSE_FILE],
                compose_project_name=agent.project,
            )
            command = [
                *map(str, client.compose.docker_compose_cmd),
                *("--ansi", "never", "--progress", "plain", "--dry-run"),
                *("up", "--detach", "--remove-orphans"),
            ]
            try:
                proc = subprocess.run(
                    command,
                    env={**os.environ, **env},
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    errors="replace",
                    timeout=_DRY_RUN_TIMEOUT,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise ComposeError(
                    f"agent {agent.name!r}: docker compose --dry-run: {exc}"
                ) from None
        output = _redact(proc.stdout + proc.stderr, env.values())
        if proc.returncode != 0:
            lines = [line.strip() for line in output.splitlines() if line.strip()]
            detail = lines[-1] if lines else f"exit status {proc.returncode}"
            return [Difference(agent.project, "-", "compose", f"docker compose: {detail}")]
        actions = parse_dry_run(output)
        explained = {d.container for d in found}
        out: list[Difference] = []
        for container in agent.containers:
            if actions.get(container.name, set()) & _RECREATE and container.name not in explained:
                out.append(
                    Difference(
                        container.name,
                        container.role,
                        "config",
                        "configuration differs (compose would recreate it)",
                    )
                )
        return out

    def _compose_env(self, agent: AgentPlan, statuses: list[ContainerStatus]) -> dict[str, str]:
        """Secrets for compose: the real ones where set, else the running container's own."""
        env = {name: self.secrets[name] for name in agent.secrets if name in self.secrets}
        missing = agent.secrets - set(env)
        if not missing:
            return env
        by_name = {s.name: s.id for s in statuses}
        inspected = self._inspect([by_name[c.name] for c in agent.containers if c.name in by_name])
        for container in agent.containers:
            found = inspected.get(by_name.get(container.name, ""))
            current = parse_env(found.config.env) if found is not None else {}
            for key, secret in container.secret_env:
                if secret in missing and key in current and secret not in env:
                    env[secret] = current[key]
        for secret in missing - set(env):
            env[secret] = "avrgen-status-secret-not-set"  # its container is gone anyway
        return env


def _published(found: Any) -> set[int]:
    ports: set[int] = set()
    for bindings in (found.host_config.port_bindings or {}).values():
        for binding in bindings or []:
            host = (
                binding.get("HostPort")
                if isinstance(binding, dict)
                else getattr(binding, "host_port", None)
            )
            if host:
                ports.add(int(host))
    return ports


def _is_own_label(key: str) -> bool:
    return key in _OWN_LABELS or (key.startswith("avrgen.") and key != MANAGED_LABEL)


def _order(agent: AgentPlan, difference: Difference) -> tuple[int, str, int, str]:
    """Containers in the plan's order (extra ones last), then the kinds in _KIND_ORDER."""
    names = [c.name for c in agent.containers]
    at = names.index(difference.container) if difference.container in names else len(names)
    return (at, difference.container, _KIND_ORDER.index(difference.kind), difference.detail)


def _redact(text: str, values: Iterable[str]) -> str:
    for value in sorted(set(values), key=len, reverse=True):
        if len(value) >= 3:
            text = text.replace(value, "***")
    return text
