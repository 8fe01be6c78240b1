"""Which agents a command works on: the names given, or --all, checked against what exists.

Every "no agent named ..." message is built here, with the nearest known name as a hint.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING

from avrgen.errors import AvrgenError
from avrgen.model.names import suggest

if TYPE_CHECKING:  # pydantic's models: not for `--help`
    from avrgen.model.plan import AgentPlan, Plan


def unknown_agent(name: str, known: Iterable[str]) -> AvrgenError:
    """The error for an agent name that is not among `known`, with a did-you-mean hint."""
    return AvrgenError(f"no agent named {name!r}{suggest(name, known)}")


def require_known(names: Sequence[str], known: Collection[str]) -> list[str]:
    """The names, each of them among `known`, without repeats, in the order given."""
    for name in names:
        if name not in known:
            raise unknown_agent(name, known)
    return list(dict.fromkeys(names))


def require_agents(the_plan: Plan, names: Sequence[str]) -> list[str]:
    """The named agents of the plan, or an error naming the unknown one."""
    return require_known(names, the_plan.agents)


def select(the_plan: Plan, names: Sequence[str], all_agents: bool) -> list[AgentPlan]:
    """The named agents, or every agent of the plan with `all_agents`."""
    if all_agents:
        if not the_plan.agents:
            raise AvrgenError("--all: the blueprints define no agent")
        return list(the_plan.agents.values())
    if not names:
        raise AvrgenError("name an agent, or use --all")
    return [the_plan.agents[name] for name in require_agents(the_plan, names)]
