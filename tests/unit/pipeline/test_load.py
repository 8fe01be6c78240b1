"""The one-pass reader of blueprint YAML (avrgen.pipeline.load.parse_documents): aliases replayed as
copies with their lines, and the first problem of a file reported, in avrgen's words.

The hostile inputs (billion laughs, 10k-deep nesting, tags, NUL...) are in test_hardening.py;
these are the edge cases of reading events directly: aliases copied and located, plain
scalars the resolver tags oddly, and which problem a file with several is reported by.
"""

from __future__ import annotations

import string
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from avrgen.errors import BlueprintError
from avrgen.pipeline import load, yaml_reader
from avrgen.pipeline.load import parse_documents


def problem(text: str) -> tuple[int, str, str]:
    """(line, field path, message) of the one problem `text` has."""
    with pytest.raises(BlueprintError) as caught:
        parse_documents(text, "x.yaml")
    [found] = caught.value.problems
    assert found.file == "x.yaml"
    return found.line, found.path, found.message


def test_an_alias_is_a_copy_located_where_the_anchored_value_is_written() -> None:
    text = "kind: agent\nbase: &b\n  x: '1'\n  y: [a, b]\nfirst: *b\nsecond: [*b]\n"
    [doc] = parse_documents(text, "x.yaml")
    base = {"x": "1", "y": ["a", "b"]}
    assert doc.data == {"kind": "agent", "base": base, "first": base, "second": [base]}
    first, second = doc.data["first"], doc.data["second"][0]
    assert first is not doc.data["base"] and first is not second  # changing one keeps the other
    assert first["y"] is not second["y"]
    assert doc.lines[("first",)] == 5 and doc.lines[("second",)] == 6
    for path in (("base",), ("first",), ("second", 0)):  # both copies point at the anchored text
        assert doc.lines[(*path, "x")] == 3
        assert doc.lines[(*path, "y", 1)] == 4
    assert doc.lines[("second", 0)] == 2
    assert doc.line_of(("second", 0, "y", 0)) == 4


def test_an_aliased_key_is_checked_like_the_text_it_copies() -> None:
    [doc] = parse_documents("kind: x\nk: &k name\nlist: [*k, *k]\n*k : v\n", "x.yaml")
    assert doc.data == {"kind": "x", "k": "name", "list": ["name", "name"], "name": "v"}
    assert doc.lines[("list", 1)] == 2 and doc.lines[("name",)] == 2
    assert problem("&k kind: x\n*k : y\n") == (
        1,
        "kind",
        "duplicate key 'kind' (first written on line 1)",
    )
    assert problem("kind: x\na: &a {*a : 1}\n") == (2, "", "a key must be plain text")
    assert problem("kind: x\nname: &a [b, [*a]]\n") == (2, "", "recursive alias")


def test_nesting_through_an_alias_names_the_first_line_too_deep() -> None:
    # 40 levels written one per line (line 2 on), used 31 levels down: level 33 is too deep
    text = "kind: x\na: &a " + "[\n" * 40 + "]" * 40 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n"
    assert problem(text) == (35, "", DEEP)


TAG = "tag '{}' is not allowed (plain values only)"
MERGE = "merge keys (<<) are not supported; write the keys out"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: x\nv: =\n", (2, "v", TAG.format("tag:yaml.org,2002:value"))),
        ("kind: x\nv: <<\n", (2, "v", TAG.format("tag:yaml.org,2002:merge"))),
        ("kind: x\nv: ! 12\nw: ! =\n", (3, "w", TAG.format("tag:yaml.org,2002:value"))),
        ("kind: x\n=: v\n", (2, "", TAG.format("tag:yaml.org,2002:value"))),
        ("kind: x\n! <<: 1\n", (2, "", MERGE)),
        ("kind: x\n!!merge k: 1\n", (2, "", MERGE)),
        ("kind: x\n? !!merge {a: 1}\n: v\n", (2, "", MERGE)),
        ("kind: x\nv: !!str\n", {"kind": "x", "v": ""}),
        (
            "kind: x\nv: '<<'\nw: \"=\"\n!!str <<: y\n",
            {"kind": "x", "v": "<<", "w": "=", "<<": "y"},
        ),
    ],
    ids=["equals", "merge-value", "bang-equals", "equals-key", "bang-merge-key", "merge-tag",
         "merge-tag-on-mapping", "str", "quoted"],
)  # fmt: skip
def test_plain_scalars_the_resolver_tags_oddly(
    text: str, expected: tuple[int, str, str] | dict[str, str]
) -> None:
    if isinstance(expected, dict):  # read as the text written, each key on its own line
        [doc] = parse_documents(text, "x.yaml")
        assert doc.data == expected
        assert [doc.lines[(key,)] for key in expected] == list(range(1, len(expected) + 1))
    else:
        assert problem(text) == expected


def test_only_the_odd_plain_scalars_resolve_to_a_refused_tag() -> None:
    """The one pass resolves a plain scalar only when it is one of yaml_reader.ODD_PLAIN: that is
    right only while SafeLoader's resolver tags nothing else outside the allowed tags."""
    refused = {
        tag: regexp.pattern
        for resolvers in yaml_reader.SafeLoader.yaml_implicit_resolvers.values()
        for tag, regexp in resolvers
        if tag not in yaml_reader.ALLOWED_TAGS
    }
    core = "tag:yaml.org,2002:"
    assert refused == {
        core + "merge": "^(?:<<)$",
        core + "value": "^(?:=)$",
        core + "yaml": "^(?:!|&|\\*)$",
    }
    assert {"<<", "=", "!", "&", "*"} == yaml_reader.ODD_PLAIN


def test_empty_documents_are_skipped_and_others_counted() -> None:
    text = "---\n---\n!!null ''\n---\n&a\n---\nkind: a\n...\n---\n# only a comment\n"
    [doc] = parse_documents(text, "x.yaml")
    assert (doc.line, doc.data) == (7, {"kind": "a"})
    not_a_mapping = "a document must be a mapping with a `kind`"
    assert problem("kind: a\n--- ''\n") == (2, "", not_a_mapping)
    assert problem("- a\n- b\n") == (1, "", not_a_mapping)
    assert problem("- a\n- !foo b\n") == (2, "1", TAG.format("!foo"))  # checked before


LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
)
DEEP = f"nested more than {load.MAX_DEPTH} levels deep"
LARGE = f"document too large (more than {load.MAX_NODES} values, aliases expanded)"
UNDEFINED = "invalid YAML: alias *nope names no anchor before it"
TWICE = "invalid YAML: anchor &x defined twice"
FLOOR = "---\nkind: " + "[" * 70 + "]" * 70 + "\n"
TOO_DEEP_FOR_PYYAML = "[" * 10_000 + "]" * 10_000  # PyYAML >= 6.0.4 refuses it in its scanner


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the first problem in reading order, wherever a later one would have been noticed
        ("kind: a\nx: !foo 1\n---\nkind: [\n", (2, "x", TAG.format("!foo"))),
        ("kind: a\n---\nkind: [\n", (4, "", "invalid YAML")),
        (LAUGHS + FLOOR, (1, "", LARGE)),
        ("kind: a\n" + FLOOR, (3, "", DEEP)),
        # too deep is avrgen's message and line, whichever layer noticed it
        ("kind: x\nv:\n  - " + TOO_DEEP_FOR_PYYAML + "\n", (3, "", DEEP)),
        ("kind: x\nx: 1\ny: " + TOO_DEEP_FOR_PYYAML + "\n", (3, "", DEEP)),
        ("kind: a\nx: !foo 1\ny: *nope\n", (2, "x", TAG.format("!foo"))),
        ("kind: a\ny: *nope\n", (2, "", UNDEFINED)),
        ("a: &x 1\nb: 2\nc: &x 3\n", (3, "", TWICE)),
        ("kind: a\nx: !foo 1\n---\nkind: b\ny: *nope\n", (2, "x", TAG.format("!foo"))),
        (LAUGHS, (1, "", LARGE)),
    ],
    ids=["tag-before-parser", "parser", "laughs-before-depth", "depth", "deep-item", "deep-value",
         "tag-before-alias", "undefined-alias", "duplicate-anchor", "later-alias", "laughs"],
)  # fmt: skip
def test_a_file_with_several_problems_reports_the_first_one(
    text: str, expected: tuple[int, str, str]
) -> None:
    line, where, message = problem(text)
    assert (line, where) == expected[:2]
    assert message.startswith(expected[2]), message


# -- any tree with shared parts (aliases) reads back as written ------------------------------

KEYS = st.text(string.ascii_letters + string.digits + " -_.:#&*!<=", min_size=1, max_size=6)
SCALARS = st.one_of(
    st.sampled_from(["no", "0123", "~", "", "=", "<<", "1e3", "2001-01-01", "a: b", "- x"]),
    # no control characters or line separators: PyYAML's emitter writes some of them wrongly
    st.text(
        st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\ufeff"),
        max_size=8,
    ),
)
TREES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)


def paths(value: Any, path: tuple[str | int, ...] = ()) -> set[tuple[str | int, ...]]:
    """Every key and item path inside `value`."""
    if isinstance(value, str):
        return set()
    items = value.items() if isinstance(value, dict) else enumerate(value)
    return {p for step, inner in items for p in ({(*path, step)} | paths(inner, (*path, step)))}


@settings(max_examples=200, deadline=None)
@given(shared=TREES, other=TREES, flow=st.sampled_from([None, True, False]))
def test_trees_with_aliases_read_back_with_every_line(shared: Any, other: Any, flow: Any) -> None:
    data = {"kind": "x", "a": shared, "b": [shared, other], "c": {"d": shared}}
    text = yaml.safe_dump(data, allow_unicode=True, default_flow_style=flow, width=60)
    [doc] = parse_documents(text, "x.yaml")
    assert doc.data == data
    assert set(doc.lines) == paths(data)
    last = text.count("\n") + 1
    assert all(1 <= line <= last for line in doc.lines.values())
    for path in paths(shared):  # the copies are located at the text they were copied from
        assert doc.lines[("b", 0, *path)] == doc.lines[("c", "d", *path)] == doc.lines[("a", *path)]


def test_nesting_is_refused_at_the_65th_level_exactly() -> None:
    """64 levels of values (the document's mapping, 62 lists, the scalar) read; one more not."""
    [doc] = parse_documents("kind: x\nv: " + "[" * 62 + "a" + "]" * 62 + "\n", "x.yaml")
    assert doc.line_of(("v",) + (0,) * 62) == 2
    assert problem("kind: x\n\nv: " + "[" * 63 + "a" + "]" * 63 + "\n") == (3, "", DEEP)
    parse_documents("kind: x\nv: " + "[" * 63 + "]" * 63 + "\n", "x.yaml")  # 64: empty
    assert problem("kind: x\nv: " + "[" * 64 + "]" * 64 + "\n") == (2, "", DEEP)
