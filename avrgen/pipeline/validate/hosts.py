"""The hosts inventory's rules: `settings.hosts` (their TLS files, the reserved name) and
each agent's `host:`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from avrgen.model.blueprint import DEFAULT_HOST, Agent, Settings
from avrgen.model.document import Document
from avrgen.model.names import suggest

Report = Callable[[Document, tuple[Any, ...], str], None]


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
