"""`avrgen history` and `avrgen rollback` as an operator reads them (no engine needed: the
state folder holds releases recorded as `up` records them; rollback's refusals come before
any engine is asked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO, Avrgen

from avrgen.app.releases import Recorder
from avrgen.fs.lock import read_set_id
from avrgen.fs.releases import ReleaseStore
from avrgen.model.plan import AgentPlan, Container
from avrgen.model.release import ImageRun

A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def record(state: Path, prompt: bytes, image_id: str, key: str = "PROMPT") -> None:
    core = Container(
        role="core", name="avr-core-desk", image="core:1", env=((key, "x"),), port=1, labels=()
    )
    agent = AgentPlan("desk", "id", "sts", None, (core,))
    runs = [ImageRun(role="core", container="avr-core-desk", image_id=image_id)]
    files = {"docker-compose.yml": b"services: {}\n", "core.env": prompt}
    # the releases of the bundled blueprints' set: the commands run in the repository
    store = ReleaseStore(state, read_set_id(REPO / "blueprints"))
    Recorder(store, state / "no-blueprints").record(agent, files, runs, "up")


@pytest.fixture
def state(tmp_path: Path) -> Path:
    record(tmp_path, b"PROMPT=one\n", A)
    record(tmp_path, b"PROMPT=two\n", B, key="INSTRUCTIONS")
    return tmp_path


def test_history_tells_each_release_and_what_it_changed(avrgen: Avrgen, state: Path) -> None:
    done = avrgen("history", "desk", "--state", str(state))
    assert done.exit_code == 0, done.stderr
    lines = [line.split("  ")[0] for line in done.stdout.splitlines()]
    assert lines[0] == "AGENT" and lines[1:3] == ["desk", ""]
    text = done.stdout
    assert "first release: 2 file(s)" in text and "image core: aaaaaaaaaaaa" in text
    assert "files: core.env" in text and "image core: aaaaaaaaaaaa -> bbbbbbbbbbbb" in text
    assert "env keys core: +INSTRUCTIONS -PROMPT" in text


def test_history_json(avrgen: Avrgen, state: Path) -> None:
    done = avrgen("history", "--json", "--state", str(state))
    assert done.exit_code == 0, done.stderr
    entries = json.loads(done.stdout)
    assert [(e["agent"], e["number"], e["previous"]) for e in entries] == [
        ("desk", 1, None),
        ("desk", 2, 1),
    ]
    assert entries[1]["changes"]["images"] == {"core": {"from": A, "to": B}}
    assert entries[1]["changes"]["env_keys_added"] == {"core": ["INSTRUCTIONS"]}
    assert entries[1]["containers"][0]["env_keys"] == ["INSTRUCTIONS"]


def test_history_without_releases(avrgen: Avrgen, tmp_path: Path) -> None:
    done = avrgen("history", "--state", str(tmp_path))
    assert (done.exit_code, done.stdout) == (0, f"no releases in {tmp_path}\n")
    done = avrgen("history", "ghost", "--state", str(tmp_path))
    assert done.exit_code == 1
    assert f"agent 'ghost' has no releases in {tmp_path / 'releases'}" in done.stderr


def test_rollback_refusals_name_what_there_is(avrgen: Avrgen, tmp_path: Path) -> None:
    done = avrgen("rollback", "desk", "--state", str(tmp_path))
    assert done.exit_code == 1 and "agent 'desk' has no releases" in done.stderr
    record(tmp_path, b"PROMPT=one\n", A)
    done = avrgen("rollback", "desk", "--state", str(tmp_path))
    assert done.exit_code == 1
    assert "agent 'desk' has one release (1): none before it to roll back to" in done.stderr
    done = avrgen("rollback", "desk", "--to", "4", "--state", str(tmp_path))
    assert done.exit_code == 1 and "has no release 4 in" in done.stderr
    assert "(its releases: 1)" in done.stderr
    assert avrgen("rollback", "desk", "--to", "0", "--state", str(tmp_path)).exit_code == 2
