"""The command group, and `main`: the one place exit codes are decided.

0 ok; 1 a user error (AvrgenError, or an OSError of a file: printed as its message) or a
command that has told its own failure (output.Failed); 2 usage (click); 130 interrupted.
Each command maps its options to one call of avrgen.app and prints the result; none exits
by itself.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from avrgen import __version__
from avrgen.cli.lazy import LazyGroup
from avrgen.cli.options import Invocation
from avrgen.cli.output import Failed
from avrgen.errors import AvrgenError, BlueprintError

_COMMANDS = {
    "validate": ("blueprint", "validate"),
    "render": ("blueprint", "render"),
    "plan": ("blueprint", "plan_command"),
    "diff": ("blueprint", "plan_command"),
    "templates": ("catalog", "templates_cmd"),
    "new": ("catalog", "new"),
    "schema": ("catalog", "schema"),
    "import": ("catalog", "import_cmd"),
    "up": ("lifecycle", "up"),
    "down": ("lifecycle", "down"),
    "ps": ("lifecycle", "ps"),
    "logs": ("lifecycle", "logs"),
    "restart": ("lifecycle", "restart"),
    "deploy": ("swarm", "deploy"),
    "undeploy": ("swarm", "undeploy"),
    "status": ("lifecycle", "status"),
    "explain": ("explain", "explain"),
    "history": ("releases", "history"),
    "rollback": ("releases", "rollback"),
}


@click.group(
    cls=LazyGroup,
    lazy={name: (f"avrgen.cli.{module}", attr) for name, (module, attr) in _COMMANDS.items()},
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="avrgen")
def cli() -> None:
    """Declarative blueprints for Agent Voice Response agents, rendered to docker compose."""


def main(args: Sequence[str] | None = None) -> None:
    """Run one command (`args`, default the process's arguments) and exit with its code."""
    invocation = Invocation()
    try:
        code = cli.main(args, standalone_mode=False, obj=invocation)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns a Ctrl-C into Abort
            click.echo("interrupted", err=True)
            sys.exit(130)
        click.echo("aborted", err=True)  # pragma: no cover - EOF at a prompt; none prompts
        sys.exit(1)  # pragma: no cover - as above
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Failed as exc:
        if exc.document is not None:
            from avrgen.cli import serialize

            serialize.emit(exc.document)
        sys.exit(exc.exit_code)
    except (AvrgenError, OSError) as raised:
        error = raised if isinstance(raised, AvrgenError) else file_error(raised)
        text = str(error) if isinstance(error, BlueprintError) else f"error: {error}"
        click.echo(text, err=True)
        if invocation.json:  # stdout stays parseable for a machine reader
            from avrgen.cli import serialize

            serialize.emit(serialize.error(error))
        sys.exit(error.exit_code)
    if isinstance(code, int) and code:  # pragma: no cover - no command calls ctx.exit(N)
        sys.exit(code)


def file_error(exc: OSError) -> AvrgenError:
    """A file or folder avrgen could not read or write (the state folder left to another
    user by `sudo avrgen up`, a file where a folder belongs): its path and the reason, as a
    user error, for whatever use case did not name it itself."""
    where = f"{exc.filename}: " if exc.filename is not None else ""
    return AvrgenError(f"{where}{exc.strerror or exc}")
