"""Plan stage: a valid Blueprint + the lock -> every container of every agent, fully decided.

Pure: no files, no clocks, no randomness. Ports are unique across the whole blueprint set
and stable: pins first, then what the lock recorded, then new ports from a hash of the
agent and role, so adding, removing or renaming one agent never moves another's. With
`hosts`, pins need only be unique on their host (validate checks them so), while every
allocated port stays unique across all hosts: an agent moved to another host keeps its
ports, and adding a host or moving an agent moves no other agent's port.
"""

from __future__ import annotations

import hashlib

from avrgen.errors import PlanError
from avrgen.model.blueprint import (
    SLOTS,
    Agent,
    Blueprint,
    PortRange,
    Provider,
    Secret,
)
from avrgen.model.catalog import AMI_TYPES, DEFAULT_PATHS, Catalog
from avrgen.model.labels import AGENT_LABEL, HOST_LABEL, MANAGED_LABEL, ROLE_LABEL, SET_LABEL
from avrgen.model.plan import CORE_ROLES, AgentPlan, Container, Lock, Plan
from avrgen.pipeline.swarm import constraints
from avrgen.pipeline.telephony import ami_url, plan_telephony, reserved_ports


def plan(blueprint: Blueprint, lock: Lock, catalog: Catalog, locked_set: str) -> Plan:
    """Decide every container, env value and port of every agent. The set's id is the
    settings' `set:`, else `locked_set` (the one its lock records, or a new one)."""
    settings = blueprint.settings
    set_id = settings.set_id or locked_set
    ports = allocate_ports(blueprint, lock)
    agents = {
        name: _plan_agent(blueprint, blueprint.agents[name], ports[name], catalog, set_id)
        for name in sorted(blueprint.agents)
    }
    return Plan(
        settings.network,
        agents,
        ports,
        settings.target,
        settings.swarm,
        dict(settings.hosts),
        set_id=set_id,
        telephony=plan_telephony(blueprint, agents, set_id),
    )


def roles_of(agent: Agent) -> tuple[str, ...]:
    return (*CORE_ROLES, *SLOTS[agent.mode])


def allocate_ports(blueprint: Blueprint, lock: Lock) -> Lock:
    """Pins win, the lock is kept where it still fits, new containers hash into free ports."""
    settings = blueprint.settings.ports
    ranges = {"core": settings.core, "http": settings.http}
    result: Lock = {name: {} for name in sorted(blueprint.agents)}
    wanted = [(name, role) for name in result for role in roles_of(blueprint.agents[name])]
    # a reserved port is never allocated, nor the telephony stack's (a pin on one is
    # refused by validate)
    taken: set[int] = {
        port
        for r in settings.reserved
        for port in ((r,) if isinstance(r, int) else range(r.low, r.high + 1))
    } | reserved_ports(blueprint)

    for name, role in wanted:
        pin = getattr(blueprint.agents[name].ports, role)
        if pin is not None:
            result[name][role] = pin
            taken.add(pin)
    for name, role in wanted:
        locked = lock.get(name, {}).get(role)
        port_range = ranges.get(role, settings.providers)
        if (
            role not in result[name]
            and locked is not None
            and locked in port_range
            and locked not in taken
        ):
            result[name][role] = locked
            taken.add(locked)
    for name, role in wanted:
        if role not in result[name]:
            port = _free_port(f"{name}/{role}", ranges.get(role, settings.providers), taken)
            if port is None:
                kind = role if role in ranges else "providers"
                raise PlanError(
                    f"no free port left in the {kind} range {ranges.get(role, settings.providers)}"
                    f" for agent {name!r} ({role}); widen `ports.{kind}` in the settings"
                )
            result[name][role] = port
            taken.add(port)
    return result


def _free_port(key: str, port_range: PortRange, taken: set[int]) -> int | None:
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    start = digest % port_range.size
    for step in range(port_range.size):
        port = port_range.low + (start + step) % port_range.size
        if port not in taken:
            return port
    return None


def _plan_agent(
    bp: Blueprint, agent: Agent, ports: dict[str, int], catalog: Catalog, set_id: str
) -> AgentPlan:
    base: dict[str, str | Secret] = {"AGENT_ID": str(agent.stable_id), "AGENT_NAME": agent.name}
    containers: list[Container] = []
    urls: dict[str, str] = {}
    for slot in SLOTS[agent.mode]:
        provider = bp.providers[getattr(agent.providers, slot)]
        template = catalog.get(provider.template) if provider.template else None
        name = container_name(bp, agent, slot)
        port = ports[slot]
        env = {**base, **agent.env, **provider.config.env}
        kind = provider.type
        env[f"PROVIDER_{kind}_ID"] = str(provider.stable_id)
        env[f"PROVIDER_{kind}_NAME"] = provider.name
        env[f"PROVIDER_{kind}_TYPE"] = kind
        env["PORT"] = str(port)
        takes_ami = template.takes_ami if template else kind in AMI_TYPES
        if takes_ami:  # the provider's own AMI_URL overrides the settings' one
            # popped and set again: AMI_URL comes last, after the keys avrgen sets
            # with telephony.ami, the avr-ami avrgen runs
            default_ami = (
                ami_url(bp.settings.telephony, agent.host) if _runs_ami(bp) else bp.settings.ami_url
            )
            env["AMI_URL"] = env.pop("AMI_URL") if "AMI_URL" in provider.config.env else default_ami
        path = template.url_path if template else DEFAULT_PATHS[kind]
        scheme = "ws" if kind == "STS" else "http"
        urls[f"{kind}_URL"] = f"{scheme}://{name}:{port}{path}"
        image = provider.config.image or (template.image_ref if template else "")
        containers.append(
            Container(
                role=slot,
                name=name,
                image=image,
                env=tuple(env.items()),
                port=port,
                labels=_labels(agent, set_id, name, slot, provider),
                provider=provider.name,
                platform=template.platform if template else None,
                mounts=bp.provider_mounts.get(provider.name, ()),
            )
        )
    core_env: dict[str, str | Secret] = {
        **base,
        "PORT": str(ports["core"]),
        "HTTP_PORT": str(ports["http"]),
        **urls,
        **bp.settings.core.env,
        **agent.core.env,
    }
    core_name = container_name(bp, agent, "core")
    containers.append(
        Container(
            role="core",
            name=core_name,
            image=agent.core.image or bp.settings.core.image,
            env=tuple(core_env.items()),
            port=ports["core"],
            http_port=ports["http"],
            labels=_labels(agent, set_id, core_name, "core", None),
            published=(ports["core"], ports["http"]) if agent.core.publish else (),
            host_ip=_host_ip(bp, agent),
            mounts=bp.core_mounts.get(agent.name, ()),
        )
    )
    placement = agent.placement or bp.settings.swarm.placement
    return AgentPlan(
        agent.name,
        str(agent.stable_id),
        agent.mode,
        agent.tenant,
        tuple(containers),
        constraints(placement),
        agent.host,
    )


def container_name(bp: Blueprint, agent: Agent, role: str) -> str:
    """`avr-<role>-<agent name>`, or with `container_names: id` the dashboard's
    `avr-<role>-<agent id>`, so a dialplan the dashboard wrote still reaches the core."""
    suffix = str(agent.stable_id) if bp.settings.container_names == "id" else agent.name
    return f"avr-{role}-{suffix}"


def _runs_ami(bp: Blueprint) -> bool:
    telephony = bp.settings.telephony
    return telephony is not None and telephony.ami is not None


def _host_ip(bp: Blueprint, agent: Agent) -> str | None:
    """Where core's published ports bind: its own `publish: {host_ip}`, else the settings'."""
    publish = agent.core.publish
    if publish is None:
        return None
    return publish.host_ip or bp.settings.publish.host_ip


def _labels(
    agent: Agent, set_id: str, container: str, role: str, provider: Provider | None
) -> tuple[tuple[str, str], ...]:
    labels = [("app", "AVR"), ("agentName", container)]
    if agent.tenant:
        labels.append(("tenant", agent.tenant))
    labels += [(AGENT_LABEL, agent.name), (ROLE_LABEL, role), (SET_LABEL, set_id)]
    labels.append((MANAGED_LABEL, "true"))
    if agent.host is not None:  # so that moving an agent changes its files (plan shows it)
        labels.append((HOST_LABEL, agent.host))
    if provider is not None:
        labels += [("avrgen.provider", provider.name), ("avrgen.provider-type", provider.type)]
    return tuple(labels)
