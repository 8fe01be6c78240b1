"""Every rendered compose file of the bundled blueprints is one the real Docker Compose v2
accepts (`docker compose config`, which needs no engine), with the shape the platform expects.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import dockerenv
import pytest
from conftest import BUNDLED_OUTPUT

AGENTS = sorted(
    p.name
    for p in BUNDLED_OUTPUT.iterdir()
    if (p / "docker-compose.yml").is_file() and not p.name.startswith("_")  # not _telephony
)
TELEPHONY = BUNDLED_OUTPUT / "_telephony"
SECRET_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):\?")


def secrets_of(folder: Path) -> list[str]:
    return sorted(set(SECRET_REF.findall((folder / "docker-compose.yml").read_text())))


compose = dockerenv.run_compose


def test_the_bundled_output_has_agents() -> None:
    assert len(AGENTS) >= 5


@pytest.mark.parametrize("agent", AGENTS)
def test_compose_config_quiet_passes(compose_binary: Path, agent: str) -> None:
    folder = BUNDLED_OUTPUT / agent
    dummy = {name: f"dummy-{name.lower()}" for name in secrets_of(folder)}
    result = compose(compose_binary, folder, "config", "--quiet", secrets=dummy)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("agent", AGENTS)
def test_compose_sees_the_platform_shape(compose_binary: Path, agent: str) -> None:
    folder = BUNDLED_OUTPUT / agent
    dummy = {name: f"dummy-{name.lower()}" for name in secrets_of(folder)}
    result = compose(compose_binary, folder, "config", "--format", "json", secrets=dummy)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["name"] == f"avr-{agent}"
    assert config["networks"]["avr"]["external"] is True
    services = config["services"]
    assert "core" in services
    assert set(services) in ({"core", "sts"}, {"core", "asr", "llm", "tts"})
    ports = set()
    for role, service in services.items():
        assert service["container_name"] == f"avr-{role}-{agent}"
        assert service["restart"] == "unless-stopped"
        assert list(service["networks"]) == ["avr"]
        labels = service["labels"]
        assert labels["app"] == "AVR"
        assert labels["avrgen.agent"] == agent
        assert labels["avrgen.role"] == role
        env = service["environment"]
        assert env["AGENT_NAME"] == agent
        ports.add(env["PORT"])
    assert len(ports) == len(services)  # every container its own port
    core_env = services["core"]["environment"]
    if "sts" in services:
        sts_port = services["sts"]["environment"]["PORT"]
        assert core_env["STS_URL"] == f"ws://avr-sts-{agent}:{sts_port}"
    else:
        for role in ("asr", "llm", "tts"):
            port = services[role]["environment"]["PORT"]
            assert core_env[f"{role.upper()}_URL"].startswith(f"http://avr-{role}-{agent}:{port}/")
    for name, value in dummy.items():  # each secret arrives where it is referenced
        assert any(value in s["environment"].values() for s in services.values()), name


@pytest.mark.parametrize("agent", [a for a in AGENTS if secrets_of(BUNDLED_OUTPUT / a)])
def test_a_missing_secret_fails_naming_it(compose_binary: Path, agent: str) -> None:
    folder = BUNDLED_OUTPUT / agent
    result = compose(compose_binary, folder, "config", "--quiet", secrets={})
    assert result.returncode != 0
    assert any(f"secret {name} is not set" in result.stderr for name in secrets_of(folder))


def test_compose_reads_the_telephony_stack(compose_binary: Path, tmp_path: Path) -> None:
    secrets = {"AVRGEN_ASTERISK_SECRETS": str(tmp_path), "AMI_PASSWORD": "dummy-ami"}
    result = compose(compose_binary, TELEPHONY, "config", "--format", "json", secrets=secrets)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["name"] == "avr-telephony"
    services = config["services"]
    assert set(services) == {"asterisk", "ami"}
    asterisk = services["asterisk"]
    assert asterisk["container_name"] == "avr-asterisk"
    mounts = {m["target"]: m for m in asterisk["volumes"]}
    for name in ("my_extensions.conf", "my_pjsip.conf", "my_manager.conf", "my_ari.conf"):
        mount = mounts[f"/etc/asterisk/{name}"]
        assert (mount["type"], mount["source"], mount["read_only"]) == (
            "bind",
            str(TELEPHONY / name),
            True,
        )
    secrets_mount = mounts["/etc/asterisk/avrgen-secrets"]
    assert (secrets_mount["source"], secrets_mount["read_only"]) == (str(tmp_path), True)
    assert mounts["/var/spool/asterisk/monitor"]["source"] == "recordings"
    assert config["volumes"]["recordings"]["name"] == "avr-telephony-recordings"
    published = {(p["published"], p["protocol"], p["host_ip"]) for p in asterisk["ports"]}
    assert ("5060", "udp", "127.0.0.1") in published
    assert ("10000", "udp", "127.0.0.1") in published
    ami = services["ami"]
    assert ami["container_name"] == "avr-ami"
    assert ami["environment"]["AMI_PASSWORD"] == "dummy-ami"
    assert ami["environment"]["AMI_HOST"] == "avr-asterisk"
    assert "ports" not in ami


def test_the_telephony_stack_needs_its_secrets_folder(compose_binary: Path) -> None:
    result = compose(compose_binary, TELEPHONY, "config", "--quiet", secrets={"AMI_PASSWORD": "x"})
    assert result.returncode != 0
    assert "set by avrgen up: the folder of the telephony secrets" in result.stderr
