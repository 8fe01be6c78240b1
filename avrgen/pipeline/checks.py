"""Parse-back checks: rendered text read back as compose would, compared with the plan."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import yaml_rs

from avrgen.errors import TemplateError
from avrgen.model.blueprint import NetworkSettings, Secret, SwarmSettings
from avrgen.model.mounts import DEFAULT_SOURCES, Mount
from avrgen.model.output import COMPOSE_FILE, STACK_FILE
from avrgen.model.plan import AgentPlan, Container
from avrgen.pipeline.escape import dotenv_decode, secret_ref, volume_value
from avrgen.pipeline.swarm import container_labels, resources, restart_policy


def check_compose(
    agent: AgentPlan, network: NetworkSettings, text: str, sources: str = DEFAULT_SOURCES
) -> Any:
    """Parse the rendered compose file back and compare it with the plan; returns it parsed
    (`sources`: the blueprint folder relative to the output folder, as the renderer had it)."""
    with _compared(f"agent {agent.name!r}: {COMPOSE_FILE}"):
        data = read_rendered(text)
        for c, service in _services(agent, data):
            assert service["container_name"] == c.name, f"{c.role}: container name differs"
            assert service.get("platform") == c.platform, f"{c.role}: platform differs"
            refs = {k: json.loads(secret_ref(s)) for k, s in c.secret_env}
            assert service.get("environment", {}) == refs, f"{c.role}: environment differs"
            assert service["networks"] == [network.name], f"{c.role}: networks differ"
            assert service.get("ports", []) == list(c.port_mappings), f"{c.role}: ports differ"
            assert service.get("volumes", []) == _volumes(c.mounts, sources), (
                f"{c.role}: volumes differ"
            )
        assert data["networks"][network.name]["external"] is True, "network is not external"
    return data


def check_env_file(agent: AgentPlan, container: Container, text: str) -> None:
    """Read the rendered env file back and compare it with the container's literal env."""
    found: dict[str, str] = {}
    try:
        for line in text.split("\n"):  # not splitlines(): \x85, \u2028 are values
            if line and not line.startswith("#"):
                key, _, quoted = line.partition("=")
                found[key] = dotenv_decode(quoted)
    except ValueError as exc:
        raise TemplateError(f"agent {agent.name!r}: {container.role}.env: {exc}") from None
    if found != dict(container.literal_env):
        keys = sorted(set(found) ^ set(dict(container.literal_env))) or ["(values)"]
        raise TemplateError(
            f"agent {agent.name!r}: {container.role}.env does not match the plan: {', '.join(keys)}"
        )


def check_stack(
    agent: AgentPlan,
    network: NetworkSettings,
    swarm: SwarmSettings,
    text: str,
    secret_ref: Callable[[str], str],
    sources: str = DEFAULT_SOURCES,
) -> None:
    """Parse the rendered stack file back and compare it with the plan."""
    with _compared(f"agent {agent.name!r}: {STACK_FILE}"):
        data = read_rendered(text)
        for c, service in _services(agent, data):
            assert "container_name" not in service, f"{c.role}: container_name in a stack"
            assert "platform" not in service, f"{c.role}: platform in a stack"
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
            want_placement = [*agent.constraints, *c.platform_constraints]
            assert placement == want_placement, f"{c.role}: placement differs"
            assert deploy["restart_policy"] == restart_policy(swarm), f"{c.role}: restart differs"
            assert deploy.get("resources", {}) == resources(swarm.resources), (
                f"{c.role}: resources differ"
            )
            assert dict(deploy["labels"]) == dict(c.labels), f"{c.role}: service labels differ"
            assert dict(service["labels"]) == container_labels(c), f"{c.role}: labels differ"
            assert _published(service) == list(c.published), f"{c.role}: published ports differ"
            binds = [m for m in c.mounts if m.secret is None]
            assert service.get("volumes", []) == _volumes(binds, sources), (
                f"{c.role}: volumes differ"
            )
            want_secrets = [{"source": m.secret, "target": m.target} for m in c.key_files]
            assert service.get("secrets", []) == want_secrets, f"{c.role}: secrets differ"
        assert data["networks"][network.name] == {"name": network.name, "external": True}, (
            "network is not external"
        )
        want = {name: {"file": json.loads(secret_ref(name))} for name in agent.key_secrets}
        assert data.get("secrets", {}) == want, "key file secrets differ"


def _volumes(mounts: Iterable[Mount], sources: str) -> list[str]:
    """What compose reads back from the `volumes:` entries of these mounts."""
    return [json.loads(volume_value(m, sources)) for m in mounts]


def read_rendered(text: str) -> Any:
    """A rendered compose or stack file, read back as compose reads it: YAML 1.2 (compose's
    go-yaml is 1.2 too: `no` is a string), duplicate keys refused (compose refuses them).

    yaml-rs (Rust) rather than PyYAML, whose C parser builds a Python object per event and
    per mark: reading back every file of a large render is most of a render's time with it.
    A syntax error keeps its first line (where) and last (what), not the quoted text between.
    """
    try:
        return yaml_rs.loads(text, parse_datetime=False)
    except yaml_rs.YAMLDecodeError as exc:
        lines = str(exc).strip().splitlines() or ["invalid YAML"]
        where, what = lines[0], lines[-1].strip()
        raise yaml_rs.YAMLDecodeError(where if what == where else f"{where}: {what}") from None


@contextmanager
def _compared(where: str) -> Iterator[None]:
    """A failed comparison (or a file that does not read back) as avrgen's error naming it."""
    try:
        yield
    except (ValueError, KeyError, TypeError, AssertionError) as exc:  # YAMLDecodeError too
        raise TemplateError(f"{where}: the rendered file does not match the plan ({exc})") from None


def _services(agent: AgentPlan, data: Any) -> Iterator[tuple[Container, Any]]:
    """Each container with its service, after what every target checks alike: one service
    per container, by role, running the container's image (compose reads `$$` as `$`)."""
    services = data["services"]
    assert set(services) == {c.role for c in agent.containers}, "services differ"
    for c in agent.containers:
        service = services[c.role]
        assert service["image"] == c.image.replace("$", "$$"), f"{c.role}: image differs"
        yield c, service


def _published(service: Mapping[str, Any]) -> list[int]:
    ports = service.get("ports", [])
    for port in ports:
        assert port["mode"] == "host", "a published port is not in host mode"
        assert port["protocol"] == "tcp" and port["target"] == port["published"], "port mapping"
    return [port["published"] for port in ports]
