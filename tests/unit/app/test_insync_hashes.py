"""compose_hashes: the content hashes a rendered compose file records, or none."""

from __future__ import annotations

from conftest import REPO

from avrgen.app.insync import compose_hashes
from avrgen.model.output import COMPOSE_FILE
from avrgen.pipeline.checks import read_rendered
from avrgen.pipeline.content_hash import recorded, recorded_lines


def test_no_compose_file_has_no_hashes() -> None:
    assert compose_hashes(None) == {}


def test_a_compose_file_that_does_not_parse_has_no_hashes() -> None:
    assert compose_hashes(b"services: [unclosed\n") == {}


def test_a_service_without_the_label_has_no_hash() -> None:
    assert compose_hashes(b"services:\n  core:\n    image: x\n") == {}


def test_the_hashes_are_those_compose_s_reading_gives() -> None:
    """Read with PyYAML (not yaml-rs, which crashed in threads): every bundled agent's
    hashes are those the YAML 1.2 reading of render's parse-back gives, one per service."""
    compose_files = sorted((REPO / "output").glob(f"*/{COMPOSE_FILE}"))
    assert len(compose_files) >= 5
    for path in compose_files:
        data = path.read_bytes()
        expected = recorded(read_rendered(data.decode()))
        assert compose_hashes(data) == expected, path
        if path.parent.name != "_telephony":
            assert len(expected) == len(read_rendered(data.decode())["services"]), path


def test_a_file_that_is_no_mapping_has_no_hashes() -> None:
    assert compose_hashes(b"- a\n- b\n") == {}


def test_another_layout_is_parsed() -> None:
    """A compose file not laid out as render writes it (here in flow style) is parsed."""
    digest = "ab" * 32
    text = f'{{"services": {{"core": {{"labels": {{"avrgen.content-hash": "{digest}"}}}}}}}}\n'
    assert recorded_lines(text) is None
    assert compose_hashes(text.encode()) == {"core": digest}
    short = b'services:\n  core:\n    labels:\n      "avrgen.content-hash": "x"\n'
    assert compose_hashes(short) == {"core": "x"}


def test_the_lines_render_writes_are_read_without_parsing() -> None:
    for path in sorted((REPO / "output").glob(f"*/{COMPOSE_FILE}")):
        text = path.read_text()
        assert recorded_lines(text) == recorded(read_rendered(text)), path


def test_another_layout_that_does_not_parse_has_no_hashes() -> None:
    assert compose_hashes(b'services: {core: {labels: {"avrgen.content-hash": [unclosed\n') == {}
