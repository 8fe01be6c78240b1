"""The lifecycle on a Docker Engine: `up`, `down`, `ps`, `logs`, `restart`, `status`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar, cast

import click

from avrgen.cli import serialize
from avrgen.cli.listing import print_containers, print_status
from avrgen.cli.options import (
    all_option,
    as_start,
    json_option,
    names_argument,
    no_wait_option,
    parallel_option,
    project_options,
    removal_options,
    require_selection,
    secrets_file_option,
    start_options,
    target_option,
    timeout_option,
)
from avrgen.cli.output import (
    Failed,
    print_outcomes,
    print_progress,
    print_removed,
    print_telephony,
    say_waiting,
    telephony_removed,
)
from avrgen.cli.swarm import print_tasks
from avrgen.errors import AvrgenError, HostsUnreachable
from avrgen.model.names import DEFAULT_HOST

if TYPE_CHECKING:  # the app layer: imported when a command runs, not for `--help`
    from avrgen.app.project import Project
    from avrgen.app.results import (
        AgentUp,
        ContainerStatus,
        DownResult,
        TaskStatus,
        UpResult,
    )
    from avrgen.app.running import Removal, Start
    from avrgen.model.blueprint import Target

Item = TypeVar("Item")


def _hosts_failed(
    exc: HostsUnreachable,
    as_json: bool,
    document: Callable[[Item], object],
    show: Callable[[Item], None],
    partial: Item,
) -> NoReturn:
    """Some hosts failed: what the others gave (a table, or the --json document), then
    the error naming each failed host; exit 1."""
    if as_json:
        click.echo(f"error: {exc}", err=True)
        raise Failed(document(partial), exc.exit_code) from None
    show(partial)
    raise exc


def _containers(agent: AgentUp) -> tuple[str, ...]:
    if not agent.containers:  # failed or stopped before compose created any
        return "none", "-"
    healthy = sum(c.ok for c in agent.containers)
    ports = sorted({p.split("->")[0] for c in agent.containers for p in c.ports}, key=int)
    return f"{healthy}/{len(agent.containers)} up", ", ".join(ports) or "-"


def _host_containers(agent: AgentUp) -> tuple[str, ...]:
    return (agent.host or DEFAULT_HOST, *_containers(agent))


@click.command()
@project_options
@start_options
@click.option(
    "--changed",
    is_flag=True,
    help="Only the agents `avrgen status` finds drifted or not running (no names).",
)
@click.option(
    "--take-over",
    is_flag=True,
    help="Replace containers of another blueprint set that hold these agents' names.",
)
@click.option(
    "--atomic",
    is_flag=True,
    help="An agent not running and healthy within --timeout goes back to its last release "
    "(without one, its containers are removed); exits 1 all the same.",
)
@timeout_option
@no_wait_option
@json_option
@as_start
def up(
    project: Project,
    start: Start,
    changed: bool,
    take_over: bool,
    atomic: bool,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Render if stale, create the network, `docker compose up --wait` each agent; record
    a release of each agent that changed."""
    start = replace(start, take_over=take_over, atomic=atomic)
    if changed and (start.names or start.all_agents):
        raise click.UsageError("--changed picks the agents itself: give no names and no --all")
    require_selection(start.names, start.all_agents, allow_none=changed)
    result: UpResult
    if changed:
        from avrgen.app.status import up_changed

        picked = up_changed(project, start, wait=not no_wait, on_wait=say_waiting)
        for name, state in picked.brought_up:
            click.echo(f"bringing up: {name} ({state})", err=as_json)
        for name, state in picked.left_alone:
            click.echo(f"left alone: {name} ({state})", err=as_json)
        if picked.up is None:
            click.echo("nothing to bring up: no agent is drifted or not running", err=as_json)
            if as_json:
                from avrgen.app.lifecycle import UpResult

                serialize.emit(serialize.up_result(UpResult([], None, [])))
            return
        result = picked.up
    else:
        from avrgen.app.lifecycle import up as up_agents

        result = up_agents(project, start, wait=not no_wait, on_wait=say_waiting)
    if as_json:
        document = serialize.up_result(result)
        try:
            from avrgen.app.running import raise_failures

            raise_failures(result.agents, result.interrupted)
        except AvrgenError as exc:
            click.echo(f"error: {exc}", err=True)
            raise Failed(document, exc.exit_code) from None
        serialize.emit(document)
        return
    if result.telephony is not None:
        print_telephony(result.telephony)
    columns: tuple[str, ...]
    if any(a.host is not None for a in result.agents):  # several engines (`hosts`)
        columns, details = ("HOST", "CONTAINERS", "PORTS"), _host_containers
    else:
        columns, details = ("CONTAINERS", "PORTS"), _containers
    print_outcomes(result.rendered, columns, result.agents, details, result.interrupted)


@click.command()
@project_options
@removal_options("Also remove the shared network if nothing uses it.", telephony=True)
@click.option("--dry-run", is_flag=True, help="List what would be removed; change nothing.")
def down(project: Project, removal: Removal, dry_run: bool) -> None:
    """Stop and remove agents' containers (this blueprint set's, found by their labels); the
    telephony stack only with --telephony."""
    removal = replace(removal, dry_run=dry_run)
    try:
        from avrgen.app.lifecycle import down as down_agents

        result = down_agents(project, removal)
    except HostsUnreachable as exc:  # what went on the other hosts, then the error
        _print_down(cast("DownResult", exc.partial))
        raise
    _print_down(result)


def _print_down(result: DownResult) -> None:
    verb = "would remove" if result.dry_run else "removed"
    removed = [
        f"{verb} {s.name} ({s.agent}, {s.role})" + (f" on host {s.host}" if s.host else "")
        for s in result.removed
    ]
    removed += telephony_removed(result.telephony)
    nothing = "nothing to remove (--dry-run)" if result.dry_run else "no containers to remove"
    print_removed(removed, nothing, result.network)
    for note in result.left_alone:
        click.echo(f"left alone: {note} (`avrgen ps --all-sets` lists every set's)")
    if result.dry_run:
        click.echo("--dry-run: nothing was changed")


@click.command()
@project_options
@names_argument
@target_option("compose: containers; swarm: swarm tasks (default: settings' target).")
@click.option(
    "--all-sets",
    is_flag=True,
    help="Every avrgen container (swarm: service) of the engine, of any blueprint set, "
    "with its set.",
)
@json_option
def ps(
    project: Project,
    names: tuple[str, ...],
    target: Target | None,  # click.Choice: one of them
    all_sets: bool,
    as_json: bool,
) -> None:
    """Containers of this blueprint set's agents: state, health, published ports (target
    swarm: the agents' swarm tasks: node, state, error)."""
    from avrgen.app.reading import read_default_engine

    # the engine answers while the blueprints are read (or the render cache says what the
    # last render planned of them, when output/ is still what they render)
    early = None if all_sets or target == "swarm" else read_default_engine(project)
    try:
        from avrgen.app.listing import listing

        found = listing(project, names, target, all_sets, early)
    except HostsUnreachable as exc:
        partial = cast("list[ContainerStatus]", exc.partial)
        shown = _with_set if all_sets else print_containers
        _hosts_failed(exc, as_json, serialize.containers, shown, partial)
    if found.target == "swarm":
        show = _tasks_with_set if all_sets else print_tasks
        _listing(found.tasks, as_json, serialize.tasks, show, "no avrgen services")
        return
    shown = _with_set if all_sets else print_containers
    _listing(found.containers, as_json, serialize.containers, shown, "no avrgen containers")


def _with_set(statuses: list[ContainerStatus]) -> None:
    print_containers(statuses, with_set=True)


def _tasks_with_set(found: list[TaskStatus]) -> None:
    print_tasks(found, with_set=True)


def _listing(
    found: list[Item],
    as_json: bool,
    document: Callable[[list[Item]], object],
    show: Callable[[list[Item]], None],
    empty: str,
) -> None:
    if as_json:
        serialize.emit(document(found))
    elif found:
        show(found)
    else:
        click.echo(empty)


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
@parallel_option
@timeout_option
def restart(
    project: Project, names: tuple[str, ...], all_agents: bool, parallel: int, timeout: int
) -> None:
    """Restart agents' containers and wait until they run again (the same configuration:
    after a change of blueprints, `avrgen up` recreates what changed)."""
    require_selection(names, all_agents)
    try:
        from avrgen.app.lifecycle import restart as restart_agents

        statuses = restart_agents(
            project,
            names,
            all_agents=all_agents,
            timeout=timeout,
            progress=print_progress,
            parallel=parallel,
        )
    except HostsUnreachable as exc:
        partial = cast("list[ContainerStatus]", exc.partial)
        _hosts_failed(exc, False, serialize.containers, print_containers, partial)
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
    from avrgen.app.reading import read_default_engine

    early = read_default_engine(project)  # the engine answers while they are planned
    from avrgen.app.status import status as agent_status

    report = agent_status(project, names, secrets_file=secrets_file, early=early)
    if as_json:
        serialize.emit(serialize.status_report(report))
    else:
        print_status(report)
    unreachable = [a for a in report.agents if a.state == "unreachable"]
    for message in dict.fromkeys(a.error or a.agent for a in unreachable):
        click.echo(f"error: {message}", err=True)  # a host that failed: exit 1 whatever is asked
    if unreachable or (exit_code and not report.in_sync):
        raise Failed
