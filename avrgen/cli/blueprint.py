"""The blueprint commands: `validate`, `render`, `plan` (alias `diff`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from avrgen.cli import serialize
from avrgen.cli.environments import all_environments_option, render_all, validate_all
from avrgen.cli.options import json_option, no_wait_option, project_options, target_option
from avrgen.cli.output import Failed, print_problems, say_waiting, table_text
from avrgen.errors import BlueprintError, StaleOutputError

if TYPE_CHECKING:
    from avrgen.app.project import Project
    from avrgen.app.results import PlanDiff, PlanView, RenderResult
    from avrgen.model.blueprint import Target
    from avrgen.model.plan import Plan

_DIFF_COLORS = {"+": "green", "-": "red", "@": "cyan"}
_AGENT_MARKS = {"added": "+", "changed": "~", "removed": "-"}


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """For a command that builds a large tree of objects (1,000s of agents) and ends: the
    cyclic garbage collector would scan that tree again and again to find next to no
    cycles; reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            # what was built meanwhile joins the oldest generation unscanned (freeze, then
            # unfreeze: list moves); enabled as it was, the next allocation would scan it all
            # as the youngest generation (~0.05 s at 1,000 agents, as the command ends)
            gc.freeze()
            gc.unfreeze()
            gc.enable()


@click.command()
@project_options
@all_environments_option
@json_option
def validate(project: Project, all_environments: bool, as_json: bool) -> None:
    """Load and check every blueprint; print every problem."""
    if all_environments:
        validate_all(project, as_json)
        return
    try:
        with no_cycle_collection():
            result = project.validate()
    except BlueprintError as exc:
        if as_json:
            raise Failed({"valid": False, "problems": serialize.problems(exc.problems)}) from None
        raise
    blueprint = result.blueprint
    if as_json:
        serialize.emit(
            {
                "valid": True,
                "problems": serialize.problems(result.warnings),
                "agents": sorted(blueprint.agents),
                "providers": sorted(blueprint.providers),
            }
        )
        return
    print_problems(result.warnings)
    click.echo(
        f"ok: {len(blueprint.agents)} agent(s), {len(blueprint.providers)} provider(s), "
        f"{len(result.warnings)} warning(s)"
    )


@click.command()
@project_options
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 when output/ or the lock is stale."
)
@click.option("--agent", "agents", multiple=True, metavar="NAME", help="Render only this agent.")
@target_option(
    "compose: docker-compose.yml + env files; swarm: stack.yml (default: settings' target)."
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Run the whole pipeline even when nothing changed (also: AVRGEN_NO_CACHE=1).",
)
@no_wait_option
@all_environments_option
@json_option
def render(
    project: Project,
    check: bool,
    agents: tuple[str, ...],
    target: Target | None,  # click.Choice: one of them
    no_cache: bool,
    no_wait: bool,
    all_environments: bool,
    as_json: bool,
) -> None:
    """Render output/<agent>/ compose and env files, and the lock."""
    from avrgen.app.render import render as render_project

    def run(each: Project) -> RenderResult:
        with no_cycle_collection():
            return render_project(
                each,
                check=check,
                agents=agents,
                target=target,
                wait=not no_wait,
                on_wait=say_waiting,
                use_cache=not no_cache,
                summary=plan_table,  # the table of every agent: stored, printed by a hit
            )

    if all_environments:
        if agents:
            raise click.UsageError("--all-environments renders every agent: drop --agent")
        render_all(project, run, as_json)
        return
    try:
        result = run(project)
    except StaleOutputError as exc:
        if as_json:
            raise Failed({"stale": True, "message": str(exc)}) from None
        raise
    if as_json:
        serialize.emit(serialize.render_result(result))
        return
    print_problems(result.warnings)
    # the cache's text is of every agent's table (it is not used when agents are named)
    text = result.summary if result.summary is not None and not agents else None
    click.echo(text if text is not None else plan_table(result.plan, agents))
    if check:
        click.echo("up to date: output/ and the lock match the blueprints")
    else:
        counts = {
            a: sum(1 for c in result.changes if c.action == a)
            for a in ("create", "update", "delete")
        }
        unchanged = "" if result.changes else " (nothing changed)"
        click.echo(
            f"wrote {counts['create']} new, {counts['update']} changed, "
            f"removed {counts['delete']} file(s){unchanged}"
        )


def plan_table(plan: Plan | PlanView, only: tuple[str, ...] = ()) -> str:
    """The table `render` prints of a plan's agents (of those in `only`, when given)."""
    rows = [("AGENT", "MODE", "CONTAINER", "IMAGE", "PORT")]
    for name, agent in plan.agents.items():
        if only and name not in only:
            continue
        for c in agent.containers:
            port = f"{c.port}" + (f" http {c.http_port}" if c.http_port else "")
            if c.published:
                port += " (published)"
            rows.append((name, agent.mode, c.name, c.image, port))
    return table_text(rows)


@click.command("plan")
@project_options
@click.option("--agent", "agents", multiple=True, metavar="NAME", help="Plan only this agent.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when anything would change (for CI).")
@click.option("--stat", is_flag=True, help="Only the summary, no diffs.")
@json_option
def plan_command(
    project: Project, agents: tuple[str, ...], exit_code: bool, stat: bool, as_json: bool
) -> None:
    """Show what `render` would change, as unified diffs and a summary (alias: diff)."""
    from avrgen.app.diff import plan_diff

    result = plan_diff(project, agents)
    if as_json:
        serialize.emit(serialize.plan_diff(result))
    else:
        print_problems(result.warnings)
        print_plan_diff(result, stat)
    if exit_code and result.changed:
        raise Failed


def print_plan_diff(result: PlanDiff, stat: bool = False) -> None:
    if not stat:
        for file in result.files:
            for line in file.diff.removesuffix("\n").split("\n"):
                head = line[:3] in ("---", "+++")
                color = None if head else _DIFF_COLORS.get(line[:1])
                click.echo(click.style(line, fg=color, bold=head))
        if result.files:
            click.echo()
    for name, action in result.agents.items():
        files = ", ".join(Path(f.path).name for f in result.files_of(name))
        click.echo(f"  {_AGENT_MARKS[action]} {name} ({action}: {files})")
    for port in result.ports:
        click.echo(f"  port {port}")
    click.echo(f"plan: {result.summary()}")
