"""A blueprint folder and its output folder: where things are, and the blueprints read,
validated and planned. Every use case (avrgen/app/*.py) is a function taking a Project.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from avrgen.app.agents import require_agents
from avrgen.app.environments import environment_names, load_overlay
from avrgen.errors import AvrgenError
from avrgen.fs import mutex
from avrgen.fs.lock import LOCK_NAME, new_set_id, read_lock, read_set_id, render_lock
from avrgen.model.document import Document

# imported where used: render (jinja2), which validate skips, and the pydantic stages
# (catalog, validate, plan), which a render answered from the cache skips
if TYPE_CHECKING:
    from avrgen.model.blueprint import Target as TargetName
    from avrgen.model.catalog import Catalog
    from avrgen.model.plan import Lock, Plan
    from avrgen.pipeline.cache import AgentReuse
    from avrgen.pipeline.render import Renderer
    from avrgen.pipeline.validate import Validated
    from avrgen.pipeline.write import Target


@dataclass(frozen=True)
class Paths:
    blueprints: Path = Path("blueprints")
    output: Path = Path("output")
    templates: Path | None = None
    catalogs: tuple[Path, ...] = ()
    state: Path | None = None  # --state; None: avrgen.fs.state.default_state_dir()
    # -e NAME: `output` is then <--output>/NAME and the lock environments/NAME/avrgen.lock
    environment: str | None = None

    def in_environment(self, name: str | None) -> Paths:
        """These paths for environment `name` (None: the base). See app/environments.py."""
        root = self.output.parent if self.environment is not None else self.output
        output = root / name if name is not None else root
        return replace(self, output=output, environment=name)

    @property
    def environments(self) -> Path:
        """The folder of the environments: beside the blueprint folder (in its parent)."""
        folder = self.blueprints
        parent = folder.parent if folder.name not in ("", "..") else folder / ".."
        return parent / "environments"

    @property
    def overlay(self) -> Path | None:
        """The environment's overlay folder (environments/NAME); None for the base."""
        return self.environments / self.environment if self.environment is not None else None

    @property
    def state_dir(self) -> Path:
        """The server's state folder (releases, telephony secrets): never output/ or git."""
        from avrgen.fs.state import default_state_dir

        return self.state if self.state is not None else default_state_dir()

    @property
    def lock_folder(self) -> Path:
        """Where the port lock lives: the blueprint folder, or the environment's folder."""
        return self.overlay if self.overlay is not None else self.blueprints

    @property
    def lock(self) -> Path:
        return self.lock_folder / LOCK_NAME

    @property
    def sources(self) -> str:
        """The blueprint folder relative to the output folder (posix): how the compose files
        in output/<agent>/ reach the host paths of mounts without naming this machine's
        folders."""
        return Path(os.path.relpath(self.blueprints, self.output)).as_posix()

    @property
    def absolute_sources(self) -> str:
        """The blueprint folder as `docker compose up` finds it from output/<agent>/ (avrgen
        runs compose on the resolved compose file): for files rendered elsewhere, such as
        status' dry run, that must mount exactly what `up` mounted."""
        return os.path.normpath(os.path.join(self.output.resolve(), self.sources))


class Project:
    """One blueprint folder and its output folder."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self._catalogs: dict[tuple[Path, ...], Catalog] = {}
        self.settings_catalog: Path | None = None  # the last catalog_for()'s `catalog:`
        self._new_set_id: str | None = None  # made up once, when the lock records none
        # plan()'s last documents read and validated, and its last plan with the lock it
        # started from: a command asks for the plan more than once (ps: the target, then
        # the agents), and validating again documents equal to the last ones is waste
        self._read: tuple[list[Document], tuple[str, ...], tuple[Validated, Catalog]] | None
        self._read = None
        self._planned: tuple[tuple[Validated, Catalog], Lock, str, Plan] | None = None

    def locked_set(self) -> str:
        """The set id the lock records; without one, a new one (the same for this Project's
        every plan, written to the lock by the next render). An environment's lock records
        its own: an environment is a set of its own."""
        locked = read_set_id(self.paths.lock_folder)
        if locked is not None:
            return locked
        if self._new_set_id is None:
            self._new_set_id = new_set_id(self.paths.blueprints)
        return self._new_set_id

    @property
    def catalog(self) -> Catalog:
        """Bundled templates, then the settings' `catalog:` folder, then each --catalog."""
        folder = self.paths.blueprints
        from avrgen.pipeline.load import load_blueprints  # PyYAML: not for `--help`

        return self.catalog_for(load_blueprints(folder) if folder.is_dir() else [])

    def catalog_for(self, documents: list[Document]) -> Catalog:
        """The catalog for these documents (the settings document may name a folder)."""
        from avrgen.pipeline.catalog import load_catalog, settings_catalog

        own = settings_catalog(documents, self.paths.blueprints)
        self.settings_catalog = own
        folders = (*((own,) if own else ()), *self.paths.catalogs)
        if folders not in self._catalogs:
            self._catalogs[folders] = load_catalog(folders)
        return self._catalogs[folders]

    def validate(self) -> Validated:
        """The blueprints validated. A blueprint file that an earlier validate or render
        parsed, unchanged since, is not parsed again (the render cache's documents:
        avrgen/pipeline/cache/documents.py; off with AVRGEN_NO_CACHE=1)."""
        from avrgen.pipeline.cache import enabled

        return self.validated(use_cache=enabled())[0]

    def validated(self, use_cache: bool = False) -> tuple[Validated, Catalog]:
        """`use_cache`: a blueprint file whose text is unchanged is not parsed again."""
        return self.check(self.documents(use_cache))

    def documents(self, use_cache: bool = False) -> list[Document]:
        """The loaded documents, the environment's overlay merged in (-e)."""
        from avrgen.pipeline.load import load_blueprints  # PyYAML: not for `--help`

        if not use_cache:
            documents = load_blueprints(self.paths.blueprints)
        else:
            from avrgen.pipeline.cache import DocumentCache

            parsed = DocumentCache(self.paths.blueprints)
            documents = load_blueprints(self.paths.blueprints, parsed)
            parsed.save()
        return self.overlaid(documents)

    def check(
        self, documents: list[Document], reserved: tuple[str, ...] | None = None
    ) -> tuple[Validated, Catalog]:
        """The documents validated, and their catalog; `reserved`: reserved_names()."""
        from avrgen.pipeline.validate import validate

        catalog = self.catalog_for(documents)
        reserved = self.reserved_names() if reserved is None else reserved
        root = self.paths.blueprints.as_posix()
        return validate(documents, catalog, reserved, root), catalog

    def reserved_names(self) -> tuple[str, ...]:
        """The names no agent may take: the environments' (none within an environment)."""
        return () if self.paths.environment else environment_names(self.paths)

    def overlaid(self, documents: list[Document]) -> list[Document]:
        """The base documents with the environment's overlay merged in (-e)."""
        if self.paths.overlay is None:
            return documents
        from avrgen.pipeline.overlay import apply_overlay

        return apply_overlay(documents, load_overlay(self.paths))

    def plan(self, checked: tuple[Validated, Catalog] | None = None) -> tuple[Plan, Validated]:
        """The plan; `checked` (from validated()) saves loading and validating again.
        Without it, the blueprints are read (through the document cache, as validate()
        reads them), validated only when they differ from plan()'s last documents, and
        planned only when those or the lock differ from its last plan's."""
        from avrgen.pipeline.plan import plan

        checked = checked or self._read_blueprints()
        validated, catalog = checked
        lock, locked_set = self.port_lock(), self.locked_set()
        known = self._planned
        if known is not None and known[0] is checked and known[1:3] == (lock, locked_set):
            return known[3], validated
        the_plan = plan(validated.blueprint, lock, catalog, locked_set)
        self._planned = (checked, lock, locked_set, the_plan)
        return the_plan, validated

    def _read_blueprints(self) -> tuple[Validated, Catalog]:
        from avrgen.pipeline.cache import enabled

        documents, reserved = self.documents(use_cache=enabled()), self.reserved_names()
        known = self._read
        if known is not None and (known[0], known[1]) == (documents, reserved):
            return known[2]
        checked = self.check(documents, reserved)
        self._read = (documents, reserved, checked)
        return checked

    def port_lock(self) -> Lock:
        """The port lock the plan starts from. An environment's: its own, and for an agent
        it has none for yet, the base's (so its ports agree with the base's until pins or
        collisions in the environment move them)."""
        own = read_lock(self.paths.lock_folder)
        if self.paths.overlay is None:
            return own
        return {**read_lock(self.paths.blueprints), **own}

    def set_lock(
        self, progress: Callable[[str, str], None] | None = None
    ) -> AbstractContextManager[None]:
        """The blueprint set's lock (on its folder), whatever the output folder: what
        changes the set's port lock or its containers takes turns; a second run waits,
        telling `progress` why."""
        on_wait = (lambda message: progress("lock", message)) if progress else None
        return mutex.hold(self.paths.blueprints, True, on_wait, create=False)

    def plan_or_none(self, required: bool = False) -> Plan | None:
        """The plan; None when the blueprints cannot be read (ps/down/logs still work, by
        labels). No blueprint folder at all is an error: run elsewhere, these commands would
        show or touch every avrgen container of the engine as if it were this set's."""
        if not self.paths.blueprints.is_dir():
            self.plan()  # raises: the folder, and that it was not found
        try:
            return self.plan()[0]
        except AvrgenError:
            if required:
                raise
            return None

    def target(self) -> TargetName:
        """The settings' target (compose when the blueprints cannot be read): what `ps` shows."""
        the_plan = self.plan_or_none()
        return the_plan.target if the_plan is not None else "compose"

    def targets(
        self,
        the_plan: Plan,
        agents: Sequence[str] = (),
        target: TargetName | None = None,
        sources: str | None = None,
    ) -> list[Target]:
        """The output folder's files and the lock, as write targets.

        `target` (compose or swarm) overrides the settings' `target:`; `sources`, the
        blueprint folder as the files name it (default: relative to the output folder).
        """
        return self.render_targets(the_plan, agents, target, check=True, sources=sources)[1]

    def render_targets(
        self,
        the_plan: Plan,
        agents: Sequence[str],
        target: TargetName | None,
        check: bool,
        reuse: AgentReuse | None = None,
        sources: str | None = None,
    ) -> tuple[Renderer, list[Target]]:
        """The renderer (holding the parse-back checks not run yet, without `check`) and
        the write targets: the output folder (pruned unless `agents` are named), the lock."""
        from avrgen.pipeline.render import Renderer
        from avrgen.pipeline.write import Target

        only = set(require_agents(the_plan, agents)) if agents else None
        renderer = Renderer(
            self.paths.templates, target or the_plan.target, sources or self.paths.sources
        )
        files = renderer.render(the_plan, only, check=check, reuse=reuse)
        same = frozenset(reuse.same) if reuse is not None else frozenset()
        output = Target(self.paths.output, files, prune=only is None, same=same)
        lock = Target(
            self.paths.lock_folder,
            {LOCK_NAME: render_lock(the_plan.lock, the_plan.set_id)},
            prune=False,
        )
        return renderer, [output, lock]

    def reuse(self, the_plan: Plan, target: TargetName | None) -> AgentReuse:
        """The render cache's per-agent reuse (avrgen/pipeline/cache.py) for this plan."""
        from avrgen.pipeline.cache import AgentReuse

        shared = (the_plan.network, the_plan.swarm, self.paths.sources)
        return AgentReuse(
            self.paths.output, self.paths.templates, target or the_plan.target, shared
        )
