"""The reusable field types of the blueprint models: names, text, ports and port ranges,
env values (text or a secret), and the swarm values held to what docker accepts."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import Annotated, Any
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

from avrgen.model.names import AGENT_NAME_RE, SET_ID_RE

ID_NAMESPACE = UUID("6f1e0d2c-5a3b-4c7d-9e8f-a1b2c3d4e5f6")  # avrgen's uuid5 namespace


@lru_cache(maxsize=65536)  # one provider's id is asked for by every agent that uses it
def derived_id(key: str) -> UUID:
    """The stable id of a provider or agent that does not set one: uuid5 of kind and name."""
    return uuid5(ID_NAMESPACE, key)


ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EnvName = Annotated[str, StringConstraints(pattern=ENV_NAME_RE.pattern)]
AgentName = Annotated[str, StringConstraints(pattern=AGENT_NAME_RE.pattern)]
SetId = Annotated[str, StringConstraints(pattern=SET_ID_RE.pattern)]
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


def _host_ip(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("expected an IP address such as 127.0.0.1 or ::1")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError("not an IP address (such as 127.0.0.1 or ::1)") from None


# where published ports bind: an IPv4 or IPv6 address, kept as its canonical text
HostIp = Annotated[str, BeforeValidator(_host_ip)]

Range = Annotated[
    PortRange,
    BeforeValidator(_to_range),
    PlainSerializer(str),
    WithJsonSchema({"type": "string", "pattern": r"^\d+-\d+$"}),
]


# Docker Swarm (target: swarm). Values end up in placement constraints
# (`node.labels.KEY == VALUE`, `node.hostname == NAME`) and in `deploy.resources`, so they
# are held to what swarmkit's constraint parser and docker's units parser accept.
NodeName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
]
NodeLabelKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
NodeLabelValue = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/-]{1,100}$")]
Cpus = Annotated[str, StringConstraints(pattern=r"^(\d{1,4}(\.\d{1,3})?|\.\d{1,3})$")]
Memory = Annotated[str, StringConstraints(pattern=r"^\d{1,9}(\.\d{1,3})?[kmgtKMGT]?[bB]?$")]
Duration = Annotated[str, StringConstraints(pattern=r"^(\d{1,6}(ns|us|ms|s|m|h))+$")]


# a Docker host of `hosts:`: its name, and how its engine is reached (docker's own --host
# forms, or the name of a docker context)
HostName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]
DockerEndpoint = Annotated[
    str,
    StringConstraints(
        pattern=r"^((ssh|tcp|unix|npipe)://[^\s]{1,250}|[A-Za-z0-9][A-Za-z0-9_.+-]{0,99})$"
    ),
]
