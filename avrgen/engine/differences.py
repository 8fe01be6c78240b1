"""How an agent's containers differ from its plan: the differences drift reports (keys
named, never values), in the order people read them, and the env comparison they use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from avrgen.engine.compose import ContainerStatus
from avrgen.model.plan import AgentPlan

DiffKind = Literal[
    "image", "env", "ports", "labels", "network", "config", "missing", "extra", "stopped", "compose"
]
_KIND_ORDER: tuple[DiffKind, ...] = (
    "missing",
    "stopped",
    "image",
    "env",
    "ports",
    "labels",
    "network",
    "config",
    "extra",
    "compose",
)


@dataclass(frozen=True, order=True)
class Difference:
    """One way a container differs from the plan; names keys, never values."""

    container: str
    role: str
    kind: DiffKind
    detail: str
    keys: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.container} ({self.role}): {self.detail}"


@dataclass(frozen=True)
class Drift:
    """How an agent's containers differ from its plan, and how many of them run."""

    differences: list[Difference]
    containers: list[ContainerStatus]
    running: int
    decided: bool = True  # False: no content hash to judge by, and compose was not asked


def in_order(agent: AgentPlan, differences: Iterable[Difference]) -> list[Difference]:
    """Each difference once: containers in the plan's order (extra ones last), then the
    kinds in _KIND_ORDER."""
    names = [c.name for c in agent.containers]

    def key(difference: Difference) -> tuple[int, str, int, str]:
        at = names.index(difference.container) if difference.container in names else len(names)
        return (at, difference.container, _KIND_ORDER.index(difference.kind), difference.detail)

    return sorted(set(differences), key=key)


def env_differences(
    expected: Mapping[str, str | None], actual: Mapping[str, str], image_env: Mapping[str, str]
) -> tuple[list[str], list[str], list[str]]:
    """(changed, missing, extra) env keys; an expected value of None is not compared.

    A key the container has from its image (same value as the image's default) and the plan
    does not set is not extra.
    """
    changed = sorted(
        k for k, v in expected.items() if v is not None and k in actual and actual[k] != v
    )
    missing = sorted(k for k in expected if k not in actual)
    extra = sorted(
        k
        for k in actual
        if k not in expected and not (k in image_env and image_env[k] == actual[k])
    )
    return changed, missing, extra


def parse_env(items: Iterable[str] | None) -> dict[str, str]:
    """`KEY=value` items (docker inspect's Env) as a mapping."""
    env: dict[str, str] = {}
    for item in items or ():
        key, _, value = item.partition("=")
        env[key] = value
    return env
