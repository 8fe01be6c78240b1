"""How avrgen/compose.py reads docker compose's output, on lines recorded from the real
Docker Engine 20.10 / Compose v2.40 (the docker tests reach most of these paths for real;
the port-taken fallback only runs when a port is taken between avrgen's own check and
compose's start, so its messages are pinned here)."""

from __future__ import annotations

import pytest

from avrgen.engine.compose import _CHANGED, _NOT_HEALTHY, _PORT_TAKEN, _TRANSIENT, _UNHEALTHY


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
    match = _PORT_TAKEN.search(line)
    assert match is not None
    assert int(match.group(1) or match.group(2)) == port


def test_wait_failures() -> None:
    assert _UNHEALTHY.search("container avr-sts-crash is unhealthy")
    assert _UNHEALTHY.search("container avr-sts-crash exited (1)")
    found = _NOT_HEALTHY.search("application not healthy after 1s")
    assert found is not None and found.group(1) == "1s"


def test_changed_and_transient_lines() -> None:
    unchanged = [" Container avr-asr-pipe  Running", " Container avr-asr-pipe  Waiting"]
    unchanged.append(" Container avr-asr-pipe  Healthy")
    assert not any(_CHANGED.search(line) for line in unchanged)
    assert _CHANGED.search(" Container avr-asr-pipe  Recreated")
    assert _CHANGED.search(" Container avr-asr-pipe  Started")
    assert _TRANSIENT.search(" Container avr-asr-pipe  Creating")
    assert not _TRANSIENT.search(" Container avr-asr-pipe  Created")
