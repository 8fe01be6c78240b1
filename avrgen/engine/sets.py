"""Which avrgen containers are one blueprint set's (issue 17), and `up`'s claim on an
agent's container names.

Every container avrgen creates carries its set's id (label `avrgen.set`); ps, logs,
restart, down, status and --orphans see only their own set's. A container made by an
avrgen before set ids (no such label) is taken as this set's when its agent is one of the
set's and it is on the set's network: `up` then recreates it with the label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from avrgen.engine.containers import ContainerStatus
from avrgen.errors import ComposeError
from avrgen.fs.sets import known_set

if TYPE_CHECKING:  # pydantic's models: not for a listing
    from avrgen.model.plan import AgentPlan, Plan


@dataclass(frozen=True)
class SetScope:
    """One blueprint set, as far as its containers are concerned."""

    set_id: str | None  # None: a set its lock gives no id yet (never rendered)
    network: str | None = None  # its network; None: the blueprints cannot be read
    agents: frozenset[str] | None = None  # its agents; None: the blueprints cannot be read
    state_dir: Path | None = None  # where other sets' folders are recorded (fs/sets.py)

    @classmethod
    def of(cls, the_plan: Plan, state_dir: Path | None = None) -> SetScope:
        return cls(the_plan.set_id, the_plan.network.name, frozenset(the_plan.agents), state_dir)

    def owns_service(self, set_id: str, agent: str) -> bool:
        """A swarm service (label `avrgen.set`: `set_id`, "" without) of `agent` is this
        set's: its label says so, or it has none (an older avrgen's) and `agent` is one of
        this set's agents."""
        if set_id:
            return set_id == self.set_id
        return self.agents is None or agent in self.agents

    def owns(self, status: ContainerStatus) -> bool:
        """The container is this set's: its label says so, or it has none (an older
        avrgen's) and is one of this set's agents' on its network."""
        if status.set_id:
            return status.set_id == self.set_id
        on_network = self.network is None or self.network in status.networks
        if status.telephony:  # the telephony stack is no agent's: the set's network tells
            return on_network
        return on_network and (self.agents is None or status.agent in self.agents)

    def describe(self, set_id: str, output: str) -> str:
        """`blueprint set 'x' (blueprints /srv/a/blueprints, output /srv/a/output)`, as far
        as known (the output folder from compose's label, the blueprints from fs/sets.py)."""
        record = known_set(self.state_dir, set_id) if set_id and self.state_dir else None
        where = [f"blueprints {record.blueprints}"] if record is not None else []
        output = output or (record.output if record is not None else "")
        if output:
            where.append(f"output {output}")
        what = f"blueprint set {set_id!r}" if set_id else "an older avrgen, without set labels"
        return what + (f" ({', '.join(where)})" if where else "")


@dataclass(frozen=True)
class Held:
    """An agent's containers that another set's containers hold."""

    agent: str
    containers: tuple[ContainerStatus, ...]

    @property
    def owners(self) -> list[tuple[str, str]]:
        """(set id, output folder) of each holding set, in order."""
        return sorted({(c.set_id, c.output) for c in self.containers})


def held_by_others(
    scope: SetScope, agents: Sequence[AgentPlan], found: Sequence[ContainerStatus]
) -> list[Held]:
    """Of `found` (avrgen containers of these agents' projects or names), those of
    another set, by agent."""
    held = []
    for agent in agents:
        names = {c.name for c in agent.containers}
        theirs = tuple(
            c for c in found if (c.agent == agent.name or c.name in names) and not scope.owns(c)
        )
        if theirs:
            held.append(Held(agent.name, theirs))
    return held


def refuse_held(scope: SetScope, held: Sequence[Held]) -> None:
    """Fail, naming each agent and the set holding its containers, when there is any."""
    if not held:
        return
    lines = []
    for each in held:
        owners = "; ".join(scope.describe(set_id, where) for set_id, where in each.owners)
        names = ", ".join(c.name for c in each.containers)
        lines.append(f"  {each.agent!r}: {names} belong to {owners}")
    raise ComposeError(
        f"refusing to start {', '.join(repr(h.agent) for h in held)}: another blueprint "
        "set's containers hold its container names:\n"
        + "\n".join(lines)
        + "\nnothing was changed; `avrgen down` them from their own blueprint folder, or "
        "`avrgen up --take-over` replaces them with this set's"
    )


def taking_over(scope: SetScope, each: Held) -> str:
    """What `up --take-over` tells before it replaces another set's containers."""
    owners = "; ".join(scope.describe(set_id, where) for set_id, where in each.owners)
    return f"taking over {len(each.containers)} container(s) of {owners} (--take-over)"


def refuse_stack_held(scope: SetScope | None, stack: Sequence[ContainerStatus]) -> None:
    """Fail when the telephony stack's containers are another set's: one engine runs one
    stack (its container names are fixed), and another set's is not this set's to replace."""
    if scope is None:
        return
    theirs = [c for c in stack if not scope.owns(c)]
    if not theirs:
        return
    owners = "; ".join(
        scope.describe(set_id, where) for set_id, where in Held("", tuple(theirs)).owners
    )
    raise ComposeError(
        f"refusing to start the telephony stack: {', '.join(c.name for c in theirs)} belong "
        f"to {owners}; an engine runs one telephony stack. Nothing was changed; `avrgen down "
        "--telephony` it from its own blueprint folder first"
    )
