"""Project.plan(): a command asks for the plan more than once (ps: the target, then the
agents); documents equal to the last ones read are not validated or planned again, and any
change (a blueprint edited, the lock, an environment folder) is planned anew."""

from __future__ import annotations

from pathlib import Path

from avrgen.app.project import Paths, Project


def project_of(bundled: Path) -> Project:
    return Project(Paths(bundled, bundled.parent / "output"))


def test_unchanged_blueprints_are_planned_once(bundled: Path) -> None:
    project = project_of(bundled)
    first, validated = project.plan()
    again, validated_again = project.plan()
    assert again is first and validated_again is validated


def test_an_edited_blueprint_is_planned_anew(bundled: Path) -> None:
    project = project_of(bundled)
    first = project.plan()[0]
    settings = project.paths.blueprints / "settings.yaml"
    text = settings.read_text()
    assert "subnet: 172.20.0.0/24" in text
    settings.write_text(text.replace("subnet: 172.20.0.0/24", "subnet: 172.31.0.0/24"))
    edited = project.plan()[0]
    assert edited is not first
    assert str(edited.network.subnet) == "172.31.0.0/24"


def test_a_changed_lock_is_planned_anew(bundled: Path) -> None:
    project = project_of(bundled)
    first = project.plan()[0]
    project.paths.lock.unlink()
    replanned = project.plan()[0]
    assert replanned is not first
    assert replanned.set_id != first.set_id  # no lock: a new set id, as a first render makes


def test_a_new_environment_folder_is_validated_anew(bundled: Path) -> None:
    project = project_of(bundled)
    validated = project.plan()[1]
    (bundled.parent / "environments" / "staging").mkdir(parents=True)
    assert project.plan()[1] is not validated
