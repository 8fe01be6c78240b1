"""Releases as `up` records them: only when what runs changed, names of env keys and
secrets but never a value, the images override, and what `history` says changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from avrgen.app.history import changes, history
from avrgen.app.project import Paths, Project
from avrgen.app.releases import Recorder, agent_files, images_override, release_agent
from avrgen.errors import AvrgenError
from avrgen.fs.releases import ReleaseStore
from avrgen.model.blueprint import Secret
from avrgen.model.plan import AgentPlan, Container
from avrgen.model.release import ImageRun

A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
SECRET_VALUE = "never-recorded-secret-value"
LITERAL = "a literal prompt value"


def agent(prompt_key: str = "PROMPT") -> AgentPlan:
    sts = Container(
        role="sts",
        name="avr-sts-desk",
        image="acme/sts:1",
        env=((prompt_key, LITERAL), ("API_KEY", Secret(secret="DESK_KEY"))),
        port=6001,
        labels=(),
    )
    core = Container(
        role="core",
        name="avr-core-desk",
        image="acme/core:1",
        env=(("STS_URL", "ws://avr-sts-desk:6001"),),
        port=5001,
        labels=(),
        http_port=7001,
        published=(5001, 7001),
        host_ip="127.0.0.1",
    )
    return AgentPlan("desk", "agent-id", "sts", None, (sts, core))


def runs(sts: str = A, core: str = A) -> list[ImageRun]:
    return [
        ImageRun(role="sts", container="avr-sts-desk", image_id=sts),
        ImageRun(role="core", container="avr-core-desk", image_id=core),
    ]


FILES = {"docker-compose.yml": b"services: {}\n", "sts.env": f'PROMPT="{LITERAL}"\n'.encode()}


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    return Recorder(ReleaseStore(tmp_path / "state", "set-a"), tmp_path / "blueprints")


def test_a_release_only_when_files_or_images_changed(recorder: Recorder) -> None:
    first = recorder.record(agent(), FILES, runs(), "up")
    assert first is not None and first.number == 1 and first.revision is None
    assert recorder.record(agent(), FILES, runs(), "up") is None  # the same again
    moved = recorder.record(agent(), FILES, runs(sts=B), "up")  # a tag that moved
    assert moved is not None and moved.number == 2
    edited = recorder.record(agent(), {**FILES, "sts.env": b"PROMPT=two\n"}, runs(sts=B), "up")
    assert edited is not None and edited.number == 3
    assert recorder.store.numbers("desk") == [1, 2, 3]


def test_a_container_that_does_not_run_records_nothing(recorder: Recorder) -> None:
    assert recorder.record(agent(), FILES, runs()[:1], "up") is None
    assert recorder.store.numbers("desk") == []


def test_names_of_env_keys_and_secrets_are_recorded_never_a_value(recorder: Recorder) -> None:
    release = recorder.record(agent(), FILES, runs(), "up")
    assert release is not None
    sts = release.containers[0]
    assert sts.env_keys == ("API_KEY", "PROMPT") and sts.secrets == (("API_KEY", "DESK_KEY"),)
    record = (recorder.store.folder("desk", 1) / "release.json").read_text()
    assert LITERAL not in record and SECRET_VALUE not in record
    assert "DESK_KEY" in record


def test_the_images_override_pins_each_service_by_content(recorder: Recorder) -> None:
    release = recorder.record(agent(), FILES, runs(sts=B), "up")
    assert release is not None
    assert images_override(release.containers) == (
        b"# Written by avrgen: each image of this release by id or digest.\n"
        b'services:\n  "sts":\n    image: "' + B.encode() + b'"\n'
        b'  "core":\n    image: "' + A.encode() + b'"\n'
    )
    assert (recorder.store.folder("desk", 1) / "images.yml").read_bytes() == images_override(
        release.containers
    )


def test_the_agent_a_rollback_brings_back(recorder: Recorder) -> None:
    release = recorder.record(agent(), FILES, runs(sts=B), "up")
    assert release is not None
    back = release_agent(release)
    assert [(c.role, c.name, c.image) for c in back.containers] == [
        ("sts", "avr-sts-desk", B),
        ("core", "avr-core-desk", A),
    ]
    assert back.secrets == {"DESK_KEY"} and back.core.published == (5001, 7001)
    assert back.project == "avr-desk" and back.core.host_ip == "127.0.0.1"


def test_a_rollback_keeps_the_revision_of_the_release_it_brings_back(
    recorder: Recorder,
) -> None:
    first = recorder.record(agent(), FILES, runs(), "up")
    recorder.record(agent(), {**FILES, "sts.env": b"x"}, runs(), "up")
    assert first is not None
    back = recorder.record(first, FILES, runs(), "rollback to 1")
    assert back is not None and back.number == 3 and back.origin == "rollback to 1"
    assert back.files == first.files and back.containers == first.containers


def test_agent_files_are_every_regular_file_of_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "desk"
    (folder / "conf").mkdir(parents=True)
    (folder / "core.env").write_bytes(b"A=1\n")
    (folder / "conf" / "x.conf").write_bytes(b"x")
    (folder / "link").symlink_to(folder / "core.env")
    assert agent_files(tmp_path, "desk") == {"conf/x.conf": b"x", "core.env": b"A=1\n"}
    assert agent_files(tmp_path, "gone") == {}


def test_what_each_release_changed(recorder: Recorder) -> None:
    one = recorder.record(agent(), FILES, runs(), "up")
    files = {"docker-compose.yml": b"services: {x: 1}\n", "extra.env": b""}
    two = recorder.record(agent("INSTRUCTIONS"), files, runs(sts=B), "up")
    assert one is not None and two is not None
    first, second = changes(None, one), changes(one, two)
    assert first.files_added == ("docker-compose.yml", "sts.env")
    assert first.images == {"core": (None, A), "sts": (None, A)}
    assert second.files_added == ("extra.env",) and second.files_removed == ("sts.env",)
    assert second.files_changed == ("docker-compose.yml",)
    assert second.images == {"sts": (A, B)}
    assert second.env_added == {"sts": ("INSTRUCTIONS",)}
    assert second.env_removed == {"sts": ("PROMPT",)}


def test_history_of_one_agent_or_of_all(tmp_path: Path, recorder: Recorder) -> None:
    blueprints = tmp_path / "blueprints"  # history is of one blueprint set's releases
    blueprints.mkdir()
    (blueprints / "settings.yaml").write_text("kind: settings\nset: set-a\n")
    project = Project(Paths(blueprints, tmp_path / "output", state=tmp_path / "state"))
    assert history(project) == []
    with pytest.raises(AvrgenError, match=r"agent 'desk' has no releases in .*`avrgen up desk`"):
        history(project, "desk")
    recorder.record(agent(), FILES, runs(), "up")
    recorder.record(agent(), FILES, runs(sts=B), "up")
    entries = history(project, "desk")
    assert [(e.release.number, e.previous) for e in entries] == [(1, None), (2, 1)]
    assert [e.release.agent for e in history(project)] == ["desk", "desk"]


def test_a_release_keeps_the_host_that_ran_it_and_rollback_goes_there(
    tmp_path: Path, recorder: Recorder
) -> None:
    from dataclasses import replace

    from avrgen.app.history import engine_for

    on_edge = recorder.record(replace(agent(), host="edge"), FILES, runs(), "up")
    assert on_edge is not None and on_edge.host == "edge"
    assert release_agent(on_edge).host == "edge"
    blueprints = tmp_path / "blueprints"
    blueprints.mkdir()
    settings = 'kind: settings\nhosts:\n  edge: {docker: "ssh://ops@10.0.0.11"}\n'
    (blueprints / "settings.yaml").write_text(settings)
    project = Project(Paths(blueprints, tmp_path / "output", state=tmp_path / "state"))
    assert engine_for(project, on_edge, None).endpoint == "ssh://ops@10.0.0.11"
    local = recorder.record(agent(), FILES, runs(sts=B), "up")
    assert local is not None and engine_for(project, local, None).endpoint is None
    (blueprints / "settings.yaml").write_text("kind: settings\n")
    with pytest.raises(AvrgenError, match="ran on host 'edge', which the settings' hosts no"):
        engine_for(project, on_edge, None)
