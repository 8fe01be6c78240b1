"""A blueprint set's id: made up once at the first render, recorded in the lock, read
from it ever after; the settings' `set:` wins (issue 17)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from blueprint_folder import write_blueprints
from conftest import Avrgen

from avrgen.fs.lock import new_set_id, read_set_id, render_lock

PROVIDER = "kind: provider\nname: Echo\ntype: STS\nconfig: {image: echo:1}\n"
AGENT = "kind: agent\nname: desk\nmode: sts\nproviders: {sts: Echo}\n"
SET_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def test_a_new_id_names_the_folder_holding_the_blueprints(tmp_path: Path) -> None:
    folder = tmp_path / "Acme Support_2" / "blueprints"
    made = new_set_id(folder)
    assert re.fullmatch(r"acme-support-2-[0-9a-f]{8}", made)
    assert made != new_set_id(folder)  # two checkouts of one repository differ
    assert SET_ID.fullmatch(new_set_id(tmp_path / ("x" * 60) / "b"))
    assert re.fullmatch(r"set-[0-9a-f]{8}", new_set_id(Path("/") / "b"))


def test_the_lock_records_the_id(tmp_path: Path) -> None:
    assert read_set_id(tmp_path) is None  # no lock
    (tmp_path / "avrgen.lock").write_bytes(render_lock({"a": {"core": 5002}}, "prod-1"))
    assert read_set_id(tmp_path) == "prod-1"
    (tmp_path / "avrgen.lock").write_text('{"agents": {}}')  # an older avrgen's lock
    assert read_set_id(tmp_path) is None


def test_the_first_render_makes_the_id_up_once(tmp_path: Path, avrgen: Avrgen) -> None:
    folder = write_blueprints(tmp_path / "site" / "bp", {"a.yaml": PROVIDER + "---\n" + AGENT})
    out = str(tmp_path / "out")
    assert avrgen("render", "-b", str(folder), "-o", out).exit_code == 0
    made = read_set_id(folder)
    assert made is not None and made.startswith("site-")
    compose = (tmp_path / "out" / "desk" / "docker-compose.yml").read_text()
    assert compose.count(f'"avrgen.set": "{made}"') == 2  # provider and core
    assert avrgen("render", "-b", str(folder), "-o", out).exit_code == 0
    assert read_set_id(folder) == made
    assert avrgen("render", "--check", "-b", str(folder), "-o", out).exit_code == 0


def test_the_settings_set_wins_and_the_lock_follows(tmp_path: Path, avrgen: Avrgen) -> None:
    folder = write_blueprints(tmp_path / "bp", {"a.yaml": PROVIDER + "---\n" + AGENT})
    out = str(tmp_path / "out")
    assert avrgen("render", "-b", str(folder), "-o", out).exit_code == 0
    (folder / "settings.yaml").write_text("kind: settings\nset: support-prod\n")
    stale = avrgen("render", "--check", "-b", str(folder), "-o", out)
    assert stale.exit_code == 1  # the labels and the lock change
    assert avrgen("render", "-b", str(folder), "-o", out).exit_code == 0
    assert json.loads((folder / "avrgen.lock").read_text())["set"] == "support-prod"
    compose = (tmp_path / "out" / "desk" / "docker-compose.yml").read_text()
    assert '"avrgen.set": "support-prod"' in compose


def test_an_invalid_set_id_names_file_line_and_field(tmp_path: Path, avrgen: Avrgen) -> None:
    folder = write_blueprints(
        tmp_path / "bp",
        {"a.yaml": PROVIDER + "---\n" + AGENT, "settings.yaml": "kind: settings\nset: Prod 1\n"},
    )
    result = avrgen("validate", "-b", str(folder))
    assert result.exit_code == 1
    assert (
        f"{folder}/settings.yaml:2: set: set id must be 1-40 of a-z, 0-9 and '-', starting "
        "with a letter or digit, got 'Prod 1'"
    ) in result.stderr
    (folder / "settings.yaml").write_text("kind: settings\nsett: x\n")
    typo = avrgen("validate", "-b", str(folder))
    assert "unknown field 'sett' (did you mean 'set'?)" in typo.stderr
