"""A Project's blueprint set for the engine: from its plan, or, when the blueprints cannot
be read, from the id its lock records (issue 17)."""

from __future__ import annotations

from pathlib import Path

from blueprint_folder import write_blueprints

from avrgen.app.project import Paths, Project
from avrgen.app.sets import remember, scope_of
from avrgen.fs.lock import render_lock
from avrgen.fs.sets import known_set

VALID = (
    "kind: settings\nset: site-a\nnetwork: {name: avrx}\n---\n"
    "kind: provider\nname: Echo\ntype: STS\nconfig: {image: echo:1}\n---\n"
    "kind: agent\nname: desk\nmode: sts\nproviders: {sts: Echo}\n"
)


def test_the_scope_of_a_plan_is_its_set_network_and_agents(tmp_path: Path) -> None:
    folder = write_blueprints(tmp_path / "bp", {"a.yaml": VALID})
    project = Project(Paths(folder, tmp_path / "out", state=tmp_path / "state"))
    the_plan = project.plan()[0]
    scope = scope_of(project, the_plan)
    assert (scope.set_id, scope.network, scope.agents) == ("site-a", "avrx", {"desk"})
    remember(project, the_plan)
    record = known_set(tmp_path / "state", "site-a")
    assert record is not None and record.blueprints == str(folder.resolve())


def test_without_a_plan_the_lock_names_the_set(tmp_path: Path) -> None:
    folder = tmp_path / "bp"
    folder.mkdir()
    project = Project(Paths(folder, tmp_path / "out"))
    assert scope_of(project, None).set_id is None  # never rendered: no labelled one is its
    (folder / "avrgen.lock").write_bytes(render_lock({}, "site-b"))
    scope = scope_of(project, None)
    assert (scope.set_id, scope.network, scope.agents) == ("site-b", None, None)
    (folder / "avrgen.lock").write_text('{"set": "Not An Id", "agents": {}}')
    assert scope_of(project, None).set_id is None  # unreadable: no labelled one is its
