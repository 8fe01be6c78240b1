"""The content-hash label: the sha256 of each rendered service, parsed back."""

from __future__ import annotations

import json

import pytest

from avrgen.fs.lock import read_set_id
from avrgen.model.labels import CONTENT_HASH_LABEL
from avrgen.model.plan import Plan
from avrgen.pipeline import content_hash
from avrgen.pipeline.catalog import load_catalog
from avrgen.pipeline.checks import read_rendered
from avrgen.pipeline.load import load_blueprints
from avrgen.pipeline.plan import plan
from avrgen.pipeline.render import Renderer
from avrgen.pipeline.validate import validate
from tests.conftest import BUNDLED_BLUEPRINTS


@pytest.fixture(scope="module")
def bundled_plan() -> Plan:
    validated = validate(load_blueprints(BUNDLED_BLUEPRINTS), load_catalog())
    return plan(validated.blueprint, {}, load_catalog(), read_set_id(BUNDLED_BLUEPRINTS) or "")


def test_each_service_records_the_hash_of_itself_with_the_placeholder(bundled_plan: Plan) -> None:
    files = Renderer().render(bundled_plan, only={"billing"})
    text = files["billing/docker-compose.yml"].decode()
    data = read_rendered(text)
    hashes = content_hash.recorded(data)
    assert sorted(hashes) == ["asr", "core", "llm", "tts"]
    for role, service in data["services"].items():
        service["labels"][CONTENT_HASH_LABEL] = content_hash.placeholder(role)
        assert content_hash.service_hash(service) == hashes[role]
    assert len(set(hashes.values())) == 4


def test_a_changed_service_changes_only_its_own_hash() -> None:
    text = (
        "services:\n"
        "  core:\n    image: a\n    labels:\n"
        f'      {CONTENT_HASH_LABEL}: "{content_hash.placeholder("core")}"\n'
        "  sts:\n    image: b\n    labels:\n"
        f'      {CONTENT_HASH_LABEL}: "{content_hash.placeholder("sts")}"\n'
        "  own:\n    image: c\n    labels: {x: y}\n"  # no placeholder: left as it is
    )
    first = content_hash.recorded(read_rendered(content_hash.fill(text, read_rendered(text))))
    changed = text.replace("image: b", "image: b2")
    second = content_hash.recorded(
        read_rendered(content_hash.fill(changed, read_rendered(changed)))
    )
    assert set(first) == {"core", "sts"}
    assert first["core"] == second["core"] and first["sts"] != second["sts"]
    assert all(len(v) == 64 and set(v) <= set("0123456789abcdef") for v in first.values())
    # a placeholder still in place (not filled) is not a recorded hash
    assert content_hash.recorded(read_rendered(text)) == {}
    assert content_hash.recorded({"services": {"x": "not a mapping"}}) == {}
    assert json.dumps(content_hash.placeholder("core")) not in content_hash.fill(
        text, read_rendered(text)
    )
