"""`avrgen new provider` / `avrgen new agent`: the written file is valid as written (it
loads, validates and renders, and passes the editor schema), commented, keeps secrets as
references, and nothing is ever overwritten.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import REPO, Avrgen

from avrgen.app.scaffold import scalar, slugify
from avrgen.app.schema import blueprint_schema
from avrgen.pipeline.catalog import load_catalog
from avrgen.pipeline.load import load_blueprints
from avrgen.pipeline.validate import validate

CATALOG = load_catalog()


def schema_errors(path: Path) -> list[str]:
    validator = jsonschema.Draft202012Validator(blueprint_schema())
    return [
        e.message for d in yaml.safe_load_all(path.read_text()) for e in validator.iter_errors(d)
    ]


def new_user_flow(avrgen: Avrgen, root: Path) -> None:
    steps = [
        ("new", "provider", "--template", "sts-openai", "--name", "OpenAI Realtime Prod"),
        ("new", "agent", "front-desk", "--sts", "OpenAI Realtime Prod"),
        ("validate",),
        ("render",),
    ]
    for step in steps:
        result = avrgen(*step, cwd=root)
        assert result.exit_code == 0, (step, result.stderr)


def test_new_user_sts_flow(avrgen: Avrgen, tmp_path: Path) -> None:
    new_user_flow(avrgen, tmp_path)
    provider = tmp_path / "blueprints" / "providers" / "openai-realtime-prod.yaml"
    agent = tmp_path / "blueprints" / "agents" / "front-desk.yaml"
    text = provider.read_text()
    assert "template: sts-openai" in text
    assert "OPENAI_API_KEY: {secret: OPENAI_API_KEY}" in text
    assert "    # OPENAI_MODEL: gpt-realtime-2" in text  # optional keys: comments only
    assert text.startswith("# Provider ")
    assert "mode: sts" in agent.read_text()
    compose = (tmp_path / "output" / "front-desk" / "docker-compose.yml").read_text()
    assert f"{CATALOG['sts-openai'].image_ref}" in compose
    assert "${OPENAI_API_KEY:?" in compose
    env = (tmp_path / "output" / "front-desk" / "sts.env").read_text()
    assert "OPENAI_MODEL" not in env and "OPENAI_API_KEY" not in env
    assert schema_errors(provider) == [] and schema_errors(agent) == []


def test_new_pipeline_agent(avrgen: Avrgen, tmp_path: Path) -> None:
    for template, name in [
        ("asr-deepgram", "Deepgram ASR"),
        ("llm-anthropic", "Claude"),
        ("tts-elevenlabs", "Rachel"),
    ]:
        result = avrgen("new", "provider", "--template", template, "--name", name, cwd=tmp_path)
        assert result.exit_code == 0, result.stderr
    result = avrgen(
        "new",
        "agent",
        "billing",
        "--asr",
        "Deepgram ASR",
        "--llm",
        "Claude",
        "--tts",
        "Rachel",
        cwd=tmp_path,
    )
    assert result.exit_code == 0, result.stderr
    check = avrgen("validate", "--json", cwd=tmp_path)
    data = json.loads(check.stdout)
    assert data["valid"] is True and data["agents"] == ["billing"]
    # the one warning: ELEVENLABS_VOICE_ID is required and was left empty to fill in
    assert [p["message"] for p in data["problems"]] == [
        "ELEVENLABS_VOICE_ID is empty; template 'tts-elevenlabs' needs a value"
    ]
    assert avrgen("render", cwd=tmp_path).exit_code == 0


@pytest.mark.parametrize("template", sorted(CATALOG))
def test_every_template_scaffolds_a_valid_provider(
    avrgen: Avrgen, tmp_path: Path, template: str
) -> None:
    result = avrgen(
        "new", "provider", "--template", template, "--name", f"My {template}", cwd=tmp_path
    )
    assert result.exit_code == 0, result.stderr
    (path,) = (tmp_path / "blueprints" / "providers").iterdir()
    validated = validate(load_blueprints(tmp_path / "blueprints"), CATALOG)
    t = CATALOG[template]
    # written: the required keys and the first choice of each conditional need
    written = {*t.required, *(key for need in t.needs for key in need.any_of[0])}
    for warning in validated.warnings:  # only "fill in" warnings, for plain keys
        assert "is empty" in warning.message
    assert len(validated.warnings) == len(written - set(t.secrets))
    data = yaml.safe_load(path.read_text())
    for key in written:
        expected = {"secret": key} if key in t.secrets else ""
        assert data["config"]["env"][key] == expected
    assert set(data["config"]["env"]) == written
    assert schema_errors(path) == []


def test_refuses_to_overwrite(avrgen: Avrgen, tmp_path: Path) -> None:
    new_user_flow(avrgen, tmp_path)
    provider = tmp_path / "blueprints" / "providers" / "openai-realtime-prod.yaml"
    before = provider.read_bytes()
    again = avrgen(
        "new",
        "provider",
        "--template",
        "sts-openai",
        "--name",
        "OpenAI Realtime Prod",
        cwd=tmp_path,
    )
    assert again.exit_code == 1
    assert "a provider named 'OpenAI Realtime Prod' already exists" in again.stderr
    other = avrgen(
        "new",
        "provider",
        "--template",
        "sts-gemini",
        "--name",
        "Gemini",
        "--file",
        str(provider),
        cwd=tmp_path,
    )
    assert other.exit_code == 1 and "refusing to overwrite" in other.stderr
    agent = avrgen("new", "agent", "front-desk", "--sts", "OpenAI Realtime Prod", cwd=tmp_path)
    assert agent.exit_code == 1 and "already exists" in agent.stderr
    assert provider.read_bytes() == before
    assert "Traceback" not in again.stderr + other.stderr + agent.stderr


def test_new_provider_file_option(avrgen: Avrgen, tmp_path: Path) -> None:
    target = tmp_path / "blueprints" / "custom" / "p.yaml"
    result = avrgen(
        "new",
        "provider",
        "--template",
        "sts-gemini",
        "--name",
        "G",
        "--file",
        str(target),
        cwd=tmp_path,
    )
    assert result.exit_code == 0 and target.is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Front Desk", "--sts", "P"), "invalid agent name 'Front Desk'"),
        (("front", "--sts", "Q"), "no provider named 'Q'"),
        (("front", "--sts", "P "), "no provider named 'P ' in blueprints (did you mean 'P'?)"),
        (("front", "--asr", "P", "--llm", "P"), "give either --sts NAME, or all three"),
        (("front", "--sts", "P", "--asr", "P"), "give either --sts NAME, or all three"),
        (("front",), "give either --sts NAME, or all three"),
        (
            ("front", "--asr", "P", "--llm", "P", "--tts", "P"),
            "provider 'P' is of type STS, not ASR",
        ),
    ],
)
def test_new_agent_errors(avrgen: Avrgen, tmp_path: Path, args: tuple, message: str) -> None:
    avrgen("new", "provider", "--template", "sts-gemini", "--name", "P", cwd=tmp_path)
    result = avrgen("new", "agent", *args, cwd=tmp_path)
    assert result.exit_code == 1
    assert message in result.stderr
    assert not (tmp_path / "blueprints" / "agents").exists()


def test_new_provider_errors(avrgen: Avrgen, tmp_path: Path) -> None:
    unknown = avrgen("new", "provider", "--template", "sts-opena", "--name", "X", cwd=tmp_path)
    assert unknown.exit_code == 1 and "did you mean 'sts-openai'" in unknown.stderr
    empty = avrgen("new", "provider", "--template", "sts-openai", "--name", " ", cwd=tmp_path)
    assert empty.exit_code == 1 and "1-200 characters" in empty.stderr
    assert not (tmp_path / "blueprints").exists()


def test_odd_provider_name_round_trips(avrgen: Avrgen, tmp_path: Path) -> None:
    name = 'Ops: "night" #2 yes'
    result = avrgen("new", "provider", "--template", "sts-gemini", "--name", name, cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    validated = validate(load_blueprints(tmp_path / "blueprints"), CATALOG)
    assert list(validated.blueprint.providers) == [name]
    assert (tmp_path / "blueprints" / "providers" / "ops-night-2-yes.yaml").is_file()


def test_schema_header_when_the_schema_is_beside_the_blueprints(
    avrgen: Avrgen, tmp_path: Path
) -> None:
    (tmp_path / "schema").mkdir()
    shutil.copy(REPO / "schema" / "avrgen.schema.json", tmp_path / "schema")
    new_user_flow(avrgen, tmp_path)
    for path in (tmp_path / "blueprints").rglob("*.yaml"):
        first = path.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schema/avrgen.schema.json"
        assert (path.parent / first.split("=", 1)[1]).resolve().is_file()


@pytest.mark.parametrize(
    "value", ["", "yes", "no", "0.7", "0123", "1:20", "a: b", "#x", " x", "@x", "~", "null", "é"]
)
def test_scalar_reads_back(value: str) -> None:
    text = scalar(value)
    assert yaml.safe_load(f"k: {text}") == {"k": value}


def test_slugify() -> None:
    assert slugify("Customer Support (EN)") == "customer-support-en"
    assert slugify("---") == ""
    assert len(slugify("x" * 80)) == 40


def test_a_name_with_a_trailing_newline_is_refused(avrgen: Avrgen, tmp_path: Path) -> None:
    """`$` also matches before a last newline: the name rule must hold for the whole text."""
    result = avrgen("new", "agent", "front\n", "--sts", "x", "-b", str(tmp_path / "bp"))
    assert result.exit_code == 1
    assert "invalid agent name 'front\\n'" in result.stderr
