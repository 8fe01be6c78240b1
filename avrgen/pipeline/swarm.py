"""Docker Swarm target, the pure part: placement constraints and the stack file's check.

`docker stack deploy` reads a compose-format file but differs from `docker compose`:
no `container_name` (a service is reached by its network alias), `env_file` values are
read verbatim (no quotes, no `$$`), so every env value is written inline under
`environment:`, escaped by the `compose` filter (the stack loader also reads `$$` as `$`
and resolves `${NAME:?...}` from the deploying shell's environment).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from avrgen.model.blueprint import Placement, Resources, SwarmSettings

if TYPE_CHECKING:
    from avrgen.model.plan import Container


def constraints(placement: Placement) -> tuple[str, ...]:
    """`deploy.placement.constraints` for a placement: the node first, then labels by key."""
    found = [f"node.hostname == {placement.node}"] if placement.node else []
    found += [f"node.labels.{key} == {value}" for key, value in sorted(placement.labels.items())]
    return tuple(found)


def container_labels(container: Container) -> dict[str, str]:
    """The labels of a task's container: the platform's, not avrgen's own (`avrgen.*`), so
    the compose target's commands, which find containers by those, leave swarm tasks alone.
    The service carries them all."""
    return {k: v for k, v in container.labels if not k.startswith("avrgen.")}


def resources(settings: Resources) -> dict[str, dict[str, str]]:
    """`deploy.resources` as plain data, without the amounts left unset."""
    found: dict[str, dict[str, str]] = {}
    for kind in ("limits", "reservations"):
        amounts = getattr(settings, kind).model_dump(exclude_none=True)
        if amounts:
            found[kind] = amounts
    return found


def restart_policy(settings: SwarmSettings) -> dict[str, str | int]:
    return settings.restart.model_dump(exclude_none=True)
