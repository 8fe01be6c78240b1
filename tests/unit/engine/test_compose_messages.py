"""How the compose target reads docker compose's output, on lines recorded from the real
Docker Engine 20.10 / Compose v2.40 (the docker tests reach most of these paths for real;
the port-taken fallback only runs when a port is taken between avrgen's own check and
compose's start, so its messages are pinned here)."""

from __future__ import annotations

import pytest

from avrgen.engine.failures import crashed, waited_for
from avrgen.engine.ports import taken_port
from avrgen.engine.up import changed, transient


@pytest.mark.parametrize(
    ("line", "port"),
    [
        (
            "Error response from daemon: driver failed programming external connectivity on "
            "endpoint avr-core-pipe (652a37253bf2): Error starting userland proxy: listen tcp4 "
            "0.0.0.0:15105: bind: address already in use",
            15105,
        ),
        (
            "Error response from daemon: driver failed programming external connectivity on "
            "endpoint avr-core-x (1f2e): Bind for 0.0.0.0:5001 failed: port is already allocated",
            5001,
        ),
    ],
)
def test_port_taken(line: str, port: int) -> None:
    assert taken_port(line) == port


def test_no_port_taken() -> None:
    assert taken_port("Error response from daemon: no such image") is None


def test_wait_failures() -> None:
    assert crashed("container avr-sts-crash is unhealthy")
    assert crashed("container avr-sts-crash exited (1)")
    assert not crashed("container avr-sts-crash Started")
    assert waited_for("application not healthy after 1s") == "1s"
    assert waited_for("container avr-sts-crash is unhealthy") is None


def test_changed_and_transient_lines() -> None:
    unchanged = [" Container avr-asr-pipe  Running", " Container avr-asr-pipe  Waiting"]
    unchanged.append(" Container avr-asr-pipe  Healthy")
    assert not any(changed(line) for line in unchanged)
    assert changed(" Container avr-asr-pipe  Recreated")
    assert changed(" Container avr-asr-pipe  Started")
    assert transient(" Container avr-asr-pipe  Creating")
    assert not transient(" Container avr-asr-pipe  Created")
