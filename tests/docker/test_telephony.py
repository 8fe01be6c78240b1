"""The telephony stack's engine side on the real engine, with the stand-in Asterisk
(avrgen-test/asterisk:1, not Asterisk): an Asterisk that does not answer `core
waitfullybooted` in time, and a reload it refuses, are named."""

from __future__ import annotations

import uuid

import dockerenv
import pytest
from dockerenv import docker

from avrgen.engine.docker import Engine
from avrgen.engine.telephony import reload, wait_booted
from avrgen.errors import ComposeError

pytestmark = pytest.mark.docker


def test_an_asterisk_that_does_not_boot_in_time_and_a_failed_reload_are_named() -> None:
    dockerenv.require_engine(compose=False)
    dockerenv.ensure_test_images()
    name = f"avrt-tel-slow-{uuid.uuid4().hex[:8]}"
    run = docker("run", "-d", "--name", name, "-e", "BOOT_DELAY=60", dockerenv.ASTERISK_IMAGE)
    assert run.returncode == 0, run.stderr
    try:
        engine = Engine()
        with pytest.raises(ComposeError) as slow:
            wait_booted(engine, name, 1.5)
        assert str(slow.value).startswith(
            f'telephony: {name} did not answer `asterisk -rx "core waitfullybooted"` within 2s'
        )
        assert f"{name} last log lines:" in str(slow.value)
        with pytest.raises(ComposeError) as failed:
            reload(engine, name, "module reload res_nothing.so")
        assert str(failed.value).startswith(
            f'telephony: `asterisk -rx "module reload res_nothing.so"` in {name} failed: '
            "No such command"
        )
    finally:
        docker("rm", "-f", name)
