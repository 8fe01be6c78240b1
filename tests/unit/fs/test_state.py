"""The state folder: where it is by default, and that avrgen makes it private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from avrgen.fs.state import ROOT_STATE, default_state_dir, private_dir


def test_root_keeps_state_in_var_lib() -> None:
    assert default_state_dir({"XDG_STATE_HOME": "/x"}, euid=0) == ROOT_STATE


def test_a_user_gets_xdg_state_home() -> None:
    assert default_state_dir({"XDG_STATE_HOME": "/srv/st"}, euid=1000) == Path("/srv/st/avrgen")


@pytest.mark.parametrize("xdg", ["", "relative/dir"])
def test_without_an_absolute_xdg_state_home_it_is_under_home(xdg: str) -> None:
    expected = Path.home() / ".local" / "state" / "avrgen"
    assert default_state_dir({"XDG_STATE_HOME": xdg}, euid=1000) == expected


def test_private_dir_makes_every_missing_folder_0700(tmp_path: Path) -> None:
    made = private_dir(tmp_path / "a" / "b")
    for folder in (tmp_path / "a", made):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_private_dir_tightens_an_existing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "open"
    folder.mkdir(mode=0o755)
    private_dir(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
