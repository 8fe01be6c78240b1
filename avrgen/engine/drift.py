"""Drift on a Docker Engine: an agent's running containers against its plan.

Every agent's containers are read at once (`DriftChecker.load`: one `docker container ls`,
one `docker container inspect`, one `docker image inspect`). A container's configuration
is judged by its `avrgen.content-hash` label against the hash of its service rendered now
(pipeline/content_hash.py; the caller gives the hashes); what the compose file only names
is compared with `docker inspect`: the image id the tag names here, the env file's values
and the secrets set here, published ports, labels, network. Differences name env keys
only, never a value.

A container without the label (made by an older avrgen) is judged by compose itself: the
agent's rendered files (given in memory by the caller, written to a private temporary
folder, so a stale output/ does not matter and nothing in output/ is touched) go through
`docker compose --dry-run up`, which compares its config hash (env files resolved, secrets
interpolated) and image with every container's `com.docker.compose.*` labels, exactly as a
real `up` would; `by="compose"` judges every container that way (the tests' cross-check).

Secrets: compose needs a value for every `${NAME:?}` to read the file at all. A secret set
here is compared like any value (only the key is named); one not set here is given to
compose as the running container's own value (held in memory only, never shown), so every
other difference is still found.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from python_on_whales.exceptions import DockerException
from python_on_whales.utils import run

from avrgen.engine import containers
from avrgen.engine.compose import ContainerStatus, Docker, role_key
from avrgen.engine.docker import last_line
from avrgen.engine.secrets import redact
from avrgen.errors import ComposeError
from avrgen.model.labels import (
    AGENT_LABEL,
    CONTENT_HASH_LABEL,
    IMAGE_LABEL,
    MANAGED_LABEL,
    SET_LABEL,
)
from avrgen.model.output import COMPOSE_FILE
from avrgen.model.plan import AgentPlan, Container, Plan

DiffKind = Literal[
    "image", "env", "ports", "labels", "network", "config", "missing", "extra", "stopped", "compose"
]
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

AgentFiles = Callable[[AgentPlan], Mapping[str, bytes]]  # an agent's rendered files, by path
AgentHashes = Callable[[AgentPlan], Mapping[str, str]]  # role -> its service's content hash


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


@dataclass(frozen=True)
class Drift:
    """How an agent's containers differ from its plan, and how many of them run."""

    differences: list[Difference]
    containers: list[ContainerStatus]
    running: int
    decided: bool = True  # False: no content hash to judge by, and compose was not asked


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


def orphans(docker: Docker, the_plan: Plan) -> dict[str, list[ContainerStatus]]:
    """Containers of this blueprint set (its label), of agents it lacks."""
    command = docker.command(
        *("container", "ls", "--all", "--no-trunc"),
        *("--filter", f"label={MANAGED_LABEL}=true"),
        *("--filter", f"label={SET_LABEL}={the_plan.set_id}"),
        *("--format", '{{.Label "' + AGENT_LABEL + '"}}'),
    )
    try:
        listed = run(command)
    except DockerException as exc:
        raise ComposeError(f"cannot list containers: {last_line(exc)}") from None
    names = sorted({n.strip() for n in str(listed).splitlines() if n.strip()})
    names = [n for n in names if n not in the_plan.agents]
    found: dict[str, list[ContainerStatus]] = {}
    for each in docker.containers(names) if names else []:
        found.setdefault(each.agent, []).append(dataclasses.replace(each, orphan=True))
    return {name: sorted(found[name], key=role_key) for name in sorted(found)}


class DriftChecker:
    """Compares agents of one plan with their containers; `secrets`: the values set here,
    `files`: an agent's rendered files (what compose's dry run reads), `hashes`: the
    content hash of each of its rendered services, by role.

    `by`: how a container's configuration is judged: "hash" (its avrgen.content-hash label
    against the rendered service's, compose asked only about containers without the label,
    made by an older avrgen), "compose" (always compose's dry run: the tests' cross-check),
    or "hash-only" (`up`: a container without the label is left undecided, `Drift.decided`
    false, and compose brings the agent up as before)."""

    def __init__(
        self,
        docker: Docker,
        the_plan: Plan,
        secrets: Mapping[str, str],
        files: AgentFiles,
        hashes: AgentHashes,
        by: Literal["hash", "compose", "hash-only"] = "hash",
    ) -> None:
        self.docker = docker
        self.plan = the_plan
        self.secrets = secrets
        self.files = files
        self.hashes = hashes
        self.by = by
        self._image_env: dict[str, dict[str, str]] = {}
        self._local_images: dict[str, str | None] = {}
        self._loaded: dict[str, list[ContainerStatus]] | None = None
        self._inspected: dict[str, dict[str, Any]] = {}

    def load(self, agents: Sequence[AgentPlan]) -> None:
        """Read what drift() compares for all of `agents` at once: one `docker container ls`,
        one `docker container inspect` of their containers, one `docker image inspect` of
        their images (instead of several engine calls an agent)."""
        names = {a.name for a in agents}
        projects = {a.project for a in agents}
        rows = containers.listed(self.docker, managed_only=True)
        ids = [r.id for r in rows if r.agent in names or r.project in projects]
        found = [d for d in containers.inspect(self.docker, ids) if containers.is_managed(d)]
        self._inspected = {str(d.get("Id", "")): d for d in found}
        loaded: dict[str, list[ContainerStatus]] = {name: [] for name in names}
        scope = self.docker.scope  # this blueprint set's containers only, as containers() gives
        for status in sorted(map(containers.status_of, found), key=role_key):
            if scope is None or scope.owns(status):
                loaded.setdefault(status.agent, []).append(status)
        self._loaded = loaded
        self._load_images(sorted({c.image for a in agents for c in a.containers}))

    def drift(self, agent: AgentPlan) -> Drift:
        if self._loaded is not None and agent.name in self._loaded:
            statuses = self._loaded[agent.name]
            inspected = self._inspected
        else:
            statuses = self.docker.containers([agent.name])
            inspected = self._inspect([s.id for s in statuses])
        by_name = {s.name: s for s in statuses}
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
        decided = True
        if any(s.name in planned_names for s in statuses):
            if self.by != "compose":
                differences += self._hash_verdict(agent, statuses, differences)
            if self.by == "compose" or self._unhashed(agent, statuses):
                if self.by == "hash-only":
                    decided = False
                else:
                    differences += self._compose_verdict(agent, statuses, differences)
        differences = sorted(set(differences), key=lambda d: _order(agent, d))
        return Drift(differences, statuses, running, decided)

    # -- the content-hash label against the rendered service -----------------------------------

    def _unhashed(self, agent: AgentPlan, statuses: list[ContainerStatus]) -> bool:
        """Some planned container exists without a content-hash label (or the rendered
        files have none): the hash cannot decide, compose must."""
        planned = self.hashes(agent)
        for status in statuses:
            role = self._role_of(agent, status.name)
            if role is None:
                continue
            if role not in planned or CONTENT_HASH_LABEL not in self._labels(status.id):
                return True
        return False

    def _hash_verdict(
        self, agent: AgentPlan, statuses: list[ContainerStatus], found: list[Difference]
    ) -> list[Difference]:
        """A container whose content-hash label differs from its rendered service's (and
        whose difference the comparison above did not already name)."""
        planned = self.hashes(agent)
        explained = {d.container for d in found}
        out: list[Difference] = []
        for status in statuses:
            role = self._role_of(agent, status.name)
            recorded = self._labels(status.id).get(CONTENT_HASH_LABEL)
            if role is None or role not in planned or recorded is None:
                continue
            if recorded != planned[role] and status.name not in explained:
                out.append(
                    Difference(
                        status.name, role, "config", "configuration differs (its content hash)"
                    )
                )
        return out

    @staticmethod
    def _role_of(agent: AgentPlan, name: str) -> str | None:
        return next((c.role for c in agent.containers if c.name == name), None)

    def _labels(self, container_id: str) -> dict[str, str]:
        data = self._inspected.get(container_id) or self._inspect([container_id]).get(container_id)
        labels = ((data or {}).get("Config") or {}).get("Labels") or {}
        return labels if isinstance(labels, dict) else {}

    # -- docker inspect against the plan ------------------------------------------------------

    def _inspect(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Raw `docker container inspect` data by id, in one call."""
        found = {str(d.get("Id", "")): d for d in containers.inspect(self.docker, ids)}
        self._inspected.update(found)
        return found

    def _load_images(self, references: Sequence[str]) -> None:
        """The local id and env of each image reference, from one `docker image inspect`."""
        wanted = [r for r in references if r not in self._local_images]
        if not wanted:
            return
        proc = subprocess.run(
            self.docker.command("image", "inspect", *wanted),
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
        )
        try:
            found = json.loads(proc.stdout or "[]")
        except json.JSONDecodeError:
            found = []
        tags: dict[str, dict[str, Any]] = {}
        for image in found if isinstance(found, list) else []:
            for name in [*(image.get("RepoTags") or []), *(image.get("RepoDigests") or [])]:
                tags[name] = image
            tags[str(image.get("Id", ""))] = image
        for reference in wanted:
            image = tags.get(reference) or tags.get(_with_tag(reference))
            self._local_images[reference] = str(image["Id"]) if image else None
            if image is not None:
                self._image_env[str(image["Id"])] = parse_env(
                    (image.get("Config") or {}).get("Env")
                )

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
        if reference not in self._local_images:
            try:
                self._local_images[reference] = str(self.docker.client.image.inspect(reference).id)
            except DockerException:
                self._local_images[reference] = None
        return self._local_images[reference]

    def _compare(
        self, agent: AgentPlan, planned: Container, found: Mapping[str, Any] | None
    ) -> list[Difference]:
        if found is None:
            return []
        name, role = planned.name, planned.role
        out: list[Difference] = []
        config = found.get("Config") or {}
        labels: dict[str, str] = dict(config.get("Labels") or {})
        image = str(config.get("Image", ""))
        if image != planned.image:
            out.append(Difference(name, role, "image", f"image {image} -> {planned.image}"))
        else:
            local = self._local_image_id(planned.image)
            running_id = str(found.get("Image") or labels.get(IMAGE_LABEL) or local)
            if local is not None and running_id != local:
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
            expected, parse_env(config.get("Env")), self._image_defaults(str(found.get("Image")))
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
        networks = set((found.get("NetworkSettings") or {}).get("Networks") or {})
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
        files = self.files(agent)
        with tempfile.TemporaryDirectory(prefix="avrgen-status-") as tmp:
            root = Path(tmp)
            for rel, data in files.items():
                path = root / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                path.chmod(0o600)
            client = self.docker.compose_client(root / agent.name / COMPOSE_FILE, agent.project)
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
        output = redact(proc.stdout + proc.stderr, env.values())
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
            current = parse_env((found.get("Config") or {}).get("Env")) if found else {}
            for key, secret in container.secret_env:
                if secret in missing and key in current and secret not in env:
                    env[secret] = current[key]
            # a key file's host path: where the running container's mount comes from
            mounts = (found.get("Mounts") or []) if found else []
            sources = {m.get("Destination"): m.get("Source") for m in mounts}
            for mount in container.key_files:
                if mount.secret in missing and mount.secret not in env:
                    source = sources.get(mount.target)
                    if source is not None:
                        env[mount.secret] = str(source)
        for secret in missing - set(env):
            env[secret] = "avrgen-status-secret-not-set"  # its container is gone anyway
        return env


def _published(found: Mapping[str, Any]) -> set[int]:
    ports: set[int] = set()
    for bindings in ((found.get("HostConfig") or {}).get("PortBindings") or {}).values():
        for binding in bindings or []:
            host = binding.get("HostPort") if isinstance(binding, dict) else None
            if host:
                ports.add(int(host))
    return ports


def _with_tag(reference: str) -> str:
    """`name` as docker lists it among an image's tags: `name:latest` without tag or digest."""
    last = reference.rsplit("/", 1)[-1]
    return reference if ":" in last or "@" in reference else f"{reference}:latest"


def _is_own_label(key: str) -> bool:
    return key in _OWN_LABELS or (
        key.startswith("avrgen.") and key not in (MANAGED_LABEL, CONTENT_HASH_LABEL)
    )


def _order(agent: AgentPlan, difference: Difference) -> tuple[int, str, int, str]:
    """Containers in the plan's order (extra ones last), then the kinds in _KIND_ORDER."""
    names = [c.name for c in agent.containers]
    at = names.index(difference.container) if difference.container in names else len(names)
    return (at, difference.container, _KIND_ORDER.index(difference.kind), difference.detail)
