"""The blueprint documents as pydantic models: the shape of each `kind`, field by field.

Rules that need more than one document (references, duplicates, mode rules, port pins)
live in validate.py; these models check one document at a time.
"""

from __future__ import annotations

import re
from functools import lru_cache
from ipaddress import IPv4Network
from typing import Annotated, Any, Literal
from uuid import UUID, uuid5

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

ProviderType = Literal["ASR", "LLM", "TTS", "STS"]
SLOTS: dict[str, tuple[str, ...]] = {"pipeline": ("asr", "llm", "tts"), "sts": ("sts",)}
ID_NAMESPACE = UUID("6f1e0d2c-5a3b-4c7d-9e8f-a1b2c3d4e5f6")  # avrgen's uuid5 namespace


@lru_cache(maxsize=65536)  # one provider's id is asked for by every agent that uses it
def derived_id(key: str) -> UUID:
    """The stable id of a provider or agent that does not set one: uuid5 of kind and name."""
    return uuid5(ID_NAMESPACE, key)


ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EnvName = Annotated[str, StringConstraints(pattern=ENV_NAME_RE.pattern)]
AgentName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Secret(BaseModel):
    """`{secret: NAME}`: resolved by docker compose at `up`, never written to output/."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    secret: EnvName


def _env_value(value: Any) -> Any:
    if isinstance(value, dict):
        return Secret.model_validate(value)
    if not isinstance(value, str):
        raise ValueError("expected a text value or {secret: NAME}")
    if "\x00" in value:
        raise ValueError("NUL byte in value")
    return value


EnvValue = Annotated[
    str | Secret,
    BeforeValidator(_env_value),
    WithJsonSchema(
        {
            "anyOf": [
                # any YAML scalar: the loader keeps the text as written
                {"type": ["string", "number", "boolean", "null"]},
                {
                    "type": "object",
                    "properties": {"secret": {"type": "string", "pattern": ENV_NAME_RE.pattern}},
                    "required": ["secret"],
                    "additionalProperties": False,
                },
            ]
        }
    ),
]
Env = dict[EnvName, EnvValue]


def _port_range(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*-\s*\d+\s*", value):
        low, high = (int(part) for part in value.split("-"))
        return (low, high)
    if isinstance(value, str):
        raise ValueError("expected a range like 6000-6999")
    return value


class PortRange(BaseModel):
    model_config = ConfigDict(frozen=True)
    low: Port
    high: Port

    @property
    def size(self) -> int:
        return self.high - self.low + 1

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.low <= port <= self.high

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"


def _to_range(value: Any) -> Any:
    value = _port_range(value)
    if isinstance(value, tuple):
        low, high = value
        if low > high:
            raise ValueError(f"range {low}-{high} is empty")
        return PortRange(low=low, high=high)
    return value


Range = Annotated[
    PortRange,
    BeforeValidator(_to_range),
    PlainSerializer(str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+-\d+$"}),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NetworkSettings(Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")] = "avr"
    subnet: IPv4Network | None = IPv4Network("172.20.0.0/24")


class PortSettings(Strict):
    core: Range = PortRange(low=5000, high=5999)
    http: Range = PortRange(low=7000, high=7999)
    providers: Range = PortRange(low=6000, high=6999)


class CoreSettings(Strict):
    image: Text = "agentvoiceresponse/avr-core:1.12.0"
    env: Env = {}


# Docker Swarm (target: swarm). Values end up in placement constraints
# (`node.labels.KEY == VALUE`, `node.hostname == NAME`) and in `deploy.resources`, so they
# are held to what swarmkit's constraint parser and docker's units parser accept.
Target = Literal["compose", "swarm"]
NodeName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
]
NodeLabelKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
NodeLabelValue = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/-]{1,100}$")]
Cpus = Annotated[str, StringConstraints(pattern=r"^(\d{1,4}(\.\d{1,3})?|\.\d{1,3})$")]
Memory = Annotated[str, StringConstraints(pattern=r"^\d{1,9}(\.\d{1,3})?[kmgtKMGT]?[bB]?$")]
Duration = Annotated[str, StringConstraints(pattern=r"^(\d{1,6}(ns|us|ms|s|m|h))+$")]


class Placement(Strict):
    """Where an agent's containers may run: a node by hostname and/or node labels (all must
    match)."""

    node: NodeName | None = None
    labels: dict[NodeLabelKey, NodeLabelValue] = {}


class ResourceAmounts(Strict):
    cpus: Cpus | None = None
    memory: Memory | None = None


class Resources(Strict):
    limits: ResourceAmounts = ResourceAmounts()
    reservations: ResourceAmounts = ResourceAmounts()


class RestartPolicy(Strict):
    condition: Literal["any", "on-failure", "none"] = "any"
    delay: Duration = "5s"
    max_attempts: Annotated[int, Field(ge=0)] | None = None
    window: Duration | None = None


class SwarmSettings(Strict):
    placement: Placement = Placement()  # for agents without their own `placement:`
    restart: RestartPolicy = RestartPolicy()
    resources: Resources = Resources()  # for every container of every agent


class Settings(Strict):
    kind: Literal["settings"] = "settings"
    target: Target = "compose"
    network: NetworkSettings = NetworkSettings()
    ports: PortSettings = PortSettings()
    core: CoreSettings = CoreSettings()
    ami_url: Text = "http://avr-ami:6006"
    catalog: Text | None = None  # own provider template folder, relative to the blueprints
    swarm: SwarmSettings = SwarmSettings()


class ProviderConfig(Strict):
    image: Text | None = None
    env: Env = {}


class Provider(Strict):
    kind: Literal["provider"]
    name: Text
    type: ProviderType
    id: UUID | None = None
    template: Text | None = None
    config: ProviderConfig = ProviderConfig()

    @property
    def stable_id(self) -> UUID:
        return self.id or derived_id("provider:" + self.name)


class AgentProviders(Strict):
    asr: Text | None = None
    llm: Text | None = None
    tts: Text | None = None
    sts: Text | None = None


class AgentCore(Strict):
    image: Text | None = None
    env: Env = {}
    publish: bool = False


class AgentPorts(Strict):
    core: Port | None = None
    http: Port | None = None
    asr: Port | None = None
    llm: Port | None = None
    tts: Port | None = None
    sts: Port | None = None


class Agent(Strict):
    kind: Literal["agent"]
    name: AgentName
    id: UUID | None = None
    mode: Literal["sts", "pipeline"]
    providers: AgentProviders
    tenant: Text | None = None
    env: Env = {}
    core: AgentCore = AgentCore()
    ports: AgentPorts = AgentPorts()
    placement: Placement | None = None  # target swarm; default: settings' swarm.placement

    @property
    def stable_id(self) -> UUID:
        return self.id or derived_id("agent:" + self.name)


KINDS: dict[str, type[Strict]] = {"settings": Settings, "provider": Provider, "agent": Agent}


class Blueprint(BaseModel):
    """A whole, valid blueprint set: the input of the plan stage."""

    model_config = ConfigDict(frozen=True)
    settings: Settings = Settings()
    providers: dict[str, Provider] = {}
    agents: dict[str, Agent] = {}
