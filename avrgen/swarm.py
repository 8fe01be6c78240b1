"""Docker Swarm target, the pure part: placement constraints and the stack file's check.

`docker stack deploy` reads a compose-format file but differs from `docker compose`:
no `container_name` (a service is reached by its network alias), `env_file` values are
read verbatim (no quotes, no `$$`), so every env value is written inline under
`environment:`, escaped by the `compose` filter (the stack loader also reads `$$` as `$`
and resolves `${NAME:?...}` from the deploying shell's environment).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from avrgen.errors import TemplateError
from avrgen.model import NetworkSettings, Placement, Resources, Secret, SwarmSettings

if TYPE_CHECKING:
    from avrgen.plan import AgentPlan, Container

STACK_FILE = "stack.yml"
TARGETS = ("compose", "swarm")


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


def check_stack(
    agent: AgentPlan,
    network: NetworkSettings,
    swarm: SwarmSettings,
    text: str,
    secret_ref: Callable[[str], str],
) -> None:
    """Parse the rendered stack file back and compare it with the plan."""
    where = f"agent {agent.name!r}: {STACK_FILE}"
    try:
        from avrgen.render import read_rendered  # render imports this module

        data = read_rendered(text)
        services = data["services"]
        assert set(services) == {c.role for c in agent.containers}, "services differ"
        for c in agent.containers:
            service = services[c.role]
            assert service["image"] == c.image.replace("$", "$$"), f"{c.role}: image differs"
            assert "container_name" not in service, f"{c.role}: container_name in a stack"
            want_env = {
                k: json.loads(secret_ref(v.secret))
                if isinstance(v, Secret)
                else v.replace("$", "$$")
                for k, v in c.env
            }
            assert service.get("environment", {}) == want_env, f"{c.role}: environment differs"
            aliases = service["networks"][network.name]["aliases"]
            assert aliases == [c.name], f"{c.role}: network alias differs"
            deploy = service["deploy"]
            assert deploy["endpoint_mode"] == "dnsrr", f"{c.role}: endpoint_mode is not dnsrr"
            assert deploy["replicas"] == 1, f"{c.role}: replicas differ"
            placement = deploy.get("placement", {}).get("constraints", [])
            assert placement == list(agent.constraints), f"{c.role}: placement differs"
            assert deploy["restart_policy"] == restart_policy(swarm), f"{c.role}: restart differs"
            assert deploy.get("resources", {}) == resources(swarm.resources), (
                f"{c.role}: resources differ"
            )
            assert dict(deploy["labels"]) == dict(c.labels), f"{c.role}: service labels differ"
            assert dict(service["labels"]) == container_labels(c), f"{c.role}: labels differ"
            assert _published(service) == list(c.published), f"{c.role}: published ports differ"
        assert data["networks"][network.name] == {"name": network.name, "external": True}, (
            "network is not external"
        )
    except (ValueError, KeyError, TypeError, AssertionError) as exc:  # YAMLDecodeError too
        raise TemplateError(f"{where}: the rendered file does not match the plan ({exc})") from None


def _published(service: Mapping[str, Any]) -> list[int]:
    ports = service.get("ports", [])
    for port in ports:
        assert port["mode"] == "host", "a published port is not in host mode"
        assert port["protocol"] == "tcp" and port["target"] == port["published"], "port mapping"
    return [port["published"] for port in ports]
