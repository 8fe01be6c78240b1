"""Drift on a Docker Engine: an agent's running containers against its plan.

Every agent's containers are read at once (`DriftChecker.load`: one `docker container ls`,
one `docker container inspect`, one `docker image inspect`). A container's configuration
is judged by its `avrgen.content-hash` label against the hash of its service rendered now
(pipeline/content_hash.py; the caller gives the hashes); what the compose file only names
is compared with `docker inspect`: the image id the tag names here, the env file's values
and the secrets set here, published ports, labels, network. Differences name env keys
only, never a value.

A container without the label (made by an older avrgen) is judged by compose itself
(engine/dry_run.py); `by="compose"` judges every container that way (the tests'
cross-check). A secret set here is compared like any value (only the key is named).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from avrgen.engine import containers
from avrgen.engine.compose import ContainerStatus, Docker, role_key
from avrgen.engine.differences import (
    Difference,
    Drift,
    env_differences,
    in_order,
    parse_env,
)
from avrgen.engine.dry_run import compose_env, compose_verdict
from avrgen.engine.images import LocalImages
from avrgen.model.labels import (
    AGENT_LABEL,
    CONTENT_HASH_LABEL,
    IMAGE_LABEL,
    MANAGED_LABEL,
    SET_LABEL,
)
from avrgen.model.plan import AgentPlan, Container, Plan

_RUNNING = frozenset({"running"})
_OWN_LABELS = frozenset({"app", "agentName", "tenant"})  # the dashboard's, set by avrgen

AgentFiles = Callable[[AgentPlan], Mapping[str, bytes]]  # an agent's rendered files, by path
AgentHashes = Callable[[AgentPlan], Mapping[str, str]]  # role -> its service's content hash


def orphans(
    docker: Docker, the_plan: Plan, known: Sequence[dict[str, Any]] | None = None
) -> dict[str, list[ContainerStatus]]:
    """Containers of this blueprint set (its label), of agents it lacks. `known`: the
    inspect data of every avrgen container of the engine (a Snapshot's), read already."""
    if known is not None:
        labels = [(d.get("Config") or {}).get("Labels") or {} for d in known]
        agents = {ls.get(AGENT_LABEL, "") for ls in labels if ls.get(SET_LABEL) == the_plan.set_id}
    else:
        command = (
            *("container", "ls", "--all", "--no-trunc"),
            *("--filter", f"label={MANAGED_LABEL}=true"),
            *("--filter", f"label={SET_LABEL}={the_plan.set_id}"),
            *("--format", '{{.Label "' + AGENT_LABEL + '"}}'),
        )
        agents = set(docker.output(*command, doing="list containers").splitlines())
    names = sorted({n.strip() for n in agents if n.strip()})
    names = [n for n in names if n not in the_plan.agents]
    found: dict[str, list[ContainerStatus]] = {}
    for each in docker.containers(names, known) if names else []:
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
        self._images = LocalImages(docker)
        self._loaded: dict[str, list[ContainerStatus]] | None = None
        self._inspected: dict[str, dict[str, Any]] = {}

    def load(
        self, agents: Sequence[AgentPlan], known: Sequence[dict[str, Any]] | None = None
    ) -> None:
        """Read what drift() compares for all of `agents` at once: one `docker container ls`,
        one `docker container inspect` of their containers, one `docker image inspect` of
        their images (instead of several engine calls an agent). `known`: the inspect data
        of every avrgen container of the engine (a Snapshot's), read already."""
        names = {a.name for a in agents}
        if known is not None:
            found = containers.of_agents(known, sorted(names))
        else:
            found = containers.inspect_agents(self.docker, sorted(names))
        self._inspected = {str(d.get("Id", "")): d for d in found}
        loaded: dict[str, list[ContainerStatus]] = {name: [] for name in names}
        scope = self.docker.scope  # this blueprint set's containers only, as containers() gives
        for status in sorted(map(containers.status_of, found), key=role_key):
            if scope is None or scope.owns(status):
                loaded.setdefault(status.agent, []).append(status)
        self._loaded = loaded
        self._images.load(sorted({c.image for a in agents for c in a.containers}))

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
                    env = compose_env(agent, statuses, self.secrets, self._inspect)
                    explained = {d.container for d in differences}
                    files = self.files(agent)
                    differences += compose_verdict(self.docker, agent, files, env, explained)
        return Drift(in_order(agent, differences), statuses, running, decided)

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
            local = self._images.local_id(planned.image)
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
            expected,
            parse_env(config.get("Env")),
            self._images.env_defaults(str(found.get("Image"))),
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


def _published(found: Mapping[str, Any]) -> set[int]:
    ports: set[int] = set()
    for bindings in ((found.get("HostConfig") or {}).get("PortBindings") or {}).values():
        for binding in bindings or []:
            host = binding.get("HostPort") if isinstance(binding, dict) else None
            if host:
                ports.add(int(host))
    return ports


def _is_own_label(key: str) -> bool:
    return key in _OWN_LABELS or (
        key.startswith("avrgen.") and key not in (MANAGED_LABEL, CONTENT_HASH_LABEL)
    )
