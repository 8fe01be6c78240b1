"""The telephony stack is not started from a compose file that is not there."""

from __future__ import annotations

from pathlib import Path

import dockerenv
import pytest
from conftest import BUNDLED_BLUEPRINTS

from avrgen.app.project import Paths, Project
from avrgen.engine.docker import Engine
from avrgen.engine.telephony import compose_up
from avrgen.errors import AvrgenError


def test_a_missing_compose_file_says_to_render(tmp_path: Path) -> None:
    missing = tmp_path / "_telephony" / "docker-compose.yml"
    telephony = Project(Paths(BUNDLED_BLUEPRINTS)).plan()[0].telephony
    assert telephony is not None
    with pytest.raises(AvrgenError) as raised:  # before any engine is asked
        compose_up(Engine(), telephony, missing, {}, lambda s: s, 10)
    assert str(raised.value) == f"telephony: {missing} not found; run avrgen render"


@pytest.mark.docker
def test_a_compose_file_compose_refuses_fails_naming_the_stack(tmp_path: Path) -> None:
    dockerenv.require_engine()
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  avr-asterisk:\n    not_a_compose_key: 1\n")
    telephony = Project(Paths(BUNDLED_BLUEPRINTS)).plan()[0].telephony
    assert telephony is not None
    with pytest.raises(AvrgenError) as raised:
        compose_up(Engine(), telephony, broken, {}, lambda s: s, 10)
    assert str(raised.value).startswith("telephony: docker compose up failed:")
