"""Agents whose containers already run what output/ says: `up` starts no compose for them.

An agent is in sync when each of its planned containers exists, runs (healthy, where it
has a check), carries the content-hash label of its service as rendered in output/, runs
the image its tag names here, and has the env values (secrets included) output/ and the
environment give it, with no extra container in its project: what `status` calls in sync
(engine/drift.py), read for every agent at once with one listing and one inspect. An agent
whose containers have no content-hash label (made by an older avrgen) is left to compose,
as every agent was before.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from avrgen.errors import AvrgenError
from avrgen.model.output import COMPOSE_FILE

if TYPE_CHECKING:
    from avrgen.app.running import Claimed
    from avrgen.engine.compose import AgentUp, Docker
    from avrgen.engine.drift import DriftChecker
    from avrgen.engine.secrets import Secrets
    from avrgen.model.plan import AgentPlan, Plan


class InSync:
    """Answers, for each agent `up` was asked to start, whether compose can be skipped;
    the engine is read once, at the first question (the secrets are known by then)."""

    def __init__(
        self, docker: Docker, the_plan: Plan, output: Path, selected: Sequence[AgentPlan]
    ) -> None:
        self.docker = docker
        self.plan = the_plan
        self.output = output
        self.selected = list(selected)
        self._checker: DriftChecker | None = None
        self._lock = threading.Lock()

    def unchanged(
        self, agent: AgentPlan, secrets: Secrets, claimed: Claimed = None
    ) -> AgentUp | None:
        """The result of `up` for an agent in sync (nothing started), else None.
        `claimed`: the inspect data of the agents' containers `up`'s claim read just before
        (app/running.start_agents), taken as it is; None: read here."""
        from avrgen.engine.compose import AgentUp

        try:
            drift = self._drift_checker(secrets, claimed).drift(agent)
        except AvrgenError:
            return None  # compose brings it up, and says what is wrong
        if not drift.decided or drift.differences or not drift.containers:
            return None
        if not all(c.ok for c in drift.containers):
            return None  # compose's --wait decides about one still starting or unhealthy
        self.docker.say(agent.name, f"unchanged: in sync, {len(drift.containers)} healthy")
        return AgentUp(agent.name, "unchanged", 0.0, drift.containers)

    def _drift_checker(self, secrets: Secrets, claimed: Claimed) -> DriftChecker:
        from avrgen.engine.drift import DriftChecker

        with self._lock:
            if self._checker is None:
                checker = DriftChecker(
                    self.docker,
                    self.plan,
                    secrets.values,
                    lambda agent: {},
                    lambda agent: compose_hashes(self._compose_file(agent)),
                    by="hash-only",
                )
                checker.load(self.selected, claimed)
                self._checker = checker
            return self._checker

    def _compose_file(self, agent: AgentPlan) -> bytes | None:
        try:
            return (self.output / agent.name / COMPOSE_FILE).read_bytes()
        except OSError:
            return None


class InSyncOnEach:
    """One InSync for each engine of a hosts inventory (each reads its own containers)."""

    def __init__(self, the_plan: Plan, output: Path, selected: Sequence[AgentPlan]) -> None:
        self.plan = the_plan
        self.output = output
        self.selected = list(selected)
        self._each: dict[int, InSync] = {}
        self._lock = threading.Lock()

    def of(self, docker: Docker) -> InSync:
        with self._lock:
            if id(docker) not in self._each:
                self._each[id(docker)] = InSync(docker, self.plan, self.output, self.selected)
            return self._each[id(docker)]


def compose_hashes(data: bytes | None) -> dict[str, str]:
    """Role -> content hash of each service of a rendered compose file ({} without one).

    From its lines when laid out as render writes it (content_hash.recorded_lines), else
    parsed with PyYAML's C parser: not with yaml-rs (pipeline/checks.read_rendered), which
    0.1.6 crashed the process in (SIGSEGV inside its loads) when `status` read these files
    from the threads that compare agents on two hosts at once. The labels are double-quoted
    strings under plain keys, which YAML 1.1 and 1.2 read alike."""
    from avrgen.pipeline.content_hash import recorded, recorded_lines

    if data is None:
        return {}
    text = data.decode(errors="replace")
    fast = recorded_lines(text)
    if fast is not None:
        return fast
    import yaml

    from avrgen.pipeline.yaml_reader import SafeLoader

    try:
        parsed = yaml.load(text, Loader=SafeLoader)
    except yaml.YAMLError:
        return {}
    return recorded(parsed) if isinstance(parsed, dict) else {}
