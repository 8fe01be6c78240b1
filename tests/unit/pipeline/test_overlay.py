"""Environments' overlays (avrgen/pipeline/overlay.py): each merge rule, and the file and
line every merged field keeps, down to the validation errors of values an overlay set."""

from __future__ import annotations

import pytest

from avrgen.errors import BlueprintError
from avrgen.model.document import Document, Null
from avrgen.pipeline.catalog import load_catalog
from avrgen.pipeline.load import parse_documents
from avrgen.pipeline.overlay import apply_overlay, identity, merge
from avrgen.pipeline.validate import validate

BASE = """\
kind: agent
name: support
mode: sts
providers: {sts: Voice}
tenant: acme
env:
  LOG_LEVEL: info
  KEEP: kept
core:
  env: {A: "1"}
  publish: true
ports: {core: 5011}
---
kind: provider
name: Voice
type: STS
config:
  image: example/sts:1.0
  env: {LIST_LIKE: "a,b"}
---
kind: settings
network: {name: avr, subnet: 172.20.0.0/24}
publish: {host_ip: 127.0.0.1}
"""


def base() -> list[Document]:
    return parse_documents(BASE, "blueprints/base.yaml")


def overlay(text: str, file: str = "environments/prod/over.yaml") -> list[Document]:
    return parse_documents(text, file, nulls=True)


def merged(text: str) -> list[Document]:
    return apply_overlay(base(), overlay(text))


def agent(documents: list[Document]) -> Document:
    return next(d for d in documents if d.data["kind"] == "agent")


def test_mappings_merge_key_by_key() -> None:
    doc = agent(merged("kind: agent\nname: support\nenv: {LOG_LEVEL: debug, NEW: x}\n"))
    assert doc.data["env"] == {"LOG_LEVEL": "debug", "KEEP": "kept", "NEW": "x"}
    assert doc.data["core"] == {"env": {"A": "1"}, "publish": "true"}  # untouched


def test_scalars_replace() -> None:
    doc = agent(merged("kind: agent\nname: support\ntenant: globex\n"))
    assert doc.data["tenant"] == "globex"


def test_lists_replace_whole() -> None:
    base_docs = parse_documents(
        "kind: settings\nports: {reserved: [5001, 5038, 6006]}\n", "blueprints/s.yaml"
    )
    over = overlay("kind: settings\nports: {reserved: [5999]}\n")
    (doc,) = apply_overlay(base_docs, over)
    assert doc.data["ports"]["reserved"] == ["5999"]
    assert doc.position(("ports", "reserved", 0)) == ("environments/prod/over.yaml", 2)
    assert ("ports", "reserved", 2) not in doc.lines  # the base's items are gone


def test_a_mapping_replaces_a_scalar_and_a_scalar_a_mapping() -> None:
    doc = agent(merged("kind: agent\nname: support\ncore: {publish: {host_ip: 10.0.0.5}}\n"))
    assert doc.data["core"]["publish"] == {"host_ip": "10.0.0.5"}
    doc = agent(merged("kind: agent\nname: support\nenv: nothing\n"))
    assert doc.data["env"] == "nothing"
    assert ("env", "KEEP") not in doc.lines


@pytest.mark.parametrize("null", ["null", "~", "", "Null", "NULL", "!!null ''"])
def test_null_removes_a_key(null: str) -> None:
    doc = agent(merged(f"kind: agent\nname: support\ncore:\n  publish: {null}\n"))
    assert "publish" not in doc.data["core"]
    assert doc.data["core"]["env"] == {"A": "1"}


def test_null_of_a_missing_key_is_nothing() -> None:
    doc = agent(merged("kind: agent\nname: support\nplacement: null\n"))
    assert "placement" not in doc.data


def test_a_quoted_null_is_the_text() -> None:
    doc = agent(merged("kind: agent\nname: support\nenv: {KEEP: \"null\", X: '~'}\n"))
    assert doc.data["env"]["KEEP"] == "null"
    assert doc.data["env"]["X"] == "~"
    assert type(doc.data["env"]["KEEP"]) is str


def test_nulls_are_text_in_the_base() -> None:
    """Values are what you wrote: only an overlay's null removes anything."""
    (doc,) = parse_documents("kind: agent\nenv: {X: ~, Y: null}\n", "b.yaml")
    assert doc.data["env"] == {"X": "~", "Y": "null"}
    assert not any(isinstance(v, Null) for v in doc.data["env"].values())


def test_a_new_document_is_added_without_its_nulls() -> None:
    docs = merged("kind: agent\nname: extra\nmode: sts\ntenant: ~\nproviders: {sts: Voice}\n")
    assert [d.data.get("name") for d in docs] == ["support", "Voice", None, "extra"]
    extra = docs[-1]
    assert extra.file == "environments/prod/over.yaml"
    assert "tenant" not in extra.data
    assert not any(isinstance(v, Null) for v in extra.data.values())


def test_same_name_of_another_kind_is_a_new_document() -> None:
    docs = merged("kind: provider\nname: support\ntype: STS\n")
    assert len(docs) == 4


def test_settings_merge_whatever_their_name() -> None:
    docs = merged("kind: settings\nnetwork: {name: avr-prod}\n")
    settings = next(d for d in docs if d.data["kind"] == "settings")
    assert settings.data["network"] == {"name": "avr-prod", "subnet": "172.20.0.0/24"}
    assert settings.data["publish"] == {"host_ip": "127.0.0.1"}
    assert len(docs) == 3


def test_numbers_merge_by_number() -> None:
    base_docs = parse_documents(
        'kind: number\nnumber: "5001"\nagent: a\nrecording: "false"\n', "blueprints/n.yaml"
    )
    over = overlay(
        'kind: number\nnumber: "5001"\nrecording: true\n---\nkind: number\nnumber: "6"\n'
    )
    docs = apply_overlay(base_docs, over)
    assert docs[0].data == {"kind": "number", "number": "5001", "agent": "a", "recording": "true"}
    assert docs[1].data["number"] == "6"
    assert identity(docs[0]) == ("number", "5001")


def test_identity_needs_a_text_kind_and_name() -> None:
    (doc,) = overlay("kind: agent\nname: null\n")
    assert identity(doc) is None
    (doc,) = overlay("kind: ~\nname: x\n")
    assert identity(doc) is None
    (doc,) = overlay("kind: [agent]\n")
    assert identity(doc) is None


def test_kind_and_name_keep_the_base_positions() -> None:
    doc = agent(merged("\n\nkind: agent\nname: support\ntenant: t\n"))
    assert doc.position(("name",)) == ("blueprints/base.yaml", 2)
    assert (doc.file, doc.line) == ("blueprints/base.yaml", 1)


def test_positions_of_set_values_are_the_overlay_s() -> None:
    doc = agent(merged("kind: agent\nname: support\nenv:\n  LOG_LEVEL: debug\n"))
    assert doc.position(("env", "LOG_LEVEL")) == ("environments/prod/over.yaml", 4)
    assert doc.position(("env", "KEEP")) == ("blueprints/base.yaml", 8)
    assert doc.position(("env",)) == ("blueprints/base.yaml", 6)  # merged, not replaced
    assert doc.file_of(("tenant",)) == "blueprints/base.yaml"


def test_a_removed_key_points_at_the_overlay_line() -> None:
    doc = agent(merged("kind: agent\nname: support\n\nmode: null\n"))
    assert doc.position(("mode",)) == ("environments/prod/over.yaml", 4)


def test_merge_leaves_the_base_document_as_it_was() -> None:
    docs = base()
    before = repr(docs[0])
    merge(docs[0], overlay("kind: agent\nname: support\nenv: {LOG_LEVEL: x}\ncore: ~\n")[0])
    assert repr(docs[0]) == before


def test_two_overlays_of_one_document_are_an_error() -> None:
    text = "kind: agent\nname: support\ntenant: a\n---\nkind: agent\nname: support\n"
    with pytest.raises(BlueprintError) as caught:
        merged(text)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.path) == ("environments/prod/over.yaml", 6, "name")
    assert "environments/prod/over.yaml:2" in problem.message


def test_validation_errors_in_overlaid_values_name_the_overlay() -> None:
    text = (
        "kind: agent\nname: support\nmode: stss\nenv:\n  AGENT_ID: x\nports: {core: 99999}\n"
        "unknown: 1\n---\nkind: provider\nname: Voice\nconfig:\n  image: ''\n"
        "---\nkind: settings\nnetwork: {name: '-bad'}\n"
    )
    with pytest.raises(BlueprintError) as caught:
        validate(merged(text), load_catalog(()))
    found = {(p.file, p.line, p.path) for p in caught.value.problems}
    over = "environments/prod/over.yaml"
    assert (over, 3, "mode") in found
    assert (over, 6, "ports.core") in found
    assert (over, 7, "unknown") in found
    assert (over, 12, "config.image") in found
    assert (over, 15, "network.name") in found


def test_rule_errors_in_overlaid_values_name_the_overlay() -> None:
    text = "kind: agent\nname: support\nenv:\n  AGENT_ID: x\ncore: {env: {PORT: '1'}}\n"
    with pytest.raises(BlueprintError) as caught:
        validate(merged(text), load_catalog(()))
    errors = [p for p in caught.value.problems if p.severity == "error"]
    found = {(p.file, p.line, p.path) for p in errors}
    over = "environments/prod/over.yaml"
    assert found == {(over, 4, "env.AGENT_ID"), (over, 5, "core.env.PORT")}


def test_a_required_field_removed_by_an_overlay_names_its_line() -> None:
    with pytest.raises(BlueprintError) as caught:
        validate(merged("kind: agent\nname: support\nmode: ~\n"), load_catalog(()))
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.path) == ("environments/prod/over.yaml", 3, "mode")


def test_errors_in_base_values_still_name_the_base() -> None:
    text = BASE.replace("tenant: acme", "tenant: ''")
    docs = apply_overlay(parse_documents(text, "blueprints/base.yaml"), overlay("kind: settings\n"))
    with pytest.raises(BlueprintError) as caught:
        validate(docs, load_catalog(()))
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.path) == ("blueprints/base.yaml", 5, "tenant")


def test_environment_names_are_reserved_for_base_agents() -> None:
    with pytest.raises(BlueprintError) as caught:
        validate(base(), load_catalog(()), environments=("support", "prod"))
    (problem,) = [p for p in caught.value.problems if p.severity == "error"]
    assert (problem.file, problem.line, problem.path) == ("blueprints/base.yaml", 2, "name")
    assert "environments/support/" in problem.message


def test_the_position_of_a_field_never_written_is_the_document_s() -> None:
    (doc,) = overlay("\nkind: agent\n")
    assert doc.position(("env", "X")) == ("environments/prod/over.yaml", 2)
    assert doc.file_of(()) == "environments/prod/over.yaml"
