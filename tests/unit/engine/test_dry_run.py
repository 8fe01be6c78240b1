"""Compose's own comparison: the secrets compose is given when they are not set here, and
a compose file compose refuses."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dockerenv
import pytest
from blueprint_folder import write_blueprints

from avrgen.app.project import Paths, Project
from avrgen.engine.compose import Docker
from avrgen.engine.containers import ContainerStatus
from avrgen.engine.dry_run import compose_env, compose_verdict
from avrgen.model.output import COMPOSE_FILE
from avrgen.model.plan import AgentPlan

BLUEPRINTS = {
    "settings.yaml": "kind: settings\nset: dry-run-unit\nnetwork: {name: avrgen-dry}\n",
    "providers.yaml": """\
kind: provider
name: Keyed
type: STS
config:
  image: example/sts:1
  env: {VOICE_API_KEY: {secret: VOICE_API_KEY}, GOOGLE_APPLICATION_CREDENTIALS: /app/key.json}
  files:
    /app/key.json: {secret_file: KEY_FILE}
""",
    "agents.yaml": "kind: agent\nname: keyed\nmode: sts\nproviders: {sts: Keyed}\n",
}


def agent(tmp_path: Path) -> AgentPlan:
    folder = write_blueprints(tmp_path / "blueprints", BLUEPRINTS)
    return Project(Paths(folder, tmp_path / "output")).plan()[0].agents["keyed"]


def running(name: str, id_: str) -> ContainerStatus:
    return ContainerStatus(name=name, agent="keyed", role="sts", id=id_, state="running")


def test_secrets_set_here_are_given_as_they_are(tmp_path: Path) -> None:
    secrets = {"VOICE_API_KEY": "here", "KEY_FILE": "/srv/key.json"}
    assert compose_env(agent(tmp_path), [], secrets, lambda ids: {}) == secrets


def test_secrets_not_set_here_come_from_the_running_container(tmp_path: Path) -> None:
    the_agent = agent(tmp_path)
    inspected: Mapping[str, Mapping[str, Any]] = {
        "sts-id": {
            "Config": {"Env": ["VOICE_API_KEY=running-value", "OTHER=x"]},
            "Mounts": [{"Destination": "/app/key.json", "Source": "/srv/running-key.json"}],
        }
    }
    statuses = [running("avr-sts-keyed", "sts-id")]
    env = compose_env(the_agent, statuses, {}, lambda ids: inspected)
    assert env == {"VOICE_API_KEY": "running-value", "KEY_FILE": "/srv/running-key.json"}


def test_secrets_no_container_holds_get_a_stand_in_value(tmp_path: Path) -> None:
    env = compose_env(agent(tmp_path), [], {}, lambda ids: {})
    assert set(env) == {"VOICE_API_KEY", "KEY_FILE"}
    assert set(env.values()) == {"avrgen-status-secret-not-set"}


@pytest.mark.docker
def test_a_file_compose_refuses_is_one_compose_difference(tmp_path: Path) -> None:
    dockerenv.require_engine()
    the_agent = agent(tmp_path)
    files = {f"keyed/{COMPOSE_FILE}": b"services:\n  sts:\n    not_a_compose_key: 1\n"}
    (difference,) = compose_verdict(Docker(), the_agent, files, {}, set())
    assert (difference.container, difference.kind) == (the_agent.project, "compose")
    assert difference.detail.startswith("docker compose: ")
