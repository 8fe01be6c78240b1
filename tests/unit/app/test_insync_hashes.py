"""compose_hashes: the content hashes a rendered compose file records, or none."""

from __future__ import annotations

from avrgen.app.insync import compose_hashes


def test_no_compose_file_has_no_hashes() -> None:
    assert compose_hashes(None) == {}


def test_a_compose_file_that_does_not_parse_has_no_hashes() -> None:
    assert compose_hashes(b"services: [unclosed\n") == {}


def test_a_service_without_the_label_has_no_hash() -> None:
    assert compose_hashes(b"services:\n  core:\n    image: x\n") == {}
