"""The shared network every agent joins: a bridge for compose, an overlay for swarm.

avrgen creates it when missing (labelled as its own), and otherwise uses it as it is,
with a warning where it differs from the settings: it may carry other agents' containers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from avrgen.engine.docker import Engine, last_line
from avrgen.errors import ComposeError
from avrgen.model.labels import MANAGED_LABEL, SET_LABEL

if TYPE_CHECKING:  # pydantic's models: not for a listing
    from avrgen.model.blueprint import NetworkSettings

# how the docker CLI (`No such network: X`) and the engine (`network X not found`) say it
NO_SUCH_NETWORK = re.compile(r"no such network|network \S+ not found", re.IGNORECASE)


@dataclass(frozen=True)
class NetworkInfo:
    """A network as `docker network inspect` reports it: what avrgen reads of it."""

    id: str
    driver: str
    scope: str
    attachable: bool
    subnets: tuple[str, ...]
    labels: Mapping[str, str]
    # each endpoint's key (a container id, or `lb-<network>`) and container name
    endpoints: Mapping[str, str]


def inspect_network(engine: Engine, name: str) -> NetworkInfo | None:
    """The network `name`; None when it does not exist."""
    found = engine.inspected(
        "network", "inspect", name, doing=f"inspect network {name!r}", missing=NO_SUCH_NETWORK
    )
    if not found:
        return None
    data = found[0]
    ipam = (data.get("IPAM") or {}).get("Config") or []
    return NetworkInfo(
        id=str(data.get("Id", "")),
        driver=str(data.get("Driver", "")),
        scope=str(data.get("Scope", "")),
        attachable=bool(data.get("Attachable")),
        subnets=tuple(str(c["Subnet"]) for c in ipam if isinstance(c, dict) and c.get("Subnet")),
        labels=data.get("Labels") or {},
        endpoints={
            str(key): str((each or {}).get("Name", ""))
            for key, each in (data.get("Containers") or {}).items()
        },
    )


def create_network(
    engine: Engine, settings: NetworkSettings, overlay: bool, set_id: str | None = None
) -> str | None:
    """Create the network (an attachable overlay one for swarm), labelled with the set
    that made it; a note, or None when someone else created a bridge network of that name
    meanwhile."""
    from python_on_whales.exceptions import DockerException

    name = settings.name
    subnet = str(settings.subnet) if settings.subnet is not None else None
    what = "overlay network" if overlay else "network"
    try:
        engine.client.network.create(
            name,
            driver="overlay" if overlay else "bridge",
            attachable=overlay,
            subnet=subnet,
            labels={MANAGED_LABEL: "true", **({SET_LABEL: set_id} if set_id else {})},
        )
    except DockerException as exc:
        if not overlay and engine.client.network.exists(name):
            return None
        raise ComposeError(
            f"cannot create {'the ' if overlay else ''}{what} {name!r}"
            + (f" with subnet {subnet}" if subnet else "")
            + f": {last_line(exc)}"
        ) from None
    return f"created {what} {name}" + (f" (subnet {subnet})" if subnet else "")


def ensure_bridge(
    engine: Engine, settings: NetworkSettings, set_id: str | None = None
) -> str | None:
    """Create the shared bridge network when missing; a note for the user, or None."""
    network = inspect_network(engine, settings.name)
    if network is None:
        return create_network(engine, settings, overlay=False, set_id=set_id)
    if settings.subnet is None or str(settings.subnet) in network.subnets:
        return None
    return (
        f"warning: network {settings.name} exists with subnet "
        f"{', '.join(network.subnets) or 'none'}, not {settings.subnet} as configured; "
        "using it as it is (`avrgen down --all --network` removes it)"
    )


def ensure_overlay(
    engine: Engine, settings: NetworkSettings, set_id: str | None = None
) -> str | None:
    """Create the shared attachable overlay network when missing; a note, or None."""
    name = settings.name
    network = inspect_network(engine, name)
    if network is None:
        return create_network(engine, settings, overlay=True, set_id=set_id)
    if network.driver != "overlay" or network.scope != "swarm":
        raise ComposeError(
            f"network {name!r} exists as a {network.driver} network ({network.scope} scope), "
            "not a swarm overlay network (it may come from `avrgen up`, the compose target); "
            f"remove it (`avrgen down --all --network`) or set another `network.name` in the "
            "settings"
        )
    notes = []
    if not network.attachable:
        notes.append("is not attachable (standalone containers cannot join it)")
    subnet = str(settings.subnet) if settings.subnet is not None else None
    if subnet is not None and subnet not in network.subnets:
        notes.append(
            f"has subnet {', '.join(network.subnets) or 'none'}, not {subnet} as configured"
        )
    if notes:
        return f"warning: overlay network {name} {' and '.join(notes)}; using it as it is"
    return None


def container_users(network: NetworkInfo) -> set[str]:
    """The containers (of this engine) on `network`; not an overlay's own load-balancer
    endpoint (`lb-<network>`, named `<network>-endpoint`), which swarm keeps on a node
    where a standalone container was attached, and which goes with the network."""
    return {name for key, name in network.endpoints.items() if not key.startswith("lb-")}


def created_by_avrgen(engine: Engine, name: str) -> bool:
    """True when network `name` carries avrgen's label (avrgen removes no other network)."""
    found = inspect_network(engine, name)
    return found is not None and found.labels.get(MANAGED_LABEL) == "true"


# Docker's refusal to remove a network an endpoint is still counted on
ACTIVE_ENDPOINTS = "has active endpoints"


def remove_network(engine: Engine, name: str) -> None:
    """Remove network `name`, which no container uses. Docker 20.10 can keep counting an
    endpoint of a container already removed (moby#17217: the network "has active endpoints"
    though inspect lists none, and no `network disconnect --force` finds it); only a restart
    of the engine clears that count, so the error says so."""
    from python_on_whales.exceptions import DockerException

    try:
        engine.client.network.remove(name)
    except DockerException as exc:
        reason = last_line(exc)
        found = inspect_network(engine, name) if ACTIVE_ENDPOINTS in reason else None
        if found is not None and not container_users(found):
            reason += (
                "; no container is on it: the engine still counts an endpoint of one removed "
                "before (a fault of its network store), which restarting the engine clears"
            )
        raise ComposeError(f"cannot remove network {name!r}: {reason}") from None
