"""Options shared by several commands, and what `main` needs to know of the command line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from avrgen.app.project import Paths, Project

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Invocation:
    """Given to click as the context object: `main` reads it after the command failed."""

    json: bool = False  # --json: a user error is also told on stdout, as JSON


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.ensure_object(Invocation).json = True
    return value


json_option = click.option(
    "--json", "as_json", is_flag=True, callback=_remember_json, help="Machine-readable output."
)
no_wait_option = click.option(
    "--no-wait",
    is_flag=True,
    help="Fail at once when another avrgen is working on the output folder (default: wait).",
)
names_argument = click.argument("names", nargs=-1, metavar="[NAME]...")
all_option = click.option(
    "--all", "all_agents", is_flag=True, help="Every agent in the blueprints."
)
timeout_option = click.option(
    "--timeout",
    type=click.IntRange(1),
    default=120,
    show_default=True,
    help="Seconds to wait for an agent's containers to run (healthy, where checked).",
)
parallel_option = click.option(
    "--parallel",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="How many agents to handle at once.",
)
secrets_file_option = click.option(
    "--secrets-file",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="AVRGEN_SECRETS_FILE",
    help="dotenv file with secret values (a value in the environment wins).",
)
no_render_option = click.option(
    "--no-render", is_flag=True, help="Refuse to start when output/ is stale (do not render)."
)


def target_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--target", type=click.Choice(["compose", "swarm"]), default=None, help=help_text
    )


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
        return func(Project(Paths(blueprints, output, templates, tuple(catalogs))), **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def require_selection(names: tuple[str, ...], all_agents: bool, allow_none: bool = False) -> None:
    """Agents named, or --all: one of them (or neither, where `allow_none`)."""
    if names and all_agents:
        raise click.UsageError("name agents or use --all, not both")
    if not names and not all_agents and not allow_none:
        raise click.UsageError("name at least one agent, or use --all")
