"""What a render cache hit gives back: the parts of the plan the CLI prints (PlanView, for
the table and --json) and what `ps` reads of the set (SetView), as an entry holds them."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from avrgen.errors import Problem

if TYPE_CHECKING:
    from avrgen.model.plan import AgentPlan


@dataclass(frozen=True)
class ContainerView:
    role: str
    name: str
    image: str
    port: int
    http_port: int | None
    published: tuple[int, ...]


@dataclass(frozen=True)
class AgentView:
    mode: str
    project: str
    containers: tuple[ContainerView, ...]


class PlanView:
    """What `render` prints of a plan (the table and --json), read back from the cache:
    parsed when first asked for (a hit printed from its stored summary never asks)."""

    def __init__(self, text: bytes) -> None:
        self._text = text

    @cached_property
    def agents(self) -> dict[str, AgentView]:
        return {
            str(name): AgentView(
                mode=str(agent["mode"]),
                project=str(agent["project"]),
                containers=tuple(
                    ContainerView(
                        role=str(c["role"]),
                        name=str(c["name"]),
                        image=str(c["image"]),
                        port=int(c["port"]),
                        http_port=None if c["http_port"] is None else int(c["http_port"]),
                        published=tuple(int(p) for p in c["published"]),
                    )
                    for c in agent["containers"]
                ),
            )
            for name, agent in json.loads(self._text).items()
        }


@dataclass(frozen=True)
class SetView:
    """What `ps` reads of a plan besides its agents' names: the set, its network, its
    target, and whether the settings place agents on `hosts`."""

    set_id: str
    network: str
    target: str
    hosts: bool


@dataclass(frozen=True)
class Hit:
    plan: PlanView
    warnings: list[Problem]
    summary: str | None  # the caller's text of the plan, as stored (see store())
    set_view: SetView | None = None  # as stored (see store())


_CONTAINER_VIEW = tuple(f.name for f in dataclasses.fields(ContainerView))


def view_entry(agent: AgentPlan) -> dict[str, Any]:
    """The parts of an agent's plan a hit gives back (an AgentView's fields, by the same
    names as on the plan), as the entry's JSON holds them. Built directly, not through
    dataclasses.asdict(), which copies every value deeply (1,000s of agents)."""
    containers = [{name: getattr(c, name) for name in _CONTAINER_VIEW} for c in agent.containers]
    return {"mode": agent.mode, "project": agent.project, "containers": containers}


def set_view_of(stored: Any) -> SetView | None:
    """The stored SetView (None when none was), each value checked for its type."""
    if stored is None:
        return None
    view = SetView(**stored)
    if not all(isinstance(v, str) for v in (view.set_id, view.network, view.target)):
        raise ValueError("bad set view")
    if not isinstance(view.hosts, bool):
        raise ValueError("bad set view")
    return view
