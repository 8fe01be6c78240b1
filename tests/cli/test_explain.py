"""`avrgen explain AGENT [-e NAME]`: every value of the agent's containers and what set it
(the base's or the overlay's file:line, a catalog template, the lock, a default, avrgen),
the table snapshotted; no secret value ever shown, whatever the environment holds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from blueprint_folder import write_blueprints
from conftest import Avrgen
from syrupy.assertion import SnapshotAssertion

FILES = {
    "blueprints/settings.yaml": "kind: settings\ncore: {env: {INTERRUPT_LISTENING: 'true'}}\n",
    "blueprints/providers.yaml": """\
kind: provider
name: Voice
type: STS
template: sts-deepgram
config:
  env:
    DEEPGRAM_API_KEY: {secret: DEEPGRAM_API_KEY}
    AGENT_PROMPT: Be brief.
    DEEPGRAM_ASR_MODEL: nova-3
""",
    "blueprints/agents.yaml": """\
kind: agent
name: front-desk
id: 6b0d1f4e-0c4a-4d55-9a57-2f3b8f1e2c11
mode: sts
providers: {sts: Voice}
tenant: acme
env: {LOG_LEVEL: info, STAFF_TOKEN: literal-token-value}
core:
  env: {SYSTEM_MESSAGE: Hello}
  publish: {host_ip: 10.0.0.5}
ports: {core: 5011}
""",
    # fixed set ids (a new lock gets a random one), so the table is the same every run
    "blueprints/avrgen.lock": '{"version": 1, "set": "explain-base", "agents": {}}\n',
    "environments/prod/avrgen.lock": '{"version": 1, "set": "explain-prod", "agents": {}}\n',
    "environments/prod/voice.yaml": """\
kind: provider
name: Voice
config:
  image: agentvoiceresponse/avr-sts-deepgram:1.2.0
  env:
    AGENT_PROMPT: Be brief and polite.
""",
    "environments/prod/front-desk.yaml": """\
kind: agent
name: front-desk
env: {LOG_LEVEL: warn}
core: {image: example/core:2.0}
""",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_blueprints(tmp_path, FILES)


@pytest.mark.parametrize("environment", [None, "prod"])
def test_explain_table(
    avrgen: Avrgen, project: Path, environment: str | None, snapshot: SnapshotAssertion
) -> None:
    args = ("-e", environment) if environment else ()
    assert avrgen("render", *args, cwd=project).exit_code == 0
    result = avrgen("explain", "front-desk", *args, cwd=project)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == snapshot
    assert "literal-token-value" not in result.stdout


def test_explain_json_names_each_source(avrgen: Avrgen, project: Path) -> None:
    result = avrgen("explain", "front-desk", "-e", "prod", "--json", cwd=project)
    assert result.exit_code == 0, result.stderr
    assert "literal-token-value" not in result.stdout
    document = json.loads(result.stdout)
    assert document["agent"] == "front-desk" and document["environment"] == "prod"
    sts, core = document["containers"]
    assert (sts["name"], core["name"]) == ("avr-sts-front-desk", "avr-core-front-desk")
    values = {v["field"]: (v["value"], v["source"]) for v in sts["values"]}
    assert values["image"] == (
        "agentvoiceresponse/avr-sts-deepgram:1.2.0",
        "environments/prod/voice.yaml:4",
    )
    assert values["env.AGENT_PROMPT"] == ("Be brief and polite.", "environments/prod/voice.yaml:6")
    assert values["env.DEEPGRAM_ASR_MODEL"] == ("nova-3", "blueprints/providers.yaml:9")
    assert values["env.DEEPGRAM_API_KEY"] == (
        "{secret: DEEPGRAM_API_KEY}",
        "blueprints/providers.yaml:7",
    )
    assert values["env.LOG_LEVEL"] == ("warn", "environments/prod/front-desk.yaml:3")
    assert values["env.STAFF_TOKEN"][0] == "*** (a literal; masked)"
    assert values["env.AGENT_ID"] == (
        "6b0d1f4e-0c4a-4d55-9a57-2f3b8f1e2c11",
        "blueprints/agents.yaml:3",
    )
    assert (
        values["port"][1] == "allocated (new: render records it in environments/prod/avrgen.lock)"
    )
    core_values = {v["field"]: (v["value"], v["source"]) for v in core["values"]}
    assert core_values["image"] == ("example/core:2.0", "environments/prod/front-desk.yaml:4")
    assert core_values["port"] == ("5011", "blueprints/agents.yaml:11")
    assert core_values["publish.host_ip"] == ("10.0.0.5", "blueprints/agents.yaml:10")
    assert core_values["env.INTERRUPT_LISTENING"] == ("true", "blueprints/settings.yaml:2")
    assert core_values["labels.tenant"] == ("acme", "blueprints/agents.yaml:6")


def test_ports_allocated_from_the_base_lock(avrgen: Avrgen, project: Path) -> None:
    assert avrgen("render", cwd=project).exit_code == 0
    result = avrgen("explain", "front-desk", "-e", "prod", "--json", cwd=project)
    sts = json.loads(result.stdout)["containers"][0]
    values = {v["field"]: v["source"] for v in sts["values"]}
    assert values["port"] == "allocated (blueprints/avrgen.lock)"
    assert avrgen("render", "-e", "prod", cwd=project).exit_code == 0
    result = avrgen("explain", "front-desk", "-e", "prod", "--json", cwd=project)
    sts = json.loads(result.stdout)["containers"][0]
    values = {v["field"]: v["source"] for v in sts["values"]}
    assert values["port"] == "allocated (environments/prod/avrgen.lock)"


def test_explain_an_unknown_agent(avrgen: Avrgen, project: Path) -> None:
    result = avrgen("explain", "front-dsk", cwd=project)
    assert result.exit_code == 1
    assert result.stderr == "error: no agent named 'front-dsk' (did you mean 'front-desk'?)\n"


def test_explain_invalid_blueprints_name_the_overlay(avrgen: Avrgen, project: Path) -> None:
    (project / "environments" / "prod" / "front-desk.yaml").write_text(
        "kind: agent\nname: front-desk\nmode: stss\n"
    )
    result = avrgen("explain", "front-desk", "-e", "prod", cwd=project)
    assert result.exit_code == 1
    assert result.stderr.startswith("environments/prod/front-desk.yaml:3: mode:")


def test_explain_the_host_an_overlay_chose(avrgen: Avrgen, project: Path) -> None:
    (project / "environments" / "prod" / "hosts.yaml").write_text(
        "kind: settings\nhosts:\n  edge-1: {docker: 'ssh://ops@10.0.0.11'}\n"
    )
    front = project / "environments" / "prod" / "front-desk.yaml"
    front.write_text(front.read_text() + "host: edge-1\n")
    result = avrgen("explain", "front-desk", "-e", "prod", "--json", cwd=project)
    assert result.exit_code == 0, result.stderr
    for container in json.loads(result.stdout)["containers"]:
        values = {v["field"]: (v["value"], v["source"]) for v in container["values"]}
        assert values["host"] == ("edge-1", "environments/prod/front-desk.yaml:5")
    result = avrgen("explain", "front-desk", "--json", cwd=project)
    assert "host" not in {v["field"] for v in json.loads(result.stdout)["containers"][0]["values"]}
