"""The default engine read from the start of a command that lists or compares its
containers (`ps`, `status`): the engine answers while the command imports avrgen's models
and plans the blueprints, which is most of its time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from avrgen.engine.containers import Snapshot
from avrgen.engine.docker import Engine

if TYPE_CHECKING:
    from avrgen.app.project import Project


def read_default_engine(project: Project) -> Snapshot | None:
    """Every avrgen container of the default engine, being read (nothing of pydantic's or
    the pipeline's is imported for it); None, nothing read, when the last render of the
    project's output recorded a `hosts` inventory: ps and status then ask each host's
    engine, never this snapshot. The render cache's record is only a hint here (not checked
    against the blueprints): a set that dropped its hosts since is read the ordinary way."""
    from avrgen.pipeline.cache import enabled, last_set_view

    recorded = last_set_view(project.paths.output) if enabled() else None
    if recorded is not None and recorded.hosts:
        return None
    return Snapshot(Engine())
