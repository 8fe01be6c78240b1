"""Editor support: `avrgen schema` is the committed schema/avrgen.schema.json, the bundled
blueprints point at it, and an editor-grade validator (jsonschema) flags a misspelled key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from conftest import REPO, Avrgen, run_process

from avrgen.app.schema import blueprint_schema, schema_text

COMMITTED = REPO / "schema" / "avrgen.schema.json"
HEADER = "# yaml-language-server: $schema=../schema/avrgen.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(COMMITTED.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.Draft202012Validator, doc: Any) -> list[tuple[str, str]]:
    return [
        (".".join(str(p) for p in e.absolute_path), e.message) for e in validator.iter_errors(doc)
    ]


def test_committed_copy_is_current(avrgen: Avrgen) -> None:
    result = avrgen("schema")
    assert result.exit_code == 0
    assert result.stdout == schema_text()
    assert COMMITTED.read_text() == result.stdout, (
        "schema/avrgen.schema.json is stale: run `avrgen schema > schema/avrgen.schema.json`"
    )


def test_bundled_blueprints_point_at_the_schema() -> None:
    files = sorted((REPO / "blueprints").glob("*.yaml"))
    assert files
    for path in files:
        first = path.read_text().splitlines()[0]
        assert first == HEADER, path
        assert (path.parent / first.split("=", 1)[1]).resolve() == COMMITTED


def test_bundled_blueprints_pass_the_schema(validator: jsonschema.Draft202012Validator) -> None:
    for path in sorted((REPO / "blueprints").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert errors(validator, doc) == [], (path, doc.get("name"))


@pytest.mark.parametrize(
    ("text", "where", "word"),
    [
        ("kind: provider\nname: P\ntype: STS\nconfig: {imgae: x/y:1}\n", "config", "imgae"),
        ("kind: provider\nname: P\ntype: STS\ntemplat: sts-openai\n", "", "templat"),
        ("kind: agent\nname: a\nmode: sts\nprovider: {sts: P}\n", "", "provider"),
        ("kind: agent\nname: a\nmode: sts\nproviders: {stts: P}\n", "providers", "stts"),
        ("kind: settings\nnetwork: {nmae: avr}\n", "network", "nmae"),
        (
            "kind: agent\nname: a\nmode: sts\nproviders: {sts: P}\ncore: {publsh: true}\n",
            "core",
            "publsh",
        ),
    ],
)
def test_misspelled_key_is_flagged(
    validator: jsonschema.Draft202012Validator, text: str, where: str, word: str
) -> None:
    found = errors(validator, yaml.safe_load(text))
    assert any(path == where and repr(word) in message for path, message in found), found


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ({"kind": "agnet", "name": "a"}, "kind"),
        ({"name": "a"}, ""),
        ({"kind": "agent", "name": "Bad Name", "mode": "sts", "providers": {}}, "name"),
        ({"kind": "agent", "name": "a", "mode": "both", "providers": {}}, "mode"),
        ({"kind": "provider", "name": "P", "type": "XTS"}, "type"),
        (
            {"kind": "provider", "name": "P", "type": "STS", "config": {"env": {"A-B": "x"}}},
            "config.env",
        ),
        (
            {
                "kind": "provider",
                "name": "P",
                "type": "STS",
                "config": {"env": {"K": {"secret": "K", "x": 1}}},
            },
            "config.env.K",
        ),
        (
            {
                "kind": "agent",
                "name": "a",
                "mode": "sts",
                "providers": {},
                "ports": {"core": 70000},
            },
            "ports.core",
        ),
    ],
)
def test_invalid_values_are_flagged(
    validator: jsonschema.Draft202012Validator, doc: dict[str, Any], where: str
) -> None:
    assert any(path == where for path, _ in errors(validator, doc)), errors(validator, doc)


def test_what_avrgen_accepts_the_schema_accepts(
    validator: jsonschema.Draft202012Validator,
) -> None:
    """Env values are any scalar (avrgen keeps the text); ports are YAML integers."""
    text = """\
kind: agent
name: a
mode: sts
providers: {sts: P}
env: {TEMPERATURE: 0.7, DEBUG: yes, EMPTY: , NAME: x, KEY: {secret: KEY}}
ports: {core: 5001}
core: {publish: true}
"""
    assert errors(validator, yaml.safe_load(text)) == []


def test_schema_is_deterministic() -> None:
    """The same bytes from processes with different hash seeds (set and dict order inside
    pydantic's schema generation would show here), and the same as the committed copy."""
    texts = set()
    for seed in ("0", "1", "4242"):
        proc = run_process("schema", env={"PYTHONHASHSEED": seed})
        assert proc.returncode == 0, proc.stderr
        texts.add(proc.stdout)
    assert texts == {COMMITTED.read_text()}
    assert json.loads(schema_text()) == blueprint_schema()
    assert Path(COMMITTED).read_text().endswith("}\n")
