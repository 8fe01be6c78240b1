"""The loader's limits at their exact boundary, and the line of each problem it reports: file
size, UTF-8, the first NUL, the values and nesting of one document, a reader error after
non-ASCII text (the C reader counts bytes, the message lines), merge keys at any depth.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from avrgen.errors import BlueprintError, Problem
from avrgen.pipeline import load
from avrgen.pipeline.load import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    blueprint_files,
    load_blueprints,
    parse_documents,
    read_plain_yaml,
)

DEEP = "nested more than 64 levels deep"
LARGE = "document too large (more than 200000 values, aliases expanded)"
MERGE = "merge keys (<<) are not supported; write the keys out"


def problems_of(folder: Path) -> list[Problem]:
    with pytest.raises(BlueprintError) as caught:
        load_blueprints(folder)
    return caught.value.problems


def one_problem(text: str) -> tuple[int, str, str]:
    with pytest.raises(BlueprintError) as caught:
        parse_documents(text, "f.yaml")
    [found] = caught.value.problems
    assert found.file == "f.yaml"
    assert found.severity == "error"
    return found.line, found.path, found.message


def test_the_limits_are_the_documented_numbers() -> None:
    assert (MAX_DEPTH, MAX_NODES, MAX_FILE_BYTES) == (64, 200_000, 8 * 1024 * 1024)


# -- files ---------------------------------------------------------------------------------


def test_a_file_of_exactly_the_limit_is_read_and_one_byte_more_is_not(tmp_path: Path) -> None:
    text = "kind: x\nv: a\n"
    padded = text + "#" * (MAX_FILE_BYTES - len(text) - 1) + "\n"
    (tmp_path / "a.yaml").write_text(padded)
    [doc] = load_blueprints(tmp_path)
    assert doc.data == {"kind": "x", "v": "a"}
    (tmp_path / "a.yaml").write_text(padded + "\n")
    name = (tmp_path / "a.yaml").as_posix()
    assert problems_of(tmp_path) == [Problem(name, 0, "", "file larger than 8388608 bytes")]


def test_the_line_of_the_first_nul_when_there_are_several(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(b"kind: x\n\nv: a\x00b\nw: \x00\n\x00")
    name = (tmp_path / "a.yaml").as_posix()
    assert problems_of(tmp_path) == [Problem(name, 3, "", "NUL byte in file")]


def test_the_line_of_the_first_invalid_utf8_byte(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes("kind: é\n\nv: a\xffb\n\xfe\n".encode("latin-1"))
    name = (tmp_path / "a.yaml").as_posix()
    assert problems_of(tmp_path) == [Problem(name, 1, "", "not valid UTF-8 text")]
    (tmp_path / "a.yaml").write_bytes("kind: é\n\nv: a".encode() + b"\xff\n")
    assert problems_of(tmp_path) == [Problem(name, 3, "", "not valid UTF-8 text")]


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_bytes(b"\xef\xbb\xbfkind: x\n")
    [doc] = load_blueprints(tmp_path)
    assert (doc.data, doc.line) == ({"kind": "x"}, 1)


def test_an_unreadable_file_is_named_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").mkdir()  # a folder named like a blueprint: walked, not read
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    assert blueprint_files(tmp_path) == []
    with pytest.raises(BlueprintError) as caught:
        read_plain_yaml(tmp_path / "a.yaml")
    [found] = caught.value.problems
    assert (found.file, found.line, found.path) == ((tmp_path / "a.yaml").as_posix(), 0, "")
    assert found.message == "cannot read: Is a directory"


def test_problems_of_every_file_are_reported_together(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("kind: x\nv: !foo 1\n")
    (tmp_path / "b.yml").write_text("kind: x\nkind: y\n")
    (tmp_path / "c.yaml").write_text("kind: ok\n")
    (tmp_path / "notes.txt").write_text("kind: [\n")
    a, b = (tmp_path / "a.yaml").as_posix(), (tmp_path / "b.yml").as_posix()
    assert problems_of(tmp_path) == [
        Problem(a, 2, "v", "tag '!foo' is not allowed (plain values only)"),
        Problem(b, 2, "kind", "duplicate key 'kind' (first written on line 1)"),
    ]


def test_files_are_found_recursively_in_path_order_without_dot_files(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.yaml").write_text("kind: z\n")
    (tmp_path / "a.yml").write_text("kind: a\n")
    (tmp_path / "c.yaml").write_text("kind: c\n")
    (tmp_path / ".hidden.yaml").write_text("kind: hidden\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "d.yaml").write_text("kind: d\n")
    (tmp_path / "readme.md").write_text("kind: md\n")
    found = [p.relative_to(tmp_path).as_posix() for p in blueprint_files(tmp_path)]
    assert found == ["a.yml", "b/z.yaml", "c.yaml"]
    docs = load_blueprints(tmp_path)
    assert [(d.file, d.data["kind"]) for d in docs] == [
        ((tmp_path / "a.yml").as_posix(), "a"),
        ((tmp_path / "b" / "z.yaml").as_posix(), "z"),
        ((tmp_path / "c.yaml").as_posix(), "c"),
    ]


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError) as caught:
        blueprint_files(tmp_path / "nope")
    assert caught.value.problems == [
        Problem(str(tmp_path / "nope"), 0, "", "blueprint folder not found")
    ]


def test_symlinks_inside_are_followed_and_outside_refused(tmp_path: Path) -> None:
    root = tmp_path / "bp"
    (root / "real").mkdir(parents=True)
    (root / "real" / "a.yaml").write_text("kind: a\n")
    (root / "again").symlink_to(root / "real")  # a second name of a folder: read once
    (root / "link.yaml").symlink_to(root / "real" / "a.yaml")
    (root / "readme").symlink_to(tmp_path / "elsewhere.md")  # dangling, not a blueprint
    outside = tmp_path / "secret.yaml"
    outside.write_text("kind: secret\n")
    found = [p.relative_to(root).as_posix() for p in blueprint_files(root)]
    assert found == ["again/a.yaml", "link.yaml"]
    (root / "out.yaml").symlink_to(outside)
    (root / "gone.yaml").symlink_to(tmp_path / "missing.yaml")
    (root / "real" / "loop").symlink_to(root / "real")
    with pytest.raises(BlueprintError) as caught:
        blueprint_files(root)
    assert caught.value.problems == [
        Problem((root / "again" / "loop").as_posix(), 0, "", "symlink loop; not followed"),
        Problem((root / "gone.yaml").as_posix(), 0, "", "broken symlink"),
        Problem(
            (root / "out.yaml").as_posix(),
            0,
            "",
            f"symlink leads outside the blueprint folder (to {outside}); not read",
        ),
    ]


def test_a_custom_parser_stands_in(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("kind: a\n")
    seen: list[tuple[str, str]] = []

    def parse(text: str, name: str) -> list[load.Document]:
        seen.append((text, name))
        return [load.Document(name, 9, {"kind": "stub"})]

    [doc] = load_blueprints(tmp_path, parse)
    assert seen == [("kind: a\n", (tmp_path / "a.yaml").as_posix())]
    assert (doc.line, doc.data) == (9, {"kind": "stub"})


# -- read_plain_yaml: a catalog template -------------------------------------------------------


def test_a_plain_file_is_typed_data(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("name: x\nport: 8080\nami: true\n")
    assert read_plain_yaml(tmp_path / "t.yaml") == {"name": "x", "port": 8080, "ami": True}


def test_a_plain_file_passes_the_blueprint_checks_first(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("name: x\nv: !!python/name:os.system\n")
    with pytest.raises(BlueprintError) as caught:
        read_plain_yaml(tmp_path / "t.yaml")
    [found] = caught.value.problems
    assert (found.line, found.path) == (2, "v")


def test_a_plain_file_that_is_a_list_is_returned_as_a_list(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("[]\n")
    with pytest.raises(BlueprintError) as caught:
        read_plain_yaml(tmp_path / "t.yaml")
    assert caught.value.problems[0].message == "a document must be a mapping with a `kind`"


# -- one document's limits ----------------------------------------------------------------------


def test_exactly_max_nodes_values_are_read_and_one_more_is_not() -> None:
    """The mapping and its `kind` key and value are 3 values; the list and its items the rest."""
    items = MAX_NODES - 3 - 2  # the key `v` and the list node
    text = "kind: x\nv: [" + ",".join(["a"] * items) + "]\n"
    [doc] = parse_documents(text, "f.yaml")
    assert len(doc.data["v"]) == items
    assert one_problem("kind: x\nv: [" + ",".join(["a"] * (items + 1)) + "]\n") == (2, "", LARGE)


def test_one_collection_too_many_is_refused_at_its_line() -> None:
    items = MAX_NODES - 5  # then the limit is reached: an empty list or mapping is one more
    head = "kind: x\nv: [" + ",".join(["a"] * items)
    assert one_problem(head + ",\n[]]\n") == (3, "", LARGE)
    assert one_problem(head + ",\n\n{}]\n") == (4, "", LARGE)


def test_nesting_depth_at_the_boundary_in_mappings() -> None:
    """The document's mapping is level 1; 63 mappings below it read, one more does not."""
    inner = "{a: " * 62 + "b" + "}" * 62
    [doc] = parse_documents(f"kind: x\nv: {inner}\n", "f.yaml")
    assert doc.line_of(("v",) + ("a",) * 62) == 2
    deeper = "{a: " * 63 + "b" + "}" * 63
    assert one_problem(f"kind: x\n\n\nv: {deeper}\n") == (4, "", DEEP)
    deepest = "{a: " * 63 + "{}" + "}" * 63
    assert one_problem(f"kind: x\nv: {deepest}\n") == (2, "", DEEP)


def test_depth_is_counted_again_in_every_document() -> None:
    nested = "[" * 62 + "a" + "]" * 62
    text = "".join(f"---\nkind: x\nv: {nested}\n" for _ in range(3))
    assert len(parse_documents(text, "f.yaml")) == 3


def test_values_are_counted_again_in_every_document() -> None:
    items = MAX_NODES - 5
    doc = "kind: x\nv: [" + ",".join(["a"] * items) + "]\n"
    assert len(parse_documents(doc + "---\n" + doc, "f.yaml")) == 2


# -- where each problem is --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: x\na:\n  b:\n    <<: {c: 1}\n", (4, "a.b", MERGE)),
        ("kind: x\na:\n  - <<: {c: 1}\n", (3, "a.0", MERGE)),
        ("kind: x\na:\n  - {b: 1}\n  - {<<: {c: 1}}\n", (4, "a.1", MERGE)),
        ("<<: {kind: x}\n", (1, "", MERGE)),
        ("kind: x\na:\n  ? !!merge {b: 1}\n  : v\n", (3, "a", MERGE)),
    ],
    ids=["mapping", "list-item", "second-item", "top", "merge-tag-on-a-mapping-key"],
)
def test_merge_keys_are_refused_at_any_depth_with_their_path(
    text: str, expected: tuple[int, str, str]
) -> None:
    assert one_problem(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: x\na:\n  b: !foo 1\n", (3, "a.b", "tag '!foo' is not allowed (plain values only)")),
        (
            "kind: x\na:\n  - x\n  - !foo 1\n",
            (4, "a.1", "tag '!foo' is not allowed (plain values only)"),
        ),
        ("kind: x\na: !foo {b: 1}\n", (2, "a", "tag '!foo' is not allowed (plain values only)")),
        (
            "kind: x\na:\n  - !foo [1]\n",
            (3, "a.0", "tag '!foo' is not allowed (plain values only)"),
        ),
        ('kind: x\na:\n  b: "x\\0y"\n', (3, "a.b", "NUL character in a value")),
        ('kind: x\na: ["\\0"]\n', (2, "a.0", "NUL character in a value")),
        (
            "kind: x\na:\n  b: 1\n  b: 2\n",
            (4, "a.b", "duplicate key 'b' (first written on line 3)"),
        ),
        ("kind: x\na:\n  [b]: 1\n", (3, "", "a key must be plain text")),
    ],
    ids=[
        "tag-in-mapping",
        "tag-in-list",
        "tag-on-mapping",
        "tag-on-list",
        "nul-in-mapping",
        "nul-in-list",
        "duplicate-below",
        "key-not-plain",
    ],
)
def test_problems_below_the_top_name_their_field(text: str, expected: tuple[int, str, str]) -> None:
    assert one_problem(text) == expected


def test_a_reader_error_after_non_ascii_text_names_its_line() -> None:
    """The C reader counts a position in bytes: the line is still the line of the text."""
    text = "kind: x\nv: " + "é" * 40 + "\nw: ok\nz: \x07\n"
    line, path, message = one_problem(text)
    assert (line, path) == (4, "")
    assert message.startswith("invalid YAML: character 0x0007 is not allowed in YAML")


def test_a_reader_error_on_the_first_line() -> None:
    line, _, message = one_problem("\x07kind: x\n")
    assert line == 1
    assert message.startswith("invalid YAML: character 0x0007")


def test_a_syntax_error_names_its_line_and_the_parsers_words() -> None:
    line, path, message = one_problem("kind: x\nv: [a\nw: b\n")
    assert (line, path) == (3, "")
    assert message.startswith("invalid YAML: ")
    assert message != "invalid YAML: "


def test_the_lines_of_every_field() -> None:
    [doc] = parse_documents("\n\nkind: x\nm:\n  a: 1\n  l:\n    - p\n    - {q: r}\n", "f.yaml")
    assert doc.line == 3
    assert doc.data == {"kind": "x", "m": {"a": "1", "l": ["p", {"q": "r"}]}}
    assert doc.lines == {
        ("kind",): 3,
        ("m",): 4,
        ("m", "a"): 5,
        ("m", "l"): 6,
        ("m", "l", 0): 7,
        ("m", "l", 1): 8,
        ("m", "l", 1, "q"): 8,
    }
    assert doc.file == "f.yaml"


def test_documents_keep_their_own_lines_and_anchors() -> None:
    text = "kind: a\nx: &n 1\n---\nkind: b\nx: &n 2\ny: *n\n"
    first, second = parse_documents(text, "f.yaml")
    assert (first.line, first.data, first.lines) == (
        1,
        {"kind": "a", "x": "1"},
        {("kind",): 1, ("x",): 2},
    )
    assert second.line == 4
    assert second.data == {"kind": "b", "x": "2", "y": "2"}
    assert second.lines == {("kind",): 4, ("x",): 5, ("y",): 6}


def test_an_alias_to_an_anchor_of_an_earlier_document_is_refused() -> None:
    assert one_problem("kind: a\nx: &n 1\n---\nkind: b\ny: *n\n") == (
        5,
        "",
        "invalid YAML: alias *n names no anchor before it",
    )


def test_an_alias_that_explodes_inside_its_own_anchor_is_too_large() -> None:
    """A recursive alias met when the values are already at the limit: the size is named."""
    items = MAX_NODES - 5
    text = "kind: x\nv: &a [" + ",".join(["a"] * items) + ", *a]\n"
    assert one_problem(text) == (2, "", LARGE)
    small = "kind: x\nv: &a [a, *a]\n"
    assert one_problem(small) == (2, "", "recursive alias")


def test_files_are_sorted_by_their_path_as_text(tmp_path: Path) -> None:
    """`a-b.yaml` before `a/x.yaml` ('-' < '/'), as the relative paths sort as text."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.yaml").write_text("kind: x\n")
    (tmp_path / "a-b.yaml").write_text("kind: y\n")
    (tmp_path / "a.yaml").write_text("kind: z\n")
    found = [p.relative_to(tmp_path).as_posix() for p in blueprint_files(tmp_path)]
    assert found == ["a-b.yaml", "a.yaml", "a/x.yaml"]
