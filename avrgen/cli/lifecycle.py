"""The lifecycle on a Docker Engine: `up`, `down`, `ps`, `logs`, `restart`, `status`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from avrgen.app.project import Project
from avrgen.cli import serialize
from avrgen.cli.options import (
    all_option,
    json_option,
    names_argument,
    no_render_option,
    no_wait_option,
    parallel_option,
    project_options,
    require_selection,
    secrets_file_option,
    target_option,
    timeout_option,
)
from avrgen.cli.output import (
    Failed,
    print_outcomes,
    print_progress,
    print_rendered_first,
    say_waiting,
    table,
)
from avrgen.cli.swarm import print_tasks

if TYPE_CHECKING:
    from avrgen.app.results import AgentUp, ContainerStatus, StatusReport, UpResult


def print_containers(statuses: Sequence[ContainerStatus]) -> None:
    rows = [("AGENT", "CONTAINER", "ROLE", "STATE", "HEALTH", "PORTS")]
    for s in statuses:
        agent = s.agent + (" (orphan)" if s.orphan else "")
        rows.append((agent, s.name, s.role, s.state, s.health or "-", ", ".join(s.ports) or "-"))
    table(rows)


def _containers(agent: AgentUp) -> tuple[str, str]:
    healthy = sum(c.ok for c in agent.containers)
    ports = sorted({p.split("->")[0] for c in agent.containers for p in c.ports}, key=int)
    return f"{healthy}/{len(agent.containers)} up", ", ".join(ports) or "-"


@click.command()
@project_options
@names_argument
@all_option
@parallel_option
@secrets_file_option
@no_render_option
@click.option(
    "--changed",
    is_flag=True,
    help="Only the agents `avrgen status` finds drifted or not running (no names).",
)
@timeout_option
@no_wait_option
def up(
    project: Project,
    names: tuple[str, ...],
    all_agents: bool,
    parallel: int,
    secrets_file: Path | None,
    no_render: bool,
    changed: bool,
    timeout: int,
    no_wait: bool,
) -> None:
    """Render if stale, create the network, `docker compose up --wait` each agent."""
    from avrgen.app.lifecycle import up as up_agents
    from avrgen.app.running import raise_failures

    if changed and (names or all_agents):
        raise click.UsageError("--changed picks the agents itself: give no names and no --all")
    require_selection(names, all_agents, allow_none=changed)
    options: dict[str, Any] = {
        "parallel": parallel,
        "secrets_file": secrets_file,
        "render": not no_render,
        "timeout": timeout,
        "progress": print_progress,
        "wait": not no_wait,
        "on_wait": say_waiting,
    }
    result: UpResult
    if changed:
        from avrgen.app.status import up_changed

        picked = up_changed(project, **options)
        for name, state in picked.brought_up:
            click.echo(f"bringing up: {name} ({state})")
        for name, state in picked.left_alone:
            click.echo(f"left alone: {name} ({state})")
        if picked.up is None:
            click.echo("nothing to bring up: no agent is drifted or not running")
            return
        result = picked.up
    else:
        result = up_agents(project, names, all_agents=all_agents, **options)
    print_rendered_first(result.rendered)
    print_outcomes(("CONTAINERS", "PORTS"), result.agents, _containers)
    raise_failures(result.agents)


@click.command()
@project_options
@names_argument
@all_option
@click.option("--network", is_flag=True, help="Also remove the shared network if nothing uses it.")
@click.option("--orphans", is_flag=True, help="Also remove agents no longer in the blueprints.")
def down(
    project: Project, names: tuple[str, ...], all_agents: bool, network: bool, orphans: bool
) -> None:
    """Stop and remove agents' containers (found by their labels)."""
    from avrgen.app.lifecycle import down as down_agents

    require_selection(names, all_agents, allow_none=orphans or network)
    result = down_agents(project, names, all_agents=all_agents, network=network, orphans=orphans)
    for s in result.removed:
        click.echo(f"removed {s.name} ({s.agent}, {s.role})")
    if not result.removed:
        click.echo("no containers to remove")
    if result.network:
        click.echo(result.network)


@click.command()
@project_options
@names_argument
@target_option("compose: containers; swarm: swarm tasks (default: settings' target).")
@json_option
def ps(project: Project, names: tuple[str, ...], target: str | None, as_json: bool) -> None:
    """Containers of the agents: state, health, published ports (target swarm: the agents'
    swarm tasks: node, state, error)."""
    from avrgen.app.deploy import tasks
    from avrgen.app.lifecycle import ps as containers

    if (target or project.target()) == "swarm":
        found = tasks(project, names)
        if as_json:
            serialize.emit(serialize.tasks(found))
        elif found:
            print_tasks(found)
        else:
            click.echo("no avrgen services")
        return
    statuses = containers(project, names)
    if as_json:
        serialize.emit(serialize.containers(statuses))
    elif statuses:
        print_containers(statuses)
    else:
        click.echo("no avrgen containers")


@click.command()
@project_options
@click.argument("name")
@click.option("--role", help="Only this container: core, asr, llm, tts or sts.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("--tail", type=click.IntRange(0), default=None, help="Last N lines of each.")
def logs(project: Project, name: str, role: str | None, follow: bool, tail: int | None) -> None:
    """Logs of an agent's containers, merged by time."""
    from avrgen.app.lifecycle import logs as agent_logs

    for line in agent_logs(project, name, role=role, follow=follow, tail=tail):
        click.echo(f"{line.container} | {line.text}")


@click.command()
@project_options
@names_argument
@all_option
@timeout_option
def restart(project: Project, names: tuple[str, ...], all_agents: bool, timeout: int) -> None:
    """Restart agents' containers and wait until they run again."""
    from avrgen.app.lifecycle import restart as restart_agents

    require_selection(names, all_agents)
    statuses = restart_agents(
        project, names, all_agents=all_agents, timeout=timeout, progress=print_progress
    )
    print_containers(statuses)


@click.command()
@project_options
@click.argument("names", nargs=-1, metavar="[NAME]...")
@secrets_file_option
@click.option("--exit-code", is_flag=True, help="Exit 1 unless every agent is in sync.")
@json_option
def status(
    project: Project,
    names: tuple[str, ...],
    secrets_file: Path | None,
    exit_code: bool,
    as_json: bool,
) -> None:
    """Compare running agents with the blueprints: in sync, drifted, not running, orphaned."""
    from avrgen.app.status import status as agent_status

    report = agent_status(project, names, secrets_file=secrets_file)
    if as_json:
        serialize.emit(serialize.status_report(report))
    else:
        print_status(report)
    if exit_code and not report.in_sync:
        raise Failed


def print_status(report: StatusReport) -> None:
    rows = [("AGENT", "STATE", "DETAILS")]
    for agent in report.agents:
        if agent.state == "orphaned":
            names = ", ".join(c.name for c in agent.containers)
            details = [f"{names}: not in the blueprints (`avrgen down --orphans` removes them)"]
        elif agent.differences and all(d.kind == "missing" for d in agent.differences):
            details = ["no containers (never started, or removed)"]
        elif agent.differences:
            details = [str(d) for d in agent.differences]
        else:
            running = sum(c.state == "running" for c in agent.containers)
            details = [f"{running} container(s) running"]
        for index, detail in enumerate(details):
            first = index == 0
            rows.append((agent.agent if first else "", agent.state if first else "", detail))
    if len(rows) > 1:
        table(rows)
    if report.unchecked_secrets:
        click.echo(
            f"note: secret(s) not set here, values not compared: "
            f"{', '.join(report.unchecked_secrets)}"
        )
    click.echo(f"status: {report.summary()}")
