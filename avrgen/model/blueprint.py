"""The blueprint documents as pydantic models: the shape of each `kind`, field by field.

Rules that need more than one document (references, duplicates, mode rules, port pins)
live in pipeline/validate/; these models check one document at a time.
"""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from avrgen.model.endpoint import is_context
from avrgen.model.fields import (
    ENV_NAME_RE,
    AgentName,
    Cpus,
    DockerEndpoint,
    Duration,
    Env,
    EnvName,
    HostIp,
    HostName,
    Memory,
    NodeLabelKey,
    NodeLabelValue,
    NodeName,
    Port,
    PortRange,
    Range,
    Secret,
    SetId,
    Text,
    derived_id,
)
from avrgen.model.mounts import Files, HostPath, Mount, VolumeSpec
from avrgen.model.telephony import Number, Phone, TelephonySettings, Trunk

# the field types other modules name through this one
__all__ = [
    "ENV_NAME_RE",
    "KINDS",
    "SLOTS",
    "Agent",
    "AgentProviders",
    "Blueprint",
    "EnvName",
    "Host",
    "HostTls",
    "NetworkSettings",
    "Number",
    "Phone",
    "Placement",
    "PortRange",
    "PortSettings",
    "Provider",
    "ProviderType",
    "Resources",
    "Secret",
    "Settings",
    "SwarmSettings",
    "Target",
    "TelephonySettings",
    "Text",
    "Trunk",
]

ProviderType = Literal["ASR", "LLM", "TTS", "STS"]
SLOTS: dict[str, tuple[str, ...]] = {"pipeline": ("asr", "llm", "tts"), "sts": ("sts",)}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NetworkSettings(Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")] = "avr"
    subnet: IPv4Network | None = IPv4Network("172.20.0.0/24")


# Ports of the telephony stack and its tools (avr-infra publishes them: AMI 5038, SIP 5060
# and 5061, avr-ami 6006, Asterisk's HTTP/ARI 8088 and 8089, RTP 10000-10050) and core's
# port in avr-infra's files (5001): no agent port is allocated on them, none may be pinned.
RESERVED_PORTS: tuple[int | PortRange, ...] = (
    5001, 5038, 5060, 5061, 6006, 8088, 8089, PortRange(low=10000, high=10050)
)  # fmt: skip


class PortSettings(Strict):
    core: Range = PortRange(low=5000, high=5999)
    http: Range = PortRange(low=7000, high=7999)
    providers: Range = PortRange(low=6000, high=6999)
    reserved: tuple[Port | Range, ...] = RESERVED_PORTS

    def is_reserved(self, port: int) -> bool:
        return any(port == r if isinstance(r, int) else port in r for r in self.reserved)


class PublishSettings(Strict):
    """Where published ports bind: core's AudioSocket and /call have no authentication."""

    host_ip: HostIp = "127.0.0.1"


class CoreSettings(Strict):
    image: Text = "agentvoiceresponse/avr-core:1.12.0"
    env: Env = {}


Target = Literal["compose", "swarm"]  # what render writes: compose files or swarm stacks


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


class HostTls(Strict):
    """The client side of a TLS-protected tcp:// engine: paths relative to the blueprint
    file that says them (validate makes them relative to where avrgen runs)."""

    ca: Text
    cert: Text
    key: Text


class Host(Strict):
    """One Docker host of `hosts:`: `ssh://user@host`, `tcp://host:2376` (with `tls`), a
    `unix://` socket, or the name of a docker context."""

    docker: DockerEndpoint
    tls: HostTls | None = None

    @property
    def is_context(self) -> bool:
        return is_context(self.docker)


class Settings(Strict):
    kind: Literal["settings"] = "settings"
    # the blueprint set's id (YAML `set:`; `set` would shadow the builtin here): the label
    # `avrgen.set` on what it creates; None: the one its lock records, generated once
    set_id: SetId | None = Field(default=None, alias="set")
    target: Target = "compose"
    network: NetworkSettings = NetworkSettings()
    ports: PortSettings = PortSettings()
    publish: PublishSettings = PublishSettings()
    core: CoreSettings = CoreSettings()
    ami_url: Text = "http://avr-ami:6006"
    catalog: Text | None = None  # own provider template folder, relative to the blueprints
    swarm: SwarmSettings = SwarmSettings()
    hosts: dict[HostName, Host] = {}  # none: every agent runs on the default engine
    telephony: TelephonySettings | None = None  # avrgen renders and runs Asterisk (+ avr-ami)
    # containers `avr-<role>-<agent name>`, or `id`: `avr-<role>-<agent id>`, as the AVR
    # dashboard names them (its dialplans dial avr-core-<id>)
    container_names: Literal["name", "id"] = "name"


class ProviderConfig(Strict):
    image: Text | None = None
    env: Env = {}
    tools: HostPath | None = None  # a host folder -> the image's tools path, read-only
    volumes: tuple[VolumeSpec, ...] = ()  # compose short syntax, relative to this file
    files: Files = {}  # {container path: {secret_file: NAME}}: key files, read-only


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


class CorePublish(Strict):
    """`core.publish`: true (on the settings' publish.host_ip) or {host_ip: ADDRESS}."""

    host_ip: HostIp | None = None  # None: the settings' publish.host_ip


def _publish(value: Any) -> Any:
    """true / false as YAML writes them (and pydantic reads a bool), or a mapping."""
    if isinstance(value, dict | CorePublish) or value is None:
        return value
    try:
        flag = TypeAdapter(bool).validate_python(value)
    except ValidationError:
        raise ValueError("expected true, false or a mapping {host_ip: ADDRESS}") from None
    return CorePublish() if flag else None


class AgentCore(Strict):
    image: Text | None = None
    env: Env = {}
    volumes: tuple[VolumeSpec, ...] = ()  # compose short syntax, relative to this file
    # None: not published
    publish: Annotated[
        CorePublish | None,
        BeforeValidator(_publish),
        WithJsonSchema(
            {"anyOf": [{"type": "boolean"}, CorePublish.model_json_schema(), {"type": "null"}]}
        ),
    ] = None


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
    host: HostName | None = None  # one of the settings' `hosts`; None: the default engine

    @property
    def stable_id(self) -> UUID:
        return self.id or derived_id("agent:" + self.name)


KINDS: dict[str, type[BaseModel]] = {
    "settings": Settings,
    "provider": Provider,
    "agent": Agent,
    "number": Number,
    "phone": Phone,
    "trunk": Trunk,
}


class Blueprint(BaseModel):
    """A whole, valid blueprint set: the input of the plan stage."""

    model_config = ConfigDict(frozen=True)
    settings: Settings = Settings()
    providers: dict[str, Provider] = {}
    agents: dict[str, Agent] = {}
    numbers: dict[str, Number] = {}  # by number
    phones: dict[str, Phone] = {}
    trunks: dict[str, Trunk] = {}
    # what validate resolved: host paths relative to the blueprint folder (a provider's
    # tools, volumes and key files; an agent's core volumes), by provider / agent name
    provider_mounts: dict[str, tuple[Mount, ...]] = {}
    core_mounts: dict[str, tuple[Mount, ...]] = {}
