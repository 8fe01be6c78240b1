"""What `up` (compose) and `deploy` (swarm) share: secrets before the engine, the shared
network, agents `parallel` at a time, and one error naming every agent that failed."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from avrgen.errors import AvrgenError, ComposeError
from avrgen.model.labels import MANAGED_LABEL

if TYPE_CHECKING:
    from avrgen.engine.compose import Docker, Progress
    from avrgen.engine.secrets import Secrets
    from avrgen.engine.swarm import Swarm
    from avrgen.model.plan import AgentPlan, Plan, Telephony

R = TypeVar("R")
# the inspect data of the agents' containers as the claim read it, just before `run`: up's
# in-sync check takes it (None: nothing read, as on a swarm)
Claimed = Sequence[dict[str, Any]] | None


@dataclass(frozen=True)
class Start:
    """What `up` and `deploy` start, and how: the named agents (or every agent, with
    `all_agents`), `parallel` at a time, with secrets from the environment (`environ`,
    default os.environ) or `secrets_file`, output/ rendered first when stale (or refused,
    without `render`), `timeout` seconds for each agent to run; with `take_over`, agents
    whose container names another blueprint set's containers hold replace them."""

    names: Sequence[str] = ()
    all_agents: bool = False
    parallel: int = 4
    secrets_file: Path | None = None
    render: bool = True
    timeout: int = 120
    environ: Mapping[str, str] | None = None
    progress: Progress | None = None
    take_over: bool = False
    atomic: bool = False  # up --atomic: an agent that fails goes back to its last release


@dataclass(frozen=True)
class Removal:
    """What `down` and `undeploy` remove: the named agents (every agent of the blueprints,
    with `all_agents`), with `orphans` those of agents no longer in them, with `network` the
    shared network when nothing uses it, with `telephony` the telephony stack and its
    secrets files (`down` only; `--all` alone leaves the stack running); with `dry_run`,
    what would be removed, removing nothing."""

    names: Sequence[str] = ()
    all_agents: bool = False
    network: bool = False
    orphans: bool = False
    progress: Progress | None = None  # undeploy tells here what it waits for
    telephony: bool = False
    dry_run: bool = False

    def refuse_nothing(self, chosen: Sequence[str]) -> None:
        """Fail when there is nothing to remove, or --dry-run is asked of the stack."""
        if not (chosen or self.orphans or self.network or self.telephony):
            raise AvrgenError("name an agent, or use --all / --orphans / --network / --telephony")
        if self.telephony and self.dry_run:
            raise AvrgenError("--dry-run lists agents' containers; leave out --telephony")


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


class Interrupted(AvrgenError):
    """A signal ended the start of agents: exit 128 + its number (130 SIGINT, 143 SIGTERM)."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


def raise_failures(agents: Sequence[Outcome], interrupted: int | None = None) -> None:
    """One error naming each agent that failed, and how many of them did; after a signal,
    also each agent it stopped or kept from starting, exiting as that signal asks."""
    failed = [a for a in agents if a.status == "failed"]
    if interrupted is not None:
        stopped = [a for a in agents if a.status in ("interrupted", "not started")]
        lines = [a.error or a.agent for a in [*failed, *stopped]]
        lines.append(
            f"interrupted by {signal.Signals(interrupted).name}: {len(stopped)} of "
            f"{len(agents)} agent(s) stopped or not started; `avrgen ps` shows what runs, "
            "`avrgen up` again brings up the rest"
        )
        raise Interrupted("\n".join(lines), interrupted)
    if failed:
        errors = "\n".join(a.error or a.agent for a in failed)
        raise ComposeError(f"{errors}\n{len(failed)} of {len(agents)} agent(s) failed")


class Stack(Protocol):
    """What runs between the network and the agents (the telephony stack): the secrets it
    needs (name -> who needs it), a check of them before the engine is touched, and its
    start once the network exists."""

    @property
    def telephony(self) -> Telephony: ...

    @property
    def needs(self) -> Mapping[str, Sequence[str]]: ...

    def prepare(self, secrets: Secrets) -> None: ...

    def start(self, engine: Docker, secrets: Secrets) -> None: ...


def start_agents(
    engine: Docker | Swarm,
    the_plan: Plan,
    selected: Sequence[AgentPlan],
    start: Start,
    run: Callable[[AgentPlan, Secrets, Claimed], R],
    stack: Stack | None = None,
    *,
    blueprints: Path,
) -> tuple[str | None, list[R]]:
    """Secrets first (a missing one fails before the engine is touched; `stack`'s too,
    which it then checks), and the host paths of mounts (relative to `blueprints`; the
    stack's key files too), then
    the engine, then the shared network, then `stack`; then
    `run` (an agent, the secrets, what the claim read) for each agent, `start.parallel` at a
    time. Returns any note about the network and the results in the agents' order."""
    from concurrent.futures import ThreadPoolExecutor  # only here: render need not import it

    from avrgen.app.mounts import check_host_paths
    from avrgen.engine.secrets import resolve_secrets

    environ = os.environ if start.environ is None else start.environ
    others = stack.needs if stack is not None else None
    secrets = resolve_secrets(selected, environ, start.secrets_file, others)
    telephony = stack.telephony if stack is not None else None
    secrets = check_host_paths(selected, blueprints, secrets, telephony=telephony)
    if stack is not None:
        stack.prepare(secrets)
    # the engine (and compose, before its first command) is checked when a call fails: an
    # `up` of agents in sync makes no call it does not need
    with engine.checked_on_failure():
        # what avrgen did not create, then another set's containers or services
        claimed = engine.claim(selected, start.take_over)
        note = engine.ensure_network(the_plan.network)
    if note:
        engine.say("network", note)
    if stack is not None:  # with docker compose on either target (on a swarm: this node)
        from avrgen.engine.compose import Docker

        stack.start(engine if isinstance(engine, Docker) else engine.compose_engine(), secrets)
    with engine.interrupts(), ThreadPoolExecutor(max_workers=max(1, start.parallel)) as pool:
        results = list(pool.map(lambda agent: run(agent, secrets, claimed), selected))
    return note, results


def remove_network_if_unused(engine: Docker | Swarm, the_plan: Plan) -> str:
    """Remove the shared network unless something still uses it; say what happened."""
    name = the_plan.network.name
    users = engine.network_users(name)
    if users is None:
        return f"network {name} does not exist"
    if users:
        return f"network {name} kept: used by {', '.join(users)}"
    if not engine.network_is_ours(name):
        return f"network {name} kept: avrgen did not create it (it has no {MANAGED_LABEL} label)"
    engine.remove_network(name)
    return f"removed network {name}"
