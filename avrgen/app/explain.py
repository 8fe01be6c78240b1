"""`avrgen explain AGENT`: each final value of an agent's containers and what set it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from avrgen.app.agents import require_known
from avrgen.app.project import Project
from avrgen.fs.lock import LOCK_NAME, read_lock

if TYPE_CHECKING:
    from avrgen.model.plan import Lock
    from avrgen.pipeline.explain import Explanation


def explain(project: Project, agent: str) -> Explanation:
    """The plan of the blueprints (with -e, the environment's), its values' sources."""
    from avrgen.pipeline.explain import explain as explain_values

    documents = project.documents()
    checked = project.check(documents)
    the_plan, validated = project.plan(checked)
    require_known([agent], the_plan.agents)
    paths = project.paths
    locks: list[tuple[str, Lock]] = [(paths.lock.as_posix(), read_lock(paths.lock_folder))]
    if paths.overlay is not None:  # an environment's lock starts from the base's
        base = (paths.blueprints / LOCK_NAME).as_posix()
        locks.append((base, read_lock(paths.blueprints)))
    return explain_values(the_plan, validated.blueprint, documents, agent, locks, paths.environment)
