"""The command group, and `main`: the one place exit codes are decided.

0 ok; 1 a user error (AvrgenError, printed as its message) or a command that has told its
own failure (output.Failed); 2 usage (click); 130 interrupted. Each command maps its
options to one call of avrgen.app and prints the result; none exits by itself.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from avrgen import __version__
from avrgen.cli import blueprint, catalog, lifecycle, serialize, swarm
from avrgen.cli.options import Invocation
from avrgen.cli.output import Failed
from avrgen.errors import AvrgenError, BlueprintError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="avrgen")
def cli() -> None:
    """Declarative blueprints for Agent Voice Response agents, rendered to docker compose."""


for command in (
    blueprint.validate,
    blueprint.render,
    blueprint.plan_command,
    catalog.templates_cmd,
    catalog.new,
    catalog.schema,
    catalog.import_cmd,
    lifecycle.up,
    lifecycle.down,
    lifecycle.ps,
    lifecycle.logs,
    lifecycle.restart,
    swarm.deploy,
    swarm.undeploy,
    lifecycle.status,
):
    cli.add_command(command)
cli.add_command(blueprint.plan_command, name="diff")


def main(args: Sequence[str] | None = None) -> None:
    """Run one command (`args`, default the process's arguments) and exit with its code."""
    invocation = Invocation()
    try:
        code = cli.main(args, standalone_mode=False, obj=invocation)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Failed as exc:
        if exc.document is not None:
            serialize.emit(exc.document)
        sys.exit(exc.exit_code)
    except AvrgenError as exc:
        click.echo(f"error: {exc}" if not isinstance(exc, BlueprintError) else str(exc), err=True)
        if invocation.json:  # stdout stays parseable for a machine reader
            serialize.emit(serialize.error(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    if isinstance(code, int) and code:  # a command's ctx.exit(N) keeps its exit code
        sys.exit(code)
