"""What a render cache hit gives back: the parts of the plan the CLI prints (PlanView, for
the table and --json; each agent's host, for `ps`) and what `ps` reads of the set (SetView:
with the settings' hosts inventory, how to reach each engine), as an entry holds them."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from avrgen.errors import Problem
from avrgen.model.endpoint import Endpoint, TlsFiles

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
    host: str | None  # which of the settings' `hosts` runs it; None: the default engine


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
                host=None if agent["host"] is None else str(agent["host"]),
            )
            for name, agent in json.loads(self._text).items()
        }


@dataclass(frozen=True)
class SetView:
    """What `ps` reads of a plan besides its agents: the set, its network, its target, and
    the settings' `hosts` inventory, by name (empty: every agent on the default engine).
    Endpoints and TLS file paths only: no secret is recorded."""

    set_id: str
    network: str
    target: str
    hosts: dict[str, Endpoint] = field(default_factory=dict)


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
    return {
        "mode": agent.mode,
        "project": agent.project,
        "containers": containers,
        "host": agent.host,
    }


def set_view_of(stored: Any) -> SetView | None:
    """The stored SetView (None when none was), each value checked for its type."""
    if stored is None:
        return None
    hosts = stored["hosts"]
    if not isinstance(hosts, dict):
        raise ValueError("bad set view")
    view = SetView(
        stored["set_id"],
        stored["network"],
        stored["target"],
        {name: _endpoint(endpoint) for name, endpoint in hosts.items()},
    )
    if not all(isinstance(v, str) for v in (view.set_id, view.network, view.target)):
        raise ValueError("bad set view")
    return view


def _endpoint(stored: Any) -> Endpoint:
    tls = stored["tls"]
    files = None if tls is None else TlsFiles(tls["ca"], tls["cert"], tls["key"])
    texts = (stored["docker"], *((files.ca, files.cert, files.key) if files else ()))
    if not all(isinstance(text, str) for text in texts):
        raise ValueError("bad set view")
    return Endpoint(stored["docker"], files)
