"""`avrgen up -e staging` on a real engine: the environment's containers run what the
overlay says (its env value, its network), from output/staging/, and `ps -e` finds
them (`down` is the same code with or without -e: its test is test_docker_lifecycle's).
One agent, brought up once for the module; everything it made is removed at the end.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import dockerenv
import pytest
from blueprint_folder import write_blueprints

AGENT = "envq-desk"
NETWORK = "avrgen-test-envq"
SETTINGS = f"""\
kind: settings
network: {{name: {NETWORK}, subnet: 172.31.143.0/24}}
ports: {{core: 43100-43149, http: 43200-43249, providers: 43300-43349}}
core: {{image: "{dockerenv.CORE_IMAGE}"}}
"""
FILES = {
    "blueprints/settings.yaml": SETTINGS,
    "blueprints/providers.yaml": f"""\
kind: provider
name: voice
type: STS
config:
  image: {dockerenv.PROVIDER_IMAGE}
  env: {{VOICE_MODEL: small}}
""",
    "blueprints/agents.yaml": f"""\
kind: agent
name: {AGENT}
mode: sts
providers: {{sts: voice}}
env: {{LOG_LEVEL: info}}
""",
    "environments/staging/agents.yaml": f"""\
kind: agent
name: {AGENT}
env: {{LOG_LEVEL: debug}}
""",
    "environments/staging/settings.yaml": f"kind: settings\nnetwork: {{name: {NETWORK}-staging}}\n",
}


def remove_everything() -> None:
    ids = dockerenv.docker("ps", "-aq", "--filter", f"label=avrgen.agent={AGENT}").stdout.split()
    if ids:
        dockerenv.docker("rm", "-f", *ids)
    for network in (NETWORK, f"{NETWORK}-staging"):
        dockerenv.docker("network", "rm", network)


def avrgen(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return dockerenv.run_avrgen(*args, cwd=cwd)


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The agent's staging variant up; removed at the end, also on failure."""
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    root = write_blueprints(tmp_path_factory.mktemp("envq"), FILES)
    remove_everything()
    try:
        proc = avrgen("up", "-e", "staging", AGENT, "--timeout", "60", cwd=root)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        yield root
    finally:
        remove_everything()


def inspect(name: str) -> dict[str, object]:
    proc = dockerenv.docker("inspect", name)
    assert proc.returncode == 0, proc.stderr
    document: list[dict[str, object]] = json.loads(proc.stdout)
    return document[0]


@pytest.mark.docker
def test_up_runs_the_environment_s_values(staging: Path) -> None:
    assert (staging / "output" / "staging" / AGENT / "docker-compose.yml").is_file()
    assert not (staging / "output" / AGENT).exists()  # the base was not rendered
    assert (staging / "environments" / "staging" / "avrgen.lock").is_file()
    container = inspect(f"avr-sts-{AGENT}")
    config = container["Config"]
    assert isinstance(config, dict)
    assert "LOG_LEVEL=debug" in config["Env"]
    assert "VOICE_MODEL=small" in config["Env"]
    settings = container["NetworkSettings"]
    assert isinstance(settings, dict)
    assert set(settings["Networks"]) == {f"{NETWORK}-staging"}


@pytest.mark.docker
def test_ps_with_the_environment(staging: Path) -> None:
    proc = avrgen("ps", "-e", "staging", "--json", cwd=staging)
    assert proc.returncode == 0, proc.stderr
    assert f"avr-core-{AGENT}" in proc.stdout and f"avr-sts-{AGENT}" in proc.stdout
