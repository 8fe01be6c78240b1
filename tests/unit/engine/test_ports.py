"""The host-port pre-check of `up` (engine/ports.py): who holds a port, in which words."""

from __future__ import annotations

import socket

import pytest

from avrgen.engine.ports import held_by_a_process, port_message
from avrgen.model.plan import AgentPlan, Container


@pytest.mark.parametrize(
    ("family", "address", "v6only"),
    [(socket.AF_INET, "0.0.0.0", False), (socket.AF_INET6, "::", True)],
    ids=["ipv4", "ipv6-only"],
)
def test_a_listener_holds_its_port(family: int, address: str, v6only: bool) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        if v6only:
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        listener.bind((address, 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert held_by_a_process(port)
    assert not held_by_a_process(port)


def test_the_message_names_cores_http_port_as_such() -> None:
    core = Container(
        "core", "avr-core-x", "img", (), 5001, (), http_port=7001, published=(5001, 7001)
    )
    agent = AgentPlan("x", "id", "sts", None, (core,))
    assert "role core HTTP, container avr-core-x" in port_message(agent, core, 7001, "x")
    assert "role core, container avr-core-x" in port_message(agent, core, 5001, "x")
