"""The render cache's record of the set (SetView): read back checked (set_view_of), and
from the entry's header line alone as a hint (last_set_view: ps and status start no read
of the default engine when the last render recorded `hosts`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avrgen.pipeline import cache
from avrgen.pipeline.cache.store import entry_path
from avrgen.pipeline.cache.views import SetView, set_view_of


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path / "xdg-cache"


VIEW = SetView("0f2c", "avr", "compose", True)


def _entry(output: Path, header: dict[str, object]) -> None:
    path = entry_path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(json.dumps(header).encode() + b"\n{}\n")


def test_a_set_view_is_read_back_checked() -> None:
    assert set_view_of(None) is None  # an entry of an older avrgen, without one
    assert set_view_of({"set_id": "0f2c", "network": "avr", "target": "compose", "hosts": True})
    for bad in (
        {"set_id": 1, "network": "avr", "target": "compose", "hosts": True},
        {"set_id": "0f2c", "network": "avr", "target": "compose", "hosts": "yes"},
    ):
        with pytest.raises(ValueError, match="bad set view"):
            set_view_of(bad)


def test_the_last_set_view_is_the_header_s(tmp_path: Path) -> None:
    output = tmp_path / "output"
    assert cache.last_set_view(output) is None  # no entry
    _entry(
        output,
        {
            "format": cache.FORMAT,
            "set": {"set_id": "0f2c", "network": "avr", "target": "compose", "hosts": True},
        },
    )
    assert cache.last_set_view(output) == VIEW
    _entry(output, {"format": cache.FORMAT, "set": None})  # an older avrgen's
    assert cache.last_set_view(output) is None
    _entry(output, {"format": cache.FORMAT - 1, "set": {"hosts": True}})
    assert cache.last_set_view(output) is None
    _entry(output, {"format": cache.FORMAT, "set": {"hosts": True}})  # not a whole view
    assert cache.last_set_view(output) is None
    entry_path(output).write_bytes(b"[1,\n")
    assert cache.last_set_view(output) is None
