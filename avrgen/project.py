"""The core calls behind the CLI: each chains the stages (load -> validate -> plan -> render
-> write) for one job and returns a result; none prints or reads sys.argv.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from avrgen.catalog import Catalog, load_catalog, settings_catalog
from avrgen.errors import AvrgenError, Problem, StaleOutputError
from avrgen.load import LOCK_NAME, Document, load_blueprints, read_lock
from avrgen.model import Target as TargetName
from avrgen.plan import Plan, plan
from avrgen.render import Renderer, render_lock
from avrgen.validate import Validated, suggest, validate
from avrgen.write import Change, Target, apply, changes


@dataclass(frozen=True)
class Paths:
    blueprints: Path = Path("blueprints")
    output: Path = Path("output")
    templates: Path | None = None
    catalogs: tuple[Path, ...] = ()

    @property
    def lock(self) -> Path:
        return self.blueprints / LOCK_NAME


@dataclass
class RenderResult:
    plan: Plan
    changes: list[Change]
    warnings: list[Problem] = field(default_factory=list)
    checked: bool = False  # --check: nothing was written


class Project:
    """One blueprint folder and its output folder."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self._catalogs: dict[tuple[Path, ...], Catalog] = {}

    @property
    def catalog(self) -> Catalog:
        """Bundled templates, then the settings' `catalog:` folder, then each --catalog."""
        folder = self.paths.blueprints
        return self.catalog_for(load_blueprints(folder) if folder.is_dir() else [])

    def catalog_for(self, documents: list[Document]) -> Catalog:
        """The catalog for these documents (the settings document may name a folder)."""
        own = settings_catalog(documents, self.paths.blueprints)
        folders = (*((own,) if own else ()), *self.paths.catalogs)
        if folders not in self._catalogs:
            self._catalogs[folders] = load_catalog(folders)
        return self._catalogs[folders]

    def validate(self) -> Validated:
        documents = load_blueprints(self.paths.blueprints)
        return validate(documents, self.catalog_for(documents))

    def plan(self) -> tuple[Plan, Validated]:
        documents = load_blueprints(self.paths.blueprints)
        catalog = self.catalog_for(documents)
        validated = validate(documents, catalog)
        lock = read_lock(self.paths.blueprints)
        return plan(validated.blueprint, lock, catalog), validated

    def targets(
        self, the_plan: Plan, agents: Sequence[str] = (), target: TargetName | None = None
    ) -> list[Target]:
        """The output folder's files and the lock, as write targets.

        `target` (compose or swarm) overrides the settings' `target:`.
        """
        only = set(require_agents(the_plan, agents)) if agents else None
        files = Renderer(self.paths.templates, target or the_plan.target).render(the_plan, only)
        output = Target(self.paths.output, files, prune=only is None)
        lock = Target(self.paths.blueprints, {LOCK_NAME: render_lock(the_plan.lock)}, prune=False)
        return [output, lock]

    def render(
        self, check: bool = False, agents: Sequence[str] = (), target: TargetName | None = None
    ) -> RenderResult:
        """Write output/ and the lock; with `check`, write nothing and fail when stale."""
        the_plan, validated = self.plan()
        targets = self.targets(the_plan, agents, target)
        planned = [(target, changes(target)) for target in targets]
        found = [change for _, target_changes in planned for change in target_changes]
        if check:
            if found:
                lines = "\n".join(f"  {c.action}: {c.path}" for c in found)
                raise StaleOutputError(
                    f"output is stale ({len(found)} file(s)); run `avrgen render`:\n{lines}"
                )
        else:
            for target, target_changes in planned:
                apply(target, target_changes)
        return RenderResult(the_plan, found, validated.warnings, checked=check)


def require_agents(the_plan: Plan, names: Sequence[str]) -> list[str]:
    """The named agents, or an error naming the unknown one and its nearest match."""
    for name in names:
        if name not in the_plan.agents:
            raise AvrgenError(f"no agent named {name!r}{suggest(name, the_plan.agents)}")
    return list(dict.fromkeys(names))
