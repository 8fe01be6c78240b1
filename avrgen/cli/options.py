"""Options shared by several commands, and what `main` needs to know of the command line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from avrgen.cli.output import print_progress

if TYPE_CHECKING:  # the app layer is imported when a command runs, not for `--help`
    from avrgen.app.project import Project

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


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


start_options = _stack(
    names_argument, all_option, parallel_option, secrets_file_option, no_render_option
)


def as_start(func: F) -> F:
    """The options of `start_options` and --timeout, given to the command as one `start`."""

    @wraps(func)
    def wrapper(
        project: Project,
        names: tuple[str, ...],
        all_agents: bool,
        parallel: int,
        secrets_file: Path | None,
        no_render: bool,
        timeout: int,
        **kwargs: Any,
    ) -> Any:
        from avrgen.app.running import Start

        start = Start(
            names, all_agents, parallel, secrets_file, not no_render, timeout, None, print_progress
        )
        return func(project, start=start, **kwargs)

    return wrapper  # type: ignore[return-value]


def removal_options(network_help: str, telephony: bool = False) -> Callable[[F], F]:
    """[NAME]..., --all, --network, --orphans (and, with `telephony`, --telephony): given to
    the command as one `removal`."""

    def apply(func: F) -> F:
        @wraps(func)
        def wrapper(
            project: Project,
            network: bool,
            orphans: bool,
            names: tuple[str, ...],
            all_agents: bool,
            **kwargs: Any,
        ) -> Any:
            stack = bool(kwargs.pop("telephony", False))
            require_selection(names, all_agents, allow_none=orphans or network or stack)
            from avrgen.app.running import Removal

            removal = Removal(names, all_agents, network, orphans, print_progress, stack)
            return func(project, removal=removal, **kwargs)

        options = [
            names_argument,
            all_option,
            click.option("--network", is_flag=True, help=network_help),
            click.option(
                "--orphans", is_flag=True, help="Also remove agents no longer in the blueprints."
            ),
        ]
        if telephony:
            options.append(
                click.option(
                    "--telephony",
                    is_flag=True,
                    help="Also remove the telephony stack (avr-asterisk, avr-ami) and its "
                    "secrets files; `--all` alone leaves it running.",
                )
            )
        return _stack(*options)(wrapper)  # type: ignore[return-value]

    return apply


def target_option(help_text: str) -> Callable[[F], F]:
    return click.option(
        "--target", type=click.Choice(["compose", "swarm"]), default=None, help=help_text
    )


def _folder_option(
    short: str, name: str, default: str, envvar: str, help_text: str
) -> Callable[[F], F]:
    return click.option(
        short,
        name,
        type=click.Path(path_type=Path),
        default=default,
        envvar=envvar,
        show_default=True,
        help=help_text,
    )


def file_option(default_text: str) -> Callable[[F], F]:
    """--file of `avrgen new`: where to write the blueprint."""
    return click.option(
        "--file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help=f"Where to write (default: {default_text}).",
    )


def project_options(func: F) -> F:
    """--blueprints/-b, --output/-o, --templates, --catalog, --state and --environment/-e,
    shared by every command."""
    options = [
        _folder_option(
            "-b", "--blueprints", "blueprints", "AVRGEN_BLUEPRINTS", "Blueprint folder."
        ),
        _folder_option("-o", "--output", "output", "AVRGEN_OUTPUT", "Output folder."),
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
        click.option(
            "--state",
            type=click.Path(path_type=Path, file_okay=False),
            default=None,
            envvar="AVRGEN_STATE",
            help="State folder of this server (default: ~/.local/state/avrgen, "
            "/var/lib/avrgen for root).",
        ),
        click.option(
            "-e",
            "--environment",
            default=None,
            envvar="AVRGEN_ENVIRONMENT",
            metavar="NAME",
            help="Overlay environments/NAME/ (beside the blueprint folder) on the blueprints; "
            "output in <output>/NAME/, lock in environments/NAME/avrgen.lock.",
        ),
    ]

    @wraps(func)
    def wrapper(
        blueprints: Path,
        output: Path,
        templates: Path | None,
        catalogs: tuple[Path, ...],
        state: Path | None,
        environment: str | None,
        **kwargs: Any,
    ) -> Any:
        from avrgen.app.environments import in_environment
        from avrgen.app.project import Paths, Project

        paths = Paths(blueprints, output, templates, tuple(catalogs), state)
        return func(Project(in_environment(paths, environment or None)), **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def require_selection(names: Sequence[str], all_agents: bool, allow_none: bool = False) -> None:
    """Agents named, or --all: one of them (or neither, where `allow_none`)."""
    if names and all_agents:
        raise click.UsageError("name agents or use --all, not both")
    if not names and not all_agents and not allow_none:
        raise click.UsageError("name at least one agent, or use --all")
