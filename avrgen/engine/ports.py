"""Published host ports: who holds one, checked before `up` starts anything, and read
from docker's message when one was taken in between."""

from __future__ import annotations

import errno
import re
import socket
from typing import TYPE_CHECKING

from avrgen.engine.containers import inspect, list_containers
from avrgen.engine.docker import Engine
from avrgen.errors import ComposeError

if TYPE_CHECKING:  # pydantic's models: not for a listing
    from avrgen.model.plan import AgentPlan, Container

_PORT_TAKEN = re.compile(
    r"(?:0\.0\.0\.0|\[?::\]?|127\.0\.0\.1|[\d.]+):(\d+)[^\n]*?"
    r"(?:address already in use|port is already allocated)"
    r"|Bind for [^:\s]*:(\d+) failed"
)


def taken_port(text: str) -> int | None:
    """The host port docker's output says is taken, if it says so."""
    taken = _PORT_TAKEN.search(text)
    return int(taken.group(1) or taken.group(2)) if taken else None


def check_ports(engine: Engine, agent: AgentPlan) -> None:
    """A published port already held by something else: fail before starting anything."""
    own = {
        int(port.split("->")[0].rsplit(":", 1)[-1])
        for status in list_containers(engine, [agent.name])
        if status.state in ("running", "restarting")
        for port in status.ports
    }
    for container in agent.containers:
        for port in container.published:
            if port in own:
                continue
            holder = port_holder(engine, port)
            if holder is not None:
                raise ComposeError(port_message(agent, container, port, holder))


def port_holder(engine: Engine, port: int) -> str | None:
    """Who holds host port `port`: a container's name, "another process", or None."""
    from python_on_whales.exceptions import DockerException

    try:
        listed = engine.client.container.list(filters=[("publish", str(port))])
    except DockerException:
        listed = []
    for data in inspect(engine, [c.id for c in listed]):
        return f"container {str(data.get('Name', '')).lstrip('/')}"
    if engine.host_name is not None:  # a remote engine: docker's own error tells, if any
        return None
    return "another process on this host" if held_by_a_process(port) else None


def held_by_a_process(port: int) -> bool:
    """True when binding `port` fails because something listens on it, over IPv4 or IPv6
    (a listener on `::` alone leaves the IPv4 port free, yet docker's IPv6 binding fails)."""
    probes = [(socket.AF_INET, "0.0.0.0")]
    if socket.has_ipv6:
        probes.append((socket.AF_INET6, "::"))
    for family, address in probes:
        try:
            probe = socket.socket(family, socket.SOCK_STREAM)
        except OSError:  # no IPv6 on this host: nothing listens there
            continue
        with probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind((address, port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return True
    return False


def port_message(agent: AgentPlan, container: Container, port: int, holder: str) -> str:
    role = f"{container.role} HTTP" if port == container.http_port else container.role
    return (
        f"host port {port} (agent {agent.name!r}, role {role}, container "
        f"{container.name}) is already taken by {holder}; free it, or pin another port in "
        f"the agent's `ports:` and render again"
    )
