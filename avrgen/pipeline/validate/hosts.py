"""The hosts inventory's rules: `settings.hosts` (their TLS files, the reserved name),
each agent's `host:`, and calls across hosts: the telephony stack runs on one host
(`telephony.host`); a number routed to an agent on another host is dialled at the address
that agent's core is published on, which must be one Asterisk can reach (not loopback,
not every interface), and the agent's providers reach avr-ami only where it is published."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any

from avrgen.model.blueprint import Agent, Settings
from avrgen.model.document import Document
from avrgen.model.names import DEFAULT_HOST, suggest
from avrgen.model.telephony import Number

Report = Callable[[Document, tuple[Any, ...], str], None]
Warn = Callable[[Document, tuple[Any, ...], str], None]


def check_host(
    agent: Agent, doc: Document, settings: Settings, settings_broken: bool, report: Report
) -> None:
    """An agent's `host:` names one of the settings' hosts, on the compose target.
    (`settings_broken`: the settings did not validate, so their hosts are unknown.)"""
    hosts = settings.hosts
    if agent.host is not None and agent.host not in hosts and not settings_broken:
        known = f"{suggest(agent.host, hosts)}" if hosts else " (the settings have no `hosts`)"
        report(doc, ("host",), f"no host named {agent.host!r}{known}")
    elif agent.host is not None and settings.target == "swarm":
        report(
            doc,
            ("host",),
            "for the compose target only; on a swarm, placement: says where it runs",
        )


def with_tls_paths(settings: Settings, doc: Document, report: Report) -> Settings:
    """The settings with each host's TLS files relative to where avrgen runs (they are
    written relative to the settings file); the hosts' own rules are reported here."""
    hosts = {}
    for name, host in settings.hosts.items():
        if name == DEFAULT_HOST:
            report(
                doc,
                ("hosts", name),
                f"{DEFAULT_HOST!r} names the engine avrgen reaches by default (DOCKER_HOST or "
                "the current docker context), where agents without `host:` run; name this "
                "host otherwise",
            )
        if host.tls is not None and not host.docker.startswith("tcp://"):
            report(doc, ("hosts", name, "tls"), "tls is for tcp:// endpoints only")
        if host.tls is not None:
            folder = PurePosixPath(doc.file).parent
            tls = {key: str(folder / path) for key, path in host.tls.model_dump().items()}
            host = host.model_copy(update={"tls": host.tls.model_copy(update=tls)})
        hosts[name] = host
    return settings.model_copy(update={"hosts": hosts}) if hosts else settings


def check_calls_across_hosts(
    settings: Settings,
    settings_doc: Document | None,
    numbers: Iterable[tuple[Number, Document]],
    agents: Mapping[str, tuple[Agent, Document]],
    report: Report,
    warn: Warn,
) -> None:
    """`telephony.host` names a host; each agent a number routes to on another host than
    the stack is published where Asterisk can reach it; avr-ami is published for the
    providers of agents on another host (a warning: their tools cannot reach it)."""
    telephony = settings.telephony
    if telephony is None:
        return
    stack = telephony.host
    if stack is not None and stack not in settings.hosts and settings_doc is not None:
        known = (
            suggest(stack, settings.hosts) if settings.hosts else " (the settings have no `hosts`)"
        )
        report(settings_doc, ("telephony", "host"), f"no host named {stack!r}{known}")
        return
    where = f"host {stack!r}" if stack is not None else "the default engine"
    for number, doc in numbers:
        routed = agents.get(number.agent) if number.agent is not None else None
        if routed is None or routed[0].host == stack:
            continue
        agent = routed[0]
        address = _published_address(agent, settings)
        if address is None or not _reachable(address):
            how = f"published on {address}" if address else "not published"
            report(
                doc,
                ("agent",),
                f"agent {agent.name!r} runs on host {agent.host or DEFAULT_HOST!r} and the "
                f"telephony stack on {where}: Asterisk dials its core at the address it is "
                f"published on, and it is {how}; publish it on an address of that host "
                "Asterisk reaches (core: {publish: {host_ip: ADDRESS}})",
            )
    ami = telephony.ami
    if ami is None or ami.publish is not None or settings_doc is None:
        return
    elsewhere = sorted(name for name, (agent, _) in agents.items() if agent.host != stack)
    if elsewhere:
        warn(
            settings_doc,
            ("telephony", "ami"),
            f"agent(s) {', '.join(elsewhere)} run on another host than avr-ami ({where}): "
            "their providers' tools (transfer, hangup) cannot reach it by name; publish it "
            "(telephony.ami.publish: {host_ip: ADDRESS}) and they get its address",
        )


def _published_address(agent: Agent, settings: Settings) -> str | None:
    publish = agent.core.publish
    if publish is None:
        return None
    return publish.host_ip or settings.publish.host_ip


def _reachable(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not (ip.is_loopback or ip.is_unspecified)
