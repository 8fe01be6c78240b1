"""Provenance of an agent's containers (`avrgen explain`): each final value of the plan and
what set it: a blueprint's (or an overlay's) file:line, a catalog template, the port lock,
a default, or avrgen itself.

Pure. The values are the plan's, never recomputed here; for each one the candidates that
could have set it are tried in the plan's order of precedence, and a candidate counts only
if what it wrote is the final value, so a source shown always holds the value shown.
Secret values are never in a blueprint, only their names: `{secret: NAME}` is shown as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from avrgen.model.blueprint import Blueprint, Secret
from avrgen.model.document import Document, FieldPath
from avrgen.model.plan import AgentPlan, Container, Lock, Plan
from avrgen.pipeline.overlay import identity
from avrgen.pipeline.validate import SECRET_LOOKING

AVRGEN = "avrgen sets it"
DEFAULT = "avrgen default"


@dataclass(frozen=True)
class Value:
    field: str  # image, env.KEY, port, ...
    value: str  # as shown: a secret as {secret: NAME}, a secret-looking literal masked
    source: str  # file:line, "catalog template X", "allocated (...)", avrgen's


@dataclass(frozen=True)
class ContainerExplanation:
    name: str
    role: str
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Explanation:
    agent: str
    environment: str | None
    containers: tuple[ContainerExplanation, ...]


@dataclass(frozen=True)
class _Sources:
    """The documents of one agent's plan, found by kind and name."""

    agent: Document
    settings: Document | None
    providers: dict[str, Document]
    locks: Sequence[tuple[str, Lock]]  # (where, lock), in the order the plan reads them


def explain(
    the_plan: Plan,
    blueprint: Blueprint,
    documents: Sequence[Document],
    agent: str,
    locks: Sequence[tuple[str, Lock]],
    environment: str | None = None,
) -> Explanation:
    """Every value of `agent`'s containers in `the_plan`, with what set it. `documents`:
    the loaded (and overlaid) documents `blueprint` was validated from; `locks`: the port
    locks the plan started from, first the one that wins."""
    by_identity: dict[tuple[str, str], Document] = {}
    for document in documents:
        found = identity(document)
        if found is not None:
            by_identity.setdefault(found, document)
    sources = _Sources(
        agent=by_identity[("agent", agent)],
        settings=by_identity.get(("settings", "")),
        providers={
            name: by_identity[("provider", name)]
            for name in blueprint.providers
            if ("provider", name) in by_identity
        },
        locks=locks,
    )
    planned = the_plan.agents[agent]
    containers = tuple(
        ContainerExplanation(c.name, c.role, tuple(_container(c, planned, blueprint, sources)))
        for c in planned.containers
    )
    return Explanation(agent, environment, containers)


def _container(
    container: Container, planned: AgentPlan, blueprint: Blueprint, sources: _Sources
) -> list[Value]:
    is_core = container.role == "core"
    provider = container.provider
    values = [Value("image", container.image, _image(container, blueprint, sources))]
    if container.platform is not None:
        template = blueprint.providers[provider].template if provider else None
        values.append(Value("platform", container.platform, f"catalog template {template}"))
    if planned.host is not None:
        values.append(Value("host", planned.host, _at(sources.agent, ("host",))))
    network = blueprint.settings.network.name
    values.append(Value("network", network, _setting(sources, ("network", "name"), network)))
    port = _port(planned.name, container.role, container.port, sources)
    values.append(Value("port", str(container.port), port))
    if container.http_port is not None:
        http = _port(planned.name, "http", container.http_port, sources)
        values.append(Value("http_port", str(container.http_port), http))
    if container.published:
        publish = _at(sources.agent, ("core", "publish"))
        host_ip = container.host_ip or ""
        own = ("core", "publish", "host_ip")
        ip_source = (
            _at(sources.agent, own)
            if _written(sources.agent, own) == host_ip
            else _setting(sources, ("publish", "host_ip"), host_ip)
        )
        values.append(Value("published", ", ".join(container.port_mappings), publish))
        values.append(Value("publish.host_ip", host_ip, ip_source))
    for key, value in container.env:
        values.append(
            Value(f"env.{key}", _shown(key, value), _env(key, value, container, is_core, sources))
        )
    for key, label in container.labels:
        where = _at(sources.agent, ("tenant",)) if key == "tenant" else AVRGEN
        values.append(Value(f"labels.{key}", label, where))
    return values


def _image(container: Container, blueprint: Blueprint, sources: _Sources) -> str:
    if container.role == "core":
        if _written(sources.agent, ("core", "image")) == container.image:
            return _at(sources.agent, ("core", "image"))
        return _setting(sources, ("core", "image"), container.image)
    provider = container.provider or ""
    document = sources.providers.get(provider)
    if document is not None and _written(document, ("config", "image")) == container.image:
        return _at(document, ("config", "image"))
    return f"catalog template {blueprint.providers[provider].template}"


def _env(
    key: str, value: str | Secret, container: Container, is_core: bool, sources: _Sources
) -> str:
    if key in ("PORT", "HTTP_PORT"):
        return AVRGEN + " (the container's port)"
    agent = sources.agent
    candidates: list[tuple[Document | None, FieldPath]]
    if is_core:
        candidates = [(agent, ("core", "env", key)), (sources.settings, ("core", "env", key))]
    else:
        provider = sources.providers.get(container.provider or "")
        candidates = [(provider, ("config", "env", key)), (agent, ("env", key))]
    if key == "AGENT_ID":
        candidates = [(agent, ("id",))]
    for document, path in candidates:
        if document is not None and _same(_written(document, path), value):
            return _at(document, path)
    if key == "AMI_URL":
        return _setting(sources, ("ami_url",), value)
    return AVRGEN  # AGENT_ID, AGENT_NAME, PROVIDER_*, the providers' URLs in core


def _port(agent: str, role: str, port: int, sources: _Sources) -> str:
    pin = ("ports", role)
    if _same(_written(sources.agent, pin), port):
        return _at(sources.agent, pin)
    for where, lock in sources.locks:
        if lock.get(agent, {}).get(role) == port:
            return f"allocated ({where})"
    return f"allocated (new: render records it in {sources.locks[0][0]})"


def _setting(sources: _Sources, path: FieldPath, value: object) -> str:
    settings = sources.settings
    if settings is not None and _same(_written(settings, path), value):
        return _at(settings, path)
    return DEFAULT


def _written(document: Document, path: FieldPath) -> Any:
    """What the document wrote at `path` (None when nothing)."""
    current: Any = document.data
    for step in path:
        if not isinstance(current, dict) or step not in current:
            return None
        current = current[step]
    return current


def _same(written: Any, value: object) -> bool:
    if isinstance(value, Secret):
        return isinstance(written, dict) and written.get("secret") == value.secret
    return isinstance(written, str) and written == str(value)


def _at(document: Document, path: FieldPath) -> str:
    file, line = document.position(path)
    return f"{file}:{line}"


def _shown(key: str, value: str | Secret) -> str:
    if isinstance(value, Secret):
        return f"{{secret: {value.secret}}}"
    if SECRET_LOOKING.search(key) and value:
        return "*** (a literal; masked)"
    return value
