"""What avrgen may touch: only what carries its label (`avrgen.managed=true`).

An agent's compose project (`avr-<agent>`), stack namespace and container names are ones
another stack may use too (avr-infra's checkout in `avr-infra/` is compose project
`avr-infra`; it names its containers `avr-sts-openai`, `avr-asterisk`...). Before avrgen
starts, replaces or removes anything of an agent, every object of that project, stack or
name is checked, and a foreign one stops it, with nothing changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from avrgen.engine.containers import Listed, listed
from avrgen.engine.docker import Engine
from avrgen.errors import ComposeError
from avrgen.model.labels import MANAGED_LABEL, STACK_LABEL

if TYPE_CHECKING:  # pydantic's models: not for a listing
    from avrgen.model.plan import AgentPlan


@dataclass(frozen=True, order=True)
class Foreign:
    """A container or service avrgen did not create, where one of its own would go."""

    name: str
    kind: str  # container | service
    project: str  # its compose project or stack ("" for none)
    image: str

    def __str__(self) -> str:
        owner = "compose project" if self.kind == "container" else "stack"
        where = f"{owner} {self.project}" if self.project else f"no {owner}"
        return f"{self.kind} {self.name} ({where}, image {self.image or 'unknown'})"


def foreign_containers(
    engine: Engine,
    projects: Iterable[str],
    names: Iterable[str] = (),
    rows: Sequence[Listed] | None = None,
) -> list[Foreign]:
    """Containers, running or not, of these compose projects or holding these exact names,
    that avrgen did not create (from `rows`, one listing of every container, when given)."""
    wanted_projects, wanted_names = set(projects), set(names)
    found = [
        Foreign(row.name, "container", row.project, row.image)
        for row in (listed(engine) if rows is None else rows)
        if not row.managed and (row.project in wanted_projects or row.name in wanted_names)
    ]
    return sorted(found)


def foreign_services(services: Iterable[tuple[str, dict[str, str], str]]) -> list[Foreign]:
    """Of (name, labels, image) of a stack's services, those avrgen did not create."""
    return sorted(
        Foreign(name, "service", labels.get(STACK_LABEL, ""), image)
        for name, labels, image in services
        if labels.get(MANAGED_LABEL) != "true"
    )


def refuse_for_agents(
    engine: Engine, agents: Sequence[AgentPlan], what: str, rows: Sequence[Listed] | None = None
) -> None:
    """Fail before anything starts when a foreign container is in an agent's compose
    project or holds one of its container names (compose would adopt, replace or, with
    --remove-orphans, remove it). `rows`: one listing of every container, read already."""
    rows = listed(engine) if rows is None else rows  # one listing for every agent
    refuse_clashes(
        {
            agent.name: foreign_containers(
                engine, [agent.project], [c.name for c in agent.containers], rows
            )
            for agent in agents
        },
        what,
    )


def refuse_in_projects(engine: Engine, agents: Sequence[str], what: str) -> None:
    """Fail when a container avrgen did not create is in one of these agents' compose
    projects (before their containers are removed: nothing of the project is touched)."""
    rows = listed(engine)
    refuse_clashes(
        {name: foreign_containers(engine, [f"avr-{name}"], rows=rows) for name in agents}, what
    )


def refuse_clashes(clashes: dict[str, list[Foreign]], what: str) -> None:
    """`refuse`, naming the agents (keys) whose foreign objects (values) were found."""
    named = ", ".join(repr(name) for name, found in clashes.items() if found)
    refuse(f"{what} {named}", sorted({f for found in clashes.values() for f in found}))


def refuse(what: str, foreign: Sequence[Foreign]) -> None:
    """Fail, naming each foreign object, when there is any: `what` is the refused action."""
    if foreign:
        listed = "\n".join(f"  {f}" for f in foreign)
        raise ComposeError(
            f"refusing to {what}: {len(foreign)} object(s) avrgen did not create (no "
            f"{MANAGED_LABEL} label) share its compose project, stack or container names:\n"
            f"{listed}\nnothing was changed; rename the agent, or remove or rename those "
            "objects yourself"
        )
