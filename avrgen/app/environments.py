"""Environments on disk: `environments/NAME/` beside the blueprint folder (in its parent).

`-e NAME` reads the base blueprints, then the documents under environments/NAME/ as an
overlay (avrgen/pipeline/overlay.py); the environment renders into <output>/NAME/ with its
own lock environments/NAME/avrgen.lock. An environment's name follows the agent-name rule
(a-z, 0-9, '-'), so its output folder is one an agent name could take: a base agent named
like an environment is a validation error (app/project.py passes the names to validate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from avrgen.errors import AvrgenError
from avrgen.model.document import Document
from avrgen.model.names import AGENT_NAME_RE, suggest

if TYPE_CHECKING:
    from avrgen.app.project import Paths, Project

T = TypeVar("T")


@dataclass(frozen=True)
class EnvironmentRun(Generic[T]):
    """One environment's (None: the base's) result of a job, or the user error it met."""

    environment: str | None
    result: T | None = None
    error: AvrgenError | None = None


def every_environment(project: Project, job: Callable[[Project], T]) -> list[EnvironmentRun[T]]:
    """`job` on the base, then on each environment (--all-environments): every one run,
    whatever the others' errors. A folder under environments/ whose name cannot be an
    environment's is an error of its own."""
    from avrgen.app.project import Project

    base = project.paths.in_environment(None)
    runs: list[EnvironmentRun[T]] = []
    for name in (None, *environment_names(base)):
        try:
            runs.append(EnvironmentRun(name, job(Project(base.in_environment(name)))))
        except AvrgenError as exc:
            runs.append(EnvironmentRun(name, error=exc))
    for name in stray_folders(base):
        folder = (base.environments / name).as_posix()
        message = f"{folder}/: not an environment name (expected 1-40 of a-z, 0-9 and '-')"
        runs.append(EnvironmentRun(name, error=AvrgenError(message)))
    return runs


def environment_names(paths: Paths) -> tuple[str, ...]:
    """The environments of the blueprint set: folders under environments/, sorted."""
    return tuple(name for name in _folders(paths) if AGENT_NAME_RE.match(name))


def stray_folders(paths: Paths) -> tuple[str, ...]:
    """Folders under environments/ whose names cannot be an environment's."""
    return tuple(name for name in _folders(paths) if not AGENT_NAME_RE.match(name))


def in_environment(paths: Paths, name: str | None) -> Paths:
    """`paths` for environment `name` (None: the base); an unknown one is an error."""
    if name is None:
        return paths.in_environment(None)
    folder = paths.environments / name
    if not AGENT_NAME_RE.match(name):
        raise AvrgenError(
            f"invalid environment name {name!r}: expected 1-40 of a-z, 0-9 and '-', "
            "starting with a letter or digit"
        )
    if not folder.is_dir():
        known = environment_names(paths)
        listed = f"; environments: {', '.join(known)}" if known else ""
        raise AvrgenError(
            f"no environment named {name!r} (no folder {folder.as_posix()}/)"
            f"{suggest(name, known)}{listed}"
        )
    return paths.in_environment(name)


def load_overlay(paths: Paths) -> list[Document]:
    """The documents of the environment's overlay folder; a null value is kept as a Null."""
    assert paths.overlay is not None  # only called with -e
    from avrgen.pipeline.load import load_blueprints  # PyYAML: not for `--help`

    return load_blueprints(paths.overlay, _parse_overlay)


def _parse_overlay(text: str, file: str) -> list[Document]:
    from avrgen.pipeline.yaml_reader import parse_documents

    return parse_documents(text, file, nulls=True)


def _folders(paths: Paths) -> list[str]:
    folder = paths.environments
    if not folder.is_dir():
        return []
    return sorted(
        entry.name
        for entry in folder.iterdir()
        if not entry.name.startswith(".") and entry.is_dir()
    )
