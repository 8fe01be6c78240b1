"""The command line: maps options to one core call each, prints the result, sets exit codes.

Exit codes live here and only here: 0 ok, 1 a user error (AvrgenError), 2 usage (click).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from avrgen import __version__
from avrgen.errors import AvrgenError, BlueprintError, Problem

F = TypeVar("F", bound=Callable[..., Any])


def project_options(func: F) -> F:
    """--blueprints/-b, --output/-o, --templates and --catalog, shared by every command."""
    options = [
        click.option(
            "-b",
            "--blueprints",
            type=click.Path(path_type=Path),
            default="blueprints",
            envvar="AVRGEN_BLUEPRINTS",
            show_default=True,
            help="Blueprint folder.",
        ),
        click.option(
            "-o",
            "--output",
            type=click.Path(path_type=Path),
            default="output",
            envvar="AVRGEN_OUTPUT",
            show_default=True,
            help="Output folder.",
        ),
        click.option(
            "--templates",
            type=click.Path(path_type=Path),
            default=None,
            envvar="AVRGEN_TEMPLATES",
            help="Own jinja2 templates folder.",
        ),
        click.option(
            "--catalog",
            "catalogs",
            type=click.Path(path_type=Path),
            multiple=True,
            envvar="AVRGEN_CATALOG",
            help="Extra provider template folder.",
        ),
    ]

    @wraps(func)
    def wrapper(
        blueprints: Path,
        output: Path,
        templates: Path | None,
        catalogs: tuple[Path, ...],
        **kwargs: Any,
    ) -> Any:
        from avrgen.project import Paths, Project

        paths = Paths(blueprints, output, templates, tuple(catalogs))
        return func(Project(paths), **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def emit_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="avrgen")
def cli() -> None:
    """Declarative blueprints for Agent Voice Response agents, rendered to docker compose."""


@cli.command()
@project_options
@json_option
def validate(project: Any, as_json: bool) -> None:
    """Load and check every blueprint; print every problem."""
    try:
        result = project.validate()
    except BlueprintError as exc:
        if as_json:
            emit_json({"valid": False, "problems": [p.as_dict() for p in exc.problems]})
            sys.exit(1)
        raise
    blueprint = result.blueprint
    if as_json:
        emit_json(
            {
                "valid": True,
                "problems": [p.as_dict() for p in result.warnings],
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


@cli.command()
@project_options
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 when output/ or the lock is stale."
)
@click.option("--agent", "agents", multiple=True, metavar="NAME", help="Render only this agent.")
@click.option(
    "--target",
    type=click.Choice(["compose", "swarm"]),
    default=None,
    help="compose: docker-compose.yml + env files; swarm: stack.yml (default: settings' target).",
)
@json_option
def render(
    project: Any, check: bool, agents: tuple[str, ...], target: str | None, as_json: bool
) -> None:
    """Render output/<agent>/ compose and env files, and the lock."""
    from avrgen.errors import StaleOutputError

    try:
        result = project.render(check=check, agents=agents, target=target)
    except StaleOutputError as exc:
        if as_json:
            emit_json({"stale": True, "message": str(exc)})
            sys.exit(1)
        raise
    if as_json:
        emit_json(render_summary(result))
        return
    print_problems(result.warnings)
    print_plan_table(result.plan, agents)
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


def render_summary(result: Any) -> dict[str, object]:
    return {
        "stale": False,
        "checked": result.checked,
        "changes": [{"path": c.path, "action": c.action} for c in result.changes],
        "warnings": [p.as_dict() for p in result.warnings],
        "agents": {
            name: {
                "mode": agent.mode,
                "project": agent.project,
                "containers": {
                    c.name: {
                        "role": c.role,
                        "image": c.image,
                        "port": c.port,
                        "http_port": c.http_port,
                        "published": list(c.published),
                    }
                    for c in agent.containers
                },
            }
            for name, agent in result.plan.agents.items()
        },
    }


def print_plan_table(the_plan: Any, only: tuple[str, ...] = ()) -> None:
    rows = [("AGENT", "MODE", "CONTAINER", "IMAGE", "PORT")]
    for name, agent in the_plan.agents.items():
        if only and name not in only:
            continue
        for c in agent.containers:
            port = f"{c.port}" + (f" http {c.http_port}" if c.http_port else "")
            if c.published:
                port += " (published)"
            rows.append((name, agent.mode, c.name, c.image, port))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


@cli.command("plan")
@project_options
@click.option("--agent", "agents", multiple=True, metavar="NAME", help="Plan only this agent.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when anything would change (for CI).")
@click.option("--stat", is_flag=True, help="Only the summary, no diffs.")
@json_option
def plan_command(
    project: Any, agents: tuple[str, ...], exit_code: bool, stat: bool, as_json: bool
) -> None:
    """Show what `render` would change, as unified diffs and a summary (alias: diff)."""
    from avrgen.diff import plan_diff

    result = plan_diff(project, agents)
    if as_json:
        emit_json(result.as_dict())
    else:
        print_problems(result.warnings)
        print_plan_diff(result, stat)
    if exit_code and result.changed:
        sys.exit(1)


cli.add_command(plan_command, name="diff")

_DIFF_COLORS = {"+": "green", "-": "red", "@": "cyan"}
_AGENT_MARKS = {"added": "+", "changed": "~", "removed": "-"}


def print_plan_diff(result: Any, stat: bool = False) -> None:
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


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except AvrgenError as exc:
        click.echo(f"error: {exc}" if not isinstance(exc, BlueprintError) else str(exc), err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
