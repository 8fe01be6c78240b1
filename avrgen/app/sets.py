"""A Project's blueprint set as the engine sees it (engine/sets.py): its id, network and
agents, and where `up` records its folders for other sets' messages (fs/sets.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from avrgen.errors import AvrgenError
from avrgen.fs.lock import read_set_id
from avrgen.fs.sets import record_set

if TYPE_CHECKING:
    from avrgen.app.project import Project
    from avrgen.engine.sets import SetScope
    from avrgen.model.plan import Plan


def scope_of(project: Project, the_plan: Plan | None) -> SetScope:
    """The project's set; without a plan (blueprints unreadable), the id its lock records
    (and legacy containers on any network)."""
    from avrgen.engine.sets import SetScope

    if the_plan is not None:
        return SetScope.of(the_plan, project.paths.state_dir)
    try:
        locked = read_set_id(project.paths.lock_folder)
    except AvrgenError:  # an unreadable lock: no labelled container is this set's
        locked = None
    return SetScope(locked, state_dir=project.paths.state_dir)


def remember(project: Project, the_plan: Plan) -> None:
    """Record where this set lives, so that another set's refusal can name its folders."""
    paths = project.paths
    record_set(paths.state_dir, the_plan.set_id, paths.blueprints, paths.output)
