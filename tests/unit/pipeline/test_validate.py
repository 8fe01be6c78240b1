"""One failing blueprint folder per validation rule (tests/fixtures/invalid/<rule>/), its
messages snapshotted exactly as a user sees them: `file:line: field.path: message`.

The CLI runs with the repository as its working directory and relative `-b` paths, so the
file names in the messages (and the snapshots) do not depend on the machine.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import REPO, Avrgen
from syrupy.assertion import SnapshotAssertion

FIXTURES = REPO / "tests" / "fixtures" / "invalid"
# valid blueprints whose findings are warnings
WARNING_ONLY = {
    "literal-secret-warning",
    "dashboard-rewrites",
    "core-env-unknown-key",
    "core-published-everywhere",
    "telephony-tls-unused",
}
RULES = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())
MESSAGE = re.compile(r"^(?P<file>tests/fixtures/invalid/[^:]+):(?P<line>\d+):(?P<rest> .+)$")


def fixture_arg(rule: str) -> str:
    return (FIXTURES / rule).relative_to(REPO).as_posix()


@pytest.mark.parametrize("rule", sorted(set(RULES) - WARNING_ONLY))
def test_invalid_blueprint_is_reported(
    avrgen: Avrgen, rule: str, snapshot: SnapshotAssertion
) -> None:
    result = avrgen("validate", "-b", fixture_arg(rule))
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    *messages, summary = lines
    assert messages, "no problem reported"
    for message in messages:
        assert MESSAGE.match(message), f"not `file:line: ...`: {message!r}"
    errors = [m for m in messages if ": warning: " not in m]
    assert summary == f"{len(errors)} error(s)"
    assert result.stderr == snapshot


@pytest.mark.parametrize("rule", sorted(set(RULES) - WARNING_ONLY))
def test_render_refuses_an_invalid_blueprint(avrgen: Avrgen, rule: str, tmp_path: Path) -> None:
    """render reports the same problems and writes nothing (no output folder, no lock)."""
    output = tmp_path / "output"
    validate = avrgen("validate", "-b", fixture_arg(rule))
    result = avrgen("render", "-b", fixture_arg(rule), "-o", str(output))
    assert result.exit_code == 1
    assert result.stderr == validate.stderr
    assert not output.exists()
    assert not (FIXTURES / rule / "avrgen.lock").exists()


def test_every_rule_of_the_issue_has_a_fixture() -> None:
    required = {
        "unknown-field",
        "unknown-kind",
        "missing-kind",
        "duplicate-provider-name",
        "duplicate-agent-name",
        "duplicate-ids",
        "duplicate-yaml-key",
        "dangling-provider-reference",
        "wrong-provider-type",
        "pipeline-missing-slot",
        "sts-extra-slot",
        "invalid-env-name",
        "reserved-env-agent-keys",
        "reserved-env-provider-prefix",
        "reserved-env-urls",
        "invalid-agent-name",
        "invalid-secret-reference",
        "port-pin-out-of-range",
        "port-pins-colliding",
        "pin-for-missing-slot",
        "second-settings",
        "bad-port-range",
        "invalid-yaml-syntax",
        "python-tag",
        "merge-keys",
        "unknown-template",
        "missing-image",
        "literal-secret-warning",
        "several-errors",
    }
    assert required <= set(RULES)


def test_literal_secret_is_a_warning_not_an_error(
    avrgen: Avrgen, snapshot: SnapshotAssertion
) -> None:
    result = avrgen("validate", "-b", fixture_arg("literal-secret-warning"))
    assert result.exit_code == 0
    assert result.stdout == "ok: 1 agent(s), 1 provider(s), 4 warning(s)\n"
    assert result.stderr == snapshot
    for literal in ("sk-this-is-a-literal-key", "tok-123", "hunter2"):
        assert literal not in result.stderr + result.stdout  # a warning never echoes the value
    assert "WEBHOOK_SECRET" not in result.stderr  # a {secret: ...} reference is fine


@pytest.mark.parametrize("rule", sorted(WARNING_ONLY - {"literal-secret-warning"}))
def test_warning_rule_is_reported(avrgen: Avrgen, rule: str, snapshot: SnapshotAssertion) -> None:
    """A warning rule: validate passes and names each finding at its file:line."""
    result = avrgen("validate", "-b", fixture_arg(rule))
    assert result.exit_code == 0, result.stderr
    messages = result.stderr.splitlines()
    assert messages and all(MESSAGE.match(m) and ": warning: " in m for m in messages)
    assert result.stderr == snapshot


def test_literal_secret_warning_does_not_stop_render(avrgen: Avrgen, tmp_path: Path) -> None:
    blueprints = tmp_path / "blueprints"
    shutil.copytree(FIXTURES / "literal-secret-warning", blueprints)
    result = avrgen("render", "-b", str(blueprints), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr
    assert "warning: OPENAI_API_KEY looks like a secret" in result.stderr
    assert (tmp_path / "out" / "support" / "docker-compose.yml").is_file()
    agent = tmp_path / "out" / "support"
    # the literals are written (as asked), each in its container's env file
    assert 'OPENAI_API_KEY="sk-this-is-a-literal-key"\n' in (agent / "sts.env").read_text()
    assert 'WEBHOOK_TOKEN="tok-123"\n' in (agent / "sts.env").read_text()
    assert 'DB_PASSWORD="hunter2"\n' in (agent / "core.env").read_text()
    for path in agent.iterdir():  # but a {secret: ...} never is: compose reads it at run time
        assert "WEBHOOK_SECRET=" not in path.read_text()
    assert 'WEBHOOK_SECRET: "${WEBHOOK_SECRET:?' in (agent / "docker-compose.yml").read_text()


def test_all_problems_of_two_files_reported_at_once_and_sorted(avrgen: Avrgen) -> None:
    result = avrgen("validate", "-b", fixture_arg("several-errors"))
    assert result.exit_code == 1
    *messages, summary = result.stderr.splitlines()
    found = [MESSAGE.match(m) for m in messages]
    assert all(found)
    keys = [(m["file"], int(m["line"])) for m in found if m]
    assert keys == sorted(keys)
    assert {file for file, _ in keys} == {
        "tests/fixtures/invalid/several-errors/agents.yaml",
        "tests/fixtures/invalid/several-errors/providers.yaml",
    }
    assert summary == "6 error(s)"
    assert "sk-literal" not in result.stderr


def test_json_lists_every_problem(avrgen: Avrgen, snapshot: SnapshotAssertion) -> None:
    result = avrgen("validate", "--json", "-b", fixture_arg("several-errors"))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert len(data["problems"]) == 6
    assert all(p["severity"] == "error" for p in data["problems"])
    assert data == snapshot


def test_ami_url_is_allowed_in_provider_env(avrgen: Avrgen, tmp_path: Path) -> None:
    """The one exception to the reserved keys: a provider's AMI_URL overrides the setting."""
    blueprints = tmp_path / "blueprints"
    blueprints.mkdir()
    (blueprints / "all.yaml").write_text(
        "kind: provider\n"
        "name: OpenAI Realtime\n"
        "type: STS\n"
        "config:\n"
        "  image: agentvoiceresponse/avr-sts-openai:1.8.0\n"
        "  env: {AMI_URL: 'http://my-ami:6006'}\n"
        "---\n"
        "kind: agent\n"
        "name: support\n"
        "mode: sts\n"
        "providers: {sts: OpenAI Realtime}\n"
    )
    result = avrgen("render", "-b", str(blueprints), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    env = (tmp_path / "out" / "support" / "sts.env").read_text()
    assert 'AMI_URL="http://my-ami:6006"\n' in env
    assert "avr-ami" not in env
