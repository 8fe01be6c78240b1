"""Plan stage: a valid Blueprint + the lock -> every container of every agent, fully decided.

Pure: no files, no clocks, no randomness. Ports are unique across the whole blueprint set
and stable: pins first, then what the lock recorded, then new ports from a hash of the
agent and role, so adding, removing or renaming one agent never moves another's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

from avrgen.catalog import AMI_TYPES, DEFAULT_PATHS, Catalog
from avrgen.errors import PlanError
from avrgen.model import (
    SLOTS,
    Agent,
    Blueprint,
    NetworkSettings,
    PortRange,
    Provider,
    Secret,
    SwarmSettings,
    Target,
)
from avrgen.swarm import constraints

Lock = dict[str, dict[str, int]]
EnvItems = tuple[tuple[str, str | Secret], ...]
CORE_ROLES = ("core", "http")
MANAGED_LABEL = "avrgen.managed"


@dataclass(frozen=True)
class Container:
    """One container of an agent, exactly as it will run."""

    role: str  # core | asr | llm | tts | sts
    name: str
    image: str
    env: EnvItems
    port: int
    labels: tuple[tuple[str, str], ...]
    http_port: int | None = None
    provider: str | None = None
    published: tuple[int, ...] = ()

    @cached_property  # read by the templates and by the parse-back check
    def literal_env(self) -> EnvItems:
        return tuple((k, v) for k, v in self.env if not isinstance(v, Secret))

    @cached_property
    def secret_env(self) -> tuple[tuple[str, str], ...]:
        return tuple((k, v.secret) for k, v in self.env if isinstance(v, Secret))

    def env_dict(self) -> dict[str, str | Secret]:
        return dict(self.env)


@dataclass(frozen=True)
class AgentPlan:
    name: str
    id: str
    mode: str
    tenant: str | None
    containers: tuple[Container, ...]  # providers in slot order, then core
    constraints: tuple[str, ...] = ()  # swarm placement constraints (target swarm)

    @property
    def core(self) -> Container:
        return self.containers[-1]

    @property
    def project(self) -> str:
        return f"avr-{self.name}"

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(name for c in self.containers for _, name in c.secret_env)


@dataclass(frozen=True)
class Plan:
    network: NetworkSettings
    agents: dict[str, AgentPlan]  # sorted by name
    lock: Lock
    target: Target = "compose"  # the settings' target; `render --target` may override it
    swarm: SwarmSettings = field(default_factory=SwarmSettings)

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset().union(*(a.secrets for a in self.agents.values()))


def plan(blueprint: Blueprint, lock: Lock, catalog: Catalog) -> Plan:
    """Decide every container, env value and port of every agent."""
    ports = allocate_ports(blueprint, lock)
    agents = {
        name: _plan_agent(blueprint, blueprint.agents[name], ports[name], catalog)
        for name in sorted(blueprint.agents)
    }
    settings = blueprint.settings
    return Plan(settings.network, agents, ports, settings.target, settings.swarm)


def roles_of(agent: Agent) -> tuple[str, ...]:
    return (*CORE_ROLES, *SLOTS[agent.mode])


def allocate_ports(blueprint: Blueprint, lock: Lock) -> Lock:
    """Pins win, the lock is kept where it still fits, new containers hash into free ports."""
    settings = blueprint.settings.ports
    ranges = {"core": settings.core, "http": settings.http}
    result: Lock = {name: {} for name in sorted(blueprint.agents)}
    wanted = [(name, role) for name in result for role in roles_of(blueprint.agents[name])]
    taken: set[int] = set()

    for name, role in wanted:
        pin = getattr(blueprint.agents[name].ports, role)
        if pin is not None:
            result[name][role] = pin
            taken.add(pin)
    for name, role in wanted:
        locked = lock.get(name, {}).get(role)
        port_range = ranges.get(role, settings.providers)
        if role not in result[name] and locked in port_range and locked not in taken:
            result[name][role] = locked
            taken.add(locked)
    for name, role in wanted:
        if role not in result[name]:
            port = _free_port(f"{name}/{role}", ranges.get(role, settings.providers), taken)
            if port is None:
                kind = role if role in ranges else "providers"
                raise PlanError(
                    f"no free port left in the {kind} range {ranges.get(role, settings.providers)}"
                    f" for agent {name!r} ({role}); widen `ports.{kind}` in the settings"
                )
            result[name][role] = port
            taken.add(port)
    return result


def _free_port(key: str, port_range: PortRange, taken: set[int]) -> int | None:
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    start = digest % port_range.size
    for step in range(port_range.size):
        port = port_range.low + (start + step) % port_range.size
        if port not in taken:
            return port
    return None


def _plan_agent(bp: Blueprint, agent: Agent, ports: dict[str, int], catalog: Catalog) -> AgentPlan:
    base: dict[str, str | Secret] = {"AGENT_ID": str(agent.stable_id), "AGENT_NAME": agent.name}
    containers: list[Container] = []
    urls: dict[str, str] = {}
    for slot in SLOTS[agent.mode]:
        provider = bp.providers[getattr(agent.providers, slot)]
        template = catalog.get(provider.template) if provider.template else None
        name = f"avr-{slot}-{agent.name}"
        port = ports[slot]
        env = {**base, **agent.env, **provider.config.env}
        kind = provider.type
        env[f"PROVIDER_{kind}_ID"] = str(provider.stable_id)
        env[f"PROVIDER_{kind}_NAME"] = provider.name
        env[f"PROVIDER_{kind}_TYPE"] = kind
        env["PORT"] = str(port)
        takes_ami = template.takes_ami if template else kind in AMI_TYPES
        if takes_ami:  # the provider's own AMI_URL overrides the settings' one
            env["AMI_URL"] = (
                env.pop("AMI_URL", None)
                if "AMI_URL" in provider.config.env
                else bp.settings.ami_url
            )
        path = template.url_path if template else DEFAULT_PATHS[kind]
        scheme = "ws" if kind == "STS" else "http"
        urls[f"{kind}_URL"] = f"{scheme}://{name}:{port}{path}"
        image = provider.config.image or (template.image_ref if template else "")
        containers.append(
            Container(
                role=slot,
                name=name,
                image=image,
                env=tuple(env.items()),
                port=port,
                labels=_labels(agent, name, slot, provider),
                provider=provider.name,
            )
        )
    core_env: dict[str, str | Secret] = {
        **base,
        "PORT": str(ports["core"]),
        "HTTP_PORT": str(ports["http"]),
        **urls,
        **bp.settings.core.env,
        **agent.core.env,
    }
    core_name = f"avr-core-{agent.name}"
    containers.append(
        Container(
            role="core",
            name=core_name,
            image=agent.core.image or bp.settings.core.image,
            env=tuple(core_env.items()),
            port=ports["core"],
            http_port=ports["http"],
            labels=_labels(agent, core_name, "core", None),
            published=(ports["core"], ports["http"]) if agent.core.publish else (),
        )
    )
    placement = agent.placement or bp.settings.swarm.placement
    return AgentPlan(
        agent.name,
        str(agent.stable_id),
        agent.mode,
        agent.tenant,
        tuple(containers),
        constraints(placement),
    )


def _labels(
    agent: Agent, container: str, role: str, provider: Provider | None
) -> tuple[tuple[str, str], ...]:
    labels = [("app", "AVR"), ("agentName", container)]
    if agent.tenant:
        labels.append(("tenant", agent.tenant))
    labels += [("avrgen.agent", agent.name), ("avrgen.role", role), (MANAGED_LABEL, "true")]
    if provider is not None:
        labels += [("avrgen.provider", provider.name), ("avrgen.provider-type", provider.type)]
    return tuple(labels)
