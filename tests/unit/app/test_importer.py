"""`avrgen import`: the dashboard's REST JSON -> blueprint files + a 0600 secrets file.

The seed's two provider examples, a paginated `GET /api/providers` answer and agents that
reference providers by id or embed them: each imports, validates and renders, and no
secret value appears in any blueprint or output file.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, Avrgen

from avrgen.fs.dotenv import read_secrets_file, secret_line

FIXTURES = REPO / "tests" / "fixtures" / "dashboard"
SEED = ["seed-deepgram-sts.json", "seed-openai-llm.json"]


def secret_values(*names: str) -> list[str]:
    """Every secret-looking value in the fixtures (what must never leave the secrets file)."""
    values = []
    for name in names:
        text = (FIXTURES / name).read_text()
        values += [v for v in json.loads(json.dumps(_walk(json.loads(text)))) if len(v) >= 5]
    return values


def _walk(node: object) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and key.endswith(("_API_KEY", "_SECRET", "_TOKEN")):
                found.append(value)
            else:
                found += _walk(value)
    elif isinstance(node, list):
        for value in node:
            found += _walk(value)
    return found


def all_text(root: Path) -> str:
    return "\n".join(
        p.read_text()
        for folder in ("blueprints", "output")
        for p in (root / folder).rglob("*")
        if p.is_file()
    )


def import_ok(avrgen: Avrgen, root: Path, *names: str) -> str:
    notes = ""
    for name in names:
        result = avrgen("import", str(FIXTURES / name), cwd=root)
        assert result.exit_code == 0, result.stderr
        notes += result.stderr + result.stdout
    for step in ("validate", "render"):
        result = avrgen(step, cwd=root)
        assert result.exit_code == 0, (step, result.stderr)
    return notes


@pytest.mark.parametrize("name", SEED)
def test_seed_example_imports_validates_and_renders(
    avrgen: Avrgen, tmp_path: Path, name: str
) -> None:
    out = import_ok(avrgen, tmp_path, name)
    secrets = tmp_path / ".avrgen-secrets.env"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    values = secret_values(name)
    assert values
    text = all_text(tmp_path) + out
    for value in values:
        assert value not in text
        assert value in read_secrets_file(secrets).values()


def test_seed_deepgram_details(avrgen: Avrgen, tmp_path: Path) -> None:
    out = import_ok(avrgen, tmp_path, "seed-deepgram-sts.json")
    path = tmp_path / "blueprints" / "providers" / "deepgram-production.yaml"
    data = yaml.safe_load(path.read_text())
    env = data["config"]["env"]
    assert data["template"] == "sts-deepgram"
    assert (
        data["config"]["image"] == "agentvoiceresponse/avr-sts-deepgram"
    )  # as the dashboard ran it
    assert "PORT" not in env  # reserved: dropped and reported
    assert "env PORT is reserved (avrgen sets it); dropped" in out
    assert env["AMI_URL"] == "http://avr-ami:6006"
    assert env["DEEPGRAM_API_KEY"] == {"secret": "DEEPGRAM_API_KEY"}
    assert "has no tag, so it runs :latest" in out
    # the seed's DEEPGRAM_MODEL is not a key the image knows: validate says so
    assert "DEEPGRAM_MODEL is not a key template 'sts-deepgram' knows" in out
    assert read_secrets_file(tmp_path / ".avrgen-secrets.env") == {
        "DEEPGRAM_API_KEY": "ad748182032466add820eed184e6b81aefa06fcd"
    }


def test_paginated_providers_and_agents(avrgen: Avrgen, tmp_path: Path) -> None:
    out = import_ok(avrgen, tmp_path, "providers-page.json", "agents.json")
    blueprints = tmp_path / "blueprints"
    claude = yaml.safe_load((blueprints / "providers" / "claude-support.yaml").read_text())
    assert claude["id"] == "1c8d2e3f-4051-4b6c-9d7e-8f90a1b2c3d4"  # the dashboard's UUID
    assert claude["template"] == "llm-anthropic"
    assert claude["config"]["env"]["ANTHROPIC_MAX_TOKENS"] == "300"  # JSON number -> text
    agent = yaml.safe_load((blueprints / "agents" / "customer-support-en.yaml").read_text())
    assert agent["id"] == "4fb05162-7384-4e9f-a0a1-b2c3d4e5f607"
    assert agent["providers"] == {
        "asr": "Deepgram ASR",
        "llm": "Claude Support",
        "tts": "Deepgram Aura",
    }
    assert "renamed to 'customer-support-en'" in out
    assert "agent 'orphan': skipped: its STS provider" in out
    assert "already in the blueprints (same id); not imported again" in out
    assert "PROVIDER_TTS_NAME is reserved" in out
    # two different values under DEEPGRAM_API_KEY: the second gets its own secret name
    secrets = read_secrets_file(tmp_path / ".avrgen-secrets.env")
    assert secrets["DEEPGRAM_API_KEY"] == "dg-asr-secret-value-1"
    assert secrets["DEEPGRAM_API_KEY_DEEPGRAM_AURA"] == "dg-tts-another-value-3"
    assert set(secrets) == {
        "ANTHROPIC_API_KEY",
        "DEEPGRAM_API_KEY",
        "DEEPGRAM_API_KEY_DEEPGRAM_AURA",
        "OPENAI_API_KEY",
    }
    for value in secret_values("providers-page.json", "agents.json"):
        assert value not in all_text(tmp_path)
    # a value with quotes, `$` and `#` reaches the container exactly
    env = (tmp_path / "output" / "customer-support-en" / "llm.env").read_text()
    assert 'ANTHROPIC_SYSTEM_PROMPT="You are \\"Ava\\": brief, kind; costs $$5 #1"' in env
    assert sorted(p.name for p in (tmp_path / "output").iterdir()) == [
        "customer-support-en",
        "sales",
    ]


def test_export_shape_and_embedded_providers(avrgen: Avrgen, tmp_path: Path) -> None:
    page = json.loads((FIXTURES / "providers-page.json").read_text())
    agents = json.loads((FIXTURES / "agents.json").read_text())
    export = {"providers": page, "agents": {"data": agents[1:2], "total": 1}}
    source = tmp_path / "export.json"
    source.write_text(json.dumps(export))
    result = avrgen("import", str(source), "--json", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["written"] is True
    assert sorted(Path(f).name for f in data["files"]) == [
        "claude-support.yaml",
        "deepgram-asr.yaml",
        "deepgram-aura.yaml",
        "realtime-sales.yaml",
        "sales.yaml",
    ]
    assert avrgen("validate", cwd=tmp_path).exit_code == 0


@pytest.mark.parametrize(
    "wrap",
    [
        lambda page: {"providers": page},
        lambda page: {"providers": page["data"]},
        lambda page: {"items": page["data"]},
        lambda page: {"results": page["data"], "count": 4},
        lambda page: page["data"],
    ],
)
def test_provider_list_shapes(avrgen: Avrgen, tmp_path: Path, wrap: Any) -> None:
    page = json.loads((FIXTURES / "providers-page.json").read_text())
    source = tmp_path / "in.json"
    source.write_text(json.dumps(wrap(page)))
    result = avrgen("import", str(source), "--dry-run", "--json", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)["files"]) == 4


def test_dry_run_writes_nothing(avrgen: Avrgen, tmp_path: Path) -> None:
    result = avrgen("import", str(FIXTURES / SEED[0]), "--dry-run", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "would write blueprints/providers/deepgram-production.yaml" in result.stdout
    assert "kind: provider" in result.stdout  # the preview shows the file
    assert "ad748182032466add820eed184e6b81aefa06fcd" not in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []


def test_reimport_refuses_and_keeps_files(avrgen: Avrgen, tmp_path: Path) -> None:
    import_ok(avrgen, tmp_path, SEED[1])
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    again = avrgen("import", str(FIXTURES / SEED[1]), cwd=tmp_path)
    assert again.exit_code == 1
    assert "a provider with this name already exists" in again.stderr
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_refuses_to_overwrite_a_file(avrgen: Avrgen, tmp_path: Path) -> None:
    target = tmp_path / "blueprints" / "providers" / "openai-gpt-4.yaml"
    target.parent.mkdir(parents=True)
    target.write_text("# mine\n")
    result = avrgen("import", str(FIXTURES / SEED[1]), cwd=tmp_path)
    assert result.exit_code == 1 and "refusing to overwrite" in result.stderr
    assert target.read_text() == "# mine\n"
    assert not (tmp_path / ".avrgen-secrets.env").exists()


def test_invalid_result_writes_nothing(avrgen: Avrgen, tmp_path: Path) -> None:
    """The result is validated with the existing blueprints before anything is written."""
    item = json.loads((FIXTURES / SEED[1]).read_text())
    item["config"]["env"]["bad"] = {"nested": 1}
    item["config"]["image"] = "x" * 300
    source = tmp_path / "in.json"
    source.write_text(json.dumps(item))
    result = avrgen("import", str(source), cwd=tmp_path)
    assert result.exit_code == 1
    assert "config.image" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.json"]


def test_existing_secrets_file_is_kept_and_merged(avrgen: Avrgen, tmp_path: Path) -> None:
    secrets = tmp_path / "my.env"
    secrets.write_text("# mine\nOPENAI_API_KEY='sk-other'\n")
    secrets.chmod(0o644)
    result = avrgen("import", str(FIXTURES / SEED[1]), "--secrets-file", "my.env", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    text = secrets.read_text()
    assert text.startswith("# mine\nOPENAI_API_KEY='sk-other'\n")
    assert read_secrets_file(secrets)["OPENAI_API_KEY_OPENAI_GPT_4"] == "sk-..."
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "invalid JSON"),
        ("[1, 2]", "found no provider, agent, number, phone or trunk to import"),
        ('{"type": "XYZ", "name": "n", "config": {"image": "i"}}', "is not ASR, LLM, TTS or STS"),
        ('{"type": "STS", "name": "n", "config": {}}', "config.image is missing"),
    ],
)
def test_unusable_input(avrgen: Avrgen, tmp_path: Path, content: str, message: str) -> None:
    source = tmp_path / "in.json"
    source.write_text(content)
    result = avrgen("import", str(source), cwd=tmp_path)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_agent_shapes(avrgen: Avrgen, tmp_path: Path) -> None:
    items = [
        {"id": "not-a-uuid", "type": "sts", "name": "S", "config": {"image": "me/s:1"}},
        {"name": "By Name", "providers": {"sts": "S"}, "env": ["LOG_LEVEL=debug", "PORT=1"]},
        {"name": "Wrong", "mode": "pipeline", "providers": {"sts": "S"}},
        {"name": "Weird", "mode": "STS", "providerSts": {"name": "S"}, "extra": 1},
        {"something": "else"},
    ]
    source = tmp_path / "in.json"
    source.write_text(json.dumps(items))
    result = avrgen("import", str(source), cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    out = result.stderr
    assert "id 'not-a-uuid' is not a UUID; dropped" in out
    assert "agent 'wrong': skipped: pipeline mode needs ASR + LLM + TTS, got STS" in out
    assert "agent 'weird': field 'extra' has no blueprint counterpart; dropped" in out
    assert "$[4]: skipped: neither a provider" in out
    agent = yaml.safe_load((tmp_path / "blueprints" / "agents" / "by-name.yaml").read_text())
    assert agent["mode"] == "sts" and agent["env"] == {"LOG_LEVEL": "debug"}
    assert avrgen("validate", cwd=tmp_path).exit_code == 0


@pytest.mark.parametrize(
    "value", ["plain", "a$b", "it's", "it's $5", 'q"uote', "back\\slash", "two\nlines"]
)
def test_secrets_file_is_read_back_exactly_by_compose(
    tmp_path: Path, compose_binary: Path, value: str
) -> None:
    """docker compose resolves `${NAME}` from the secrets file to exactly the imported value."""
    (tmp_path / "secrets.env").write_text(secret_line("MY_SECRET", value))
    (tmp_path / "compose.yml").write_text(
        "services:\n  s:\n    image: x\n    environment:\n"
        '      MY_SECRET: "${MY_SECRET:?missing}"\n'
    )
    done = subprocess.run(
        [
            str(compose_binary),
            "-f",
            "compose.yml",
            "--env-file",
            "secrets.env",
            "config",
            "--format",
            "json",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    resolved = json.loads(done.stdout)["services"]["s"]["environment"]["MY_SECRET"]
    assert resolved == value.replace("$", "$$")  # `config` prints a literal $ as $$
    assert read_secrets_file(tmp_path / "secrets.env") == {"MY_SECRET": value}


# -- numbers, phones and trunks (issue 15) ------------------------------------------------------

TELEPHONY_SETTINGS = (
    "kind: settings\ntelephony: {context: demo, asterisk: {sip: {transports: [udp, tcp, wss]}}}\n"
)


def test_numbers_phones_and_trunks_import(avrgen: Avrgen, tmp_path: Path) -> None:
    (tmp_path / "blueprints").mkdir()
    (tmp_path / "blueprints" / "settings.yaml").write_text(TELEPHONY_SETTINGS)
    out = import_ok(avrgen, tmp_path, "telephony.json")
    blueprints = tmp_path / "blueprints"
    phone = yaml.safe_load(
        (blueprints / "phones" / "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d.yaml").read_text()
    )
    assert phone == {
        "kind": "phone",
        "name": "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",  # the dashboard's SIP user
        "display_name": "Front desk",  # quotes dropped, as the dashboard drops them
        "password": {"secret": "PHONE_FRONT_DESK_PASSWORD"},
        "webrtc": True,
    }
    trunk = yaml.safe_load((blueprints / "trunks" / "my-carrier.yaml").read_text())
    assert trunk == {
        "kind": "trunk",
        "name": "my-carrier",
        "transport": "udp",
        "codecs": ["alaw", "ulaw"],
        "username": "8b2c3d4e-5f60-4b7c-9d8e-0f1a2b3c4d5e",
        "password": {"secret": "TRUNK_MY_CARRIER_PASSWORD"},
    }
    numbers = {
        p.name: yaml.safe_load(p.read_text()) for p in sorted((blueprints / "numbers").iterdir())
    }
    assert numbers == {
        "plus4930123456.yaml": {
            "kind": "number",
            "number": "+4930123456",
            "agent": "sales",
            "recording": True,
            "denoise": False,
        },
        "1000.yaml": {
            "kind": "number",
            "number": "1000",
            "phone": "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            "recording": False,
            "denoise": True,
        },
        "0049301.yaml": {
            "kind": "number",
            "number": "0049301",
            "trunk": "my-carrier",
            "recording": False,
            "denoise": True,
        },
    }
    assert (
        "number '5999': skipped: its agent '99999999-9999-4999-8999-999999999999' is unknown" in out
    )
    assert "number '12-34': skipped: not digits with an optional leading +" in out
    assert "number '7000': skipped: application 'queue' is not agent, internal or transfer" in out
    assert "phone: id 'not-a-uuid' is not a UUID" in out
    assert "trunk 'My Carrier': field 'createdAt'" not in out  # a timestamp: dropped silently
    assert "`container_names: id`" in out
    secrets = read_secrets_file(tmp_path / ".avrgen-secrets.env")
    assert secrets["PHONE_FRONT_DESK_PASSWORD"] == "phone-secret-value-1"
    assert secrets["TRUNK_MY_CARRIER_PASSWORD"] == "trunk-secret-value-1"
    assert "phone-secret-value-2" not in secrets.values()  # its phone was skipped
    text = all_text(tmp_path) + out
    for value in ("phone-secret-value-1", "trunk-secret-value-1", "sk-proj-secret-value-4"):
        assert value not in text
    dialplan = (tmp_path / "output" / "_telephony" / "my_extensions.conf").read_text()
    assert "Dial(PJSIP/0049301@my-carrier)" in dialplan
    assert "Dial(PJSIP/7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d)" in dialplan


def test_numbers_without_telephony_settings_are_refused(avrgen: Avrgen, tmp_path: Path) -> None:
    result = avrgen("import", str(FIXTURES / "telephony.json"), cwd=tmp_path)
    assert result.exit_code == 1
    assert "needs `telephony` in the settings" in result.stderr
    assert not (tmp_path / "blueprints").exists()
    assert not (tmp_path / ".avrgen-secrets.env").exists()


def test_dashboard_container_names_keep_its_dialplan(avrgen: Avrgen, tmp_path: Path) -> None:
    """`container_names: id`: the cores are avr-core-<agent id>, which the dashboard dials."""
    (tmp_path / "blueprints").mkdir()
    (tmp_path / "blueprints" / "settings.yaml").write_text(
        TELEPHONY_SETTINGS + "container_names: id\n"
    )
    import_ok(avrgen, tmp_path, "telephony.json")
    agent_id = "50c16273-8495-4fa0-b1b2-c3d4e5f60718"
    compose = (tmp_path / "output" / "sales" / "docker-compose.yml").read_text()
    assert f'container_name: "avr-core-{agent_id}"' in compose
    assert f'container_name: "avr-sts-{agent_id}"' in compose
    core_env = (tmp_path / "output" / "sales" / "core.env").read_text()
    assert f'STS_URL="ws://avr-sts-{agent_id}:' in core_env
    dialplan = (tmp_path / "output" / "_telephony" / "my_extensions.conf").read_text()
    assert f"Dial(AudioSocket/avr-core-{agent_id}:" in dialplan


def test_reimported_telephony_is_skipped(avrgen: Avrgen, tmp_path: Path) -> None:
    (tmp_path / "blueprints").mkdir()
    (tmp_path / "blueprints" / "settings.yaml").write_text(TELEPHONY_SETTINGS)
    import_ok(avrgen, tmp_path, "telephony.json")
    again = avrgen("import", str(FIXTURES / "telephony.json"), cwd=tmp_path)
    assert again.exit_code == 1
    assert "a phone with this name already exists" in again.stderr
    assert "a trunk named 'my-carrier' already exists" in again.stderr
    assert "number '1000': skipped: already in the blueprints" in again.stderr


def test_telephony_shapes_and_notes(avrgen: Avrgen, tmp_path: Path) -> None:
    (tmp_path / "blueprints").mkdir()
    (tmp_path / "blueprints" / "settings.yaml").write_text(TELEPHONY_SETTINGS)
    source = tmp_path / "in.json"
    phone = {"id": "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "fullName": "", "password": "pw-1"}
    source.write_text(
        json.dumps(
            [
                {**phone, "extension": "100"},
                {"name": "", "password": "x", "transport": "udp"},
                {"name": "Backup", "password": "pw-2", "transport": "sctp", "host": "h"},
                {"value": "2000", "application": "transfer", "trunk": {"name": "backup"}},
                {"value": "2000", "application": "transfer", "trunkId": "backup"},
                {"value": "2001", "application": "internal", "label": "x"},
            ]
        )
    )
    result = avrgen("import", str(source), "--dry-run", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    out = result.stderr + result.stdout
    for note in (
        "phone '7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d': field 'extension' has no blueprint "
        "counterpart; dropped",
        "trunk '': skipped: no usable name",
        "trunk 'Backup': transport 'sctp' unknown; using udp",
        "trunk 'Backup': named 'backup'",
        "trunk 'Backup': field 'host' has no blueprint counterpart; dropped",
        "number '2000': skipped: listed twice",
        "number '2001': skipped: its phone is not given",
    ):
        assert note in out, note
    assert "PHONE_7A1B2C3D_PASSWORD" in out  # no fullName: the id's first 8 characters
    assert not (tmp_path / "blueprints" / "numbers").exists()  # a dry run
