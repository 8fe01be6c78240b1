"""What `up` (compose) and `deploy` (swarm) share: secrets before the engine, the shared
network, agents `parallel` at a time, and one error naming every agent that failed."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from avrgen.errors import ComposeError

if TYPE_CHECKING:
    from avrgen.engine.compose import Docker
    from avrgen.engine.secrets import Secrets
    from avrgen.engine.swarm import Swarm
    from avrgen.model.plan import AgentPlan, Plan

R = TypeVar("R")


class Outcome(Protocol):
    """What `up` or `deploy` did for one agent (engine.compose.AgentUp, swarm.AgentDeploy)."""

    @property
    def agent(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def seconds(self) -> float: ...

    @property
    def error(self) -> str | None: ...


def raise_failures(agents: Sequence[Outcome]) -> None:
    """One error naming each agent that failed, and how many of them did."""
    failed = [a for a in agents if a.status == "failed"]
    if failed:
        errors = "\n".join(a.error or a.agent for a in failed)
        raise ComposeError(f"{errors}\n{len(failed)} of {len(agents)} agent(s) failed")


def prepare_engine(
    engine: Docker | Swarm,
    the_plan: Plan,
    selected: Sequence[AgentPlan],
    environ: Mapping[str, str] | None,
    secrets_file: Path | None,
) -> tuple[Secrets, str | None]:
    """Secrets first (a missing one fails before the engine is touched), then the engine,
    then the shared network; returns the secrets and any note about the network."""
    from avrgen.engine.secrets import resolve_secrets

    secrets = resolve_secrets(selected, os.environ if environ is None else environ, secrets_file)
    engine.check()
    note = engine.ensure_network(the_plan.network)
    if note:
        engine.say("network", note)
    return secrets, note


def each_agent(
    parallel: int, agents: Sequence[AgentPlan], run: Callable[[AgentPlan], R]
) -> list[R]:
    """`run` for every agent, `parallel` at a time; results in the agents' order."""
    from concurrent.futures import ThreadPoolExecutor  # only here: render need not import it

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(run, agents))


def remove_network_if_unused(engine: Docker | Swarm, name: str) -> str:
    """Remove the shared network unless something still uses it; say what happened."""
    users = engine.network_users(name)
    if users is None:
        return f"network {name} does not exist"
    if users:
        return f"network {name} kept: used by {', '.join(users)}"
    engine.remove_network(name)
    return f"removed network {name}"
