"""A plan: every container of every agent, fully decided (what render and the engine read)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from avrgen.model.blueprint import Host, NetworkSettings, Secret, SwarmSettings, Target

Lock = dict[str, dict[str, int]]


EnvItems = tuple[tuple[str, str | Secret], ...]


CORE_ROLES = ("core", "http")


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
    platform: str | None = None  # the image's, from its catalog template (linux/amd64)
    host_ip: str | None = None  # where the published ports bind

    @property
    def port_mappings(self) -> tuple[str, ...]:
        """Compose's short syntax of each published port, bound to `host_ip`."""
        ip = self.host_ip or "0.0.0.0"
        bind = f"[{ip}]" if ":" in ip else ip
        return tuple(f"{bind}:{port}:{port}" for port in self.published)

    @cached_property  # read by the templates and by the parse-back check
    def literal_env(self) -> EnvItems:
        return tuple((k, v) for k, v in self.env if not isinstance(v, Secret))

    @cached_property
    def platform_constraints(self) -> tuple[str, ...]:
        """Swarm's form of `platform:` (which `docker stack deploy` refuses, docker/cli#6542):
        placement on nodes of that OS and architecture (as nodes report it: x86_64, aarch64)."""
        if self.platform is None:
            return ()
        os_name, _, arch = self.platform.partition("/")
        arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)
        return (f"node.platform.os == {os_name}", f"node.platform.arch == {arch}")

    @cached_property
    def secret_env(self) -> tuple[tuple[str, str], ...]:
        return tuple((k, v.secret) for k, v in self.env if isinstance(v, Secret))


@dataclass(frozen=True)
class AgentPlan:
    name: str
    id: str
    mode: str
    tenant: str | None
    containers: tuple[Container, ...]  # providers in slot order, then core
    constraints: tuple[str, ...] = ()  # swarm placement constraints (target swarm)
    host: str | None = None  # which of the plan's `hosts` runs it; None: the default engine

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
    hosts: dict[str, Host] = field(default_factory=dict)  # the settings' Docker hosts

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset().union(*(a.secrets for a in self.agents.values()))

    def on_host(self, host: str | None) -> Plan:
        """The plan of one host's engine: the agents placed on it (None: the default
        engine), so that its containers of any other agent are orphans there."""
        return replace(self, agents={n: a for n, a in self.agents.items() if a.host == host})

    @property
    def hosts_in_use(self) -> list[str | None]:
        """Every host of the inventory, after the default engine when an agent runs there."""
        default: list[str | None] = (
            [None] if any(a.host is None for a in self.agents.values()) else []
        )
        return [*default, *sorted(self.hosts)]
