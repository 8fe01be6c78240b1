"""The tables of `ps` (containers) and `status` (each agent's state against the
blueprints); the swarm task table of `ps` is cli/swarm.py's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from avrgen.cli.output import table
from avrgen.cli.swarm import agent_cell
from avrgen.model.names import DEFAULT_HOST

if TYPE_CHECKING:  # the app layer: imported when a command runs, not for `--help`
    from avrgen.app.results import ContainerStatus, StatusReport


def print_containers(statuses: Sequence[ContainerStatus], with_set: bool = False) -> None:
    header = ("AGENT", "CONTAINER", "ROLE", "STATE", "HEALTH", "PORTS")
    if with_set and any(s.host is not None for s in statuses):  # --all-sets over `hosts`
        table([("SET", header[0], "HOST", *header[1:]), *_set_host_rows(statuses)])
        return
    if with_set:  # ps --all-sets: every blueprint set's ("-": an older avrgen's, no label)
        table([("SET", *header), *((s.set_id or "-", *_row(s)) for s in statuses)])
        return
    if any(s.host is not None for s in statuses):  # several engines (`hosts`): which one
        table([(header[0], "HOST", *header[1:]), *(_host_row(s) for s in statuses)])
        return
    table([header, *map(_row, statuses)])


def _row(s: ContainerStatus) -> tuple[str, ...]:
    ports = ", ".join(s.ports) or "-"
    return (agent_cell(s.agent, s.orphan), s.name, s.role, s.state, s.health or "-", ports)


def _set_host_rows(statuses: Sequence[ContainerStatus]) -> list[tuple[str, ...]]:
    return [(s.set_id or "-", *_host_row(s)) for s in statuses]


def _host_row(s: ContainerStatus) -> tuple[str, ...]:
    first, *rest = _row(s)
    return (first, s.host or DEFAULT_HOST, *rest)


def print_status(report: StatusReport) -> None:
    rows: list[tuple[str, ...]] = [("AGENT", "STATE", "DETAILS")]
    hosts: list[str] = []  # each row's host, shown with `hosts`
    for agent in report.agents:
        if agent.state == "unreachable":
            details = [agent.error or "its host did not answer"]
        elif agent.state == "orphaned":
            names = ", ".join(c.name for c in agent.containers)
            details = [f"{names}: not in the blueprints (`avrgen down --orphans` removes them)"]
        elif (
            agent.differences
            and all(d.kind == "missing" for d in agent.differences)
            and not [c for c in agent.containers if c.state != "absent"]
        ):
            details = ["no containers (never started, or removed)"]
        elif agent.differences:
            details = [str(d) for d in agent.differences]
        else:
            running = sum(c.state == "running" for c in agent.containers)
            details = [f"{running} container(s) running"]
        for index, detail in enumerate(details):
            first = index == 0
            rows.append((agent.agent if first else "", agent.state if first else "", detail))
            hosts.append((agent.host or DEFAULT_HOST) if first else "")
    if report.telephony is not None:
        stack = report.telephony
        details = stack.differences or [
            ", ".join(f"{c.name} {c.state}" for c in stack.containers) or "no containers"
        ]
        for index, detail in enumerate(details):
            first = index == 0
            rows.append(("(telephony)" if first else "", stack.state if first else "", detail))
            hosts.append((report.telephony_host or DEFAULT_HOST) if first else "")
    if any(a.host is not None for a in report.agents):  # several engines (`hosts`)
        rows = [(row[0], host, *row[1:]) for row, host in zip(rows, ["HOST", *hosts], strict=True)]
    if len(rows) > 1:
        table(rows)
    if report.unchecked_secrets:
        click.echo(
            f"note: secret(s) not set here, values not compared: "
            f"{', '.join(report.unchecked_secrets)}"
        )
    click.echo(f"status: {report.summary()}")
