"""`avrgen explain AGENT [-e NAME]`: each value of the agent's containers and what set it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from avrgen.cli import serialize
from avrgen.cli.options import json_option, project_options
from avrgen.cli.output import table
from avrgen.errors import shown

_WIDEST = 60  # a value wider than this (a prompt) is cut in the table; --json has it whole

if TYPE_CHECKING:  # the app layer: imported when a command runs, not for `--help`
    from avrgen.app.project import Project


@click.command()
@project_options
@click.argument("agent")
@json_option
def explain(project: Project, agent: str, as_json: bool) -> None:
    """Each final value of AGENT's containers (image, env, ports, ...) and the file:line,
    catalog template, lock or avrgen default that set it. Secret values are never shown."""
    from avrgen.app.explain import explain as explain_agent

    result = explain_agent(project, agent)
    if as_json:
        serialize.emit(serialize.record(result))
        return
    where = f" (environment {result.environment})" if result.environment else ""
    click.echo(f"agent {result.agent}{where}")
    for container in result.containers:
        click.echo(f"\n{container.name} ({container.role})")
        rows = [("  FIELD", "VALUE", "SET BY")]
        rows += [(f"  {v.field}", _cut(shown(v.value)), v.source) for v in container.values]
        table(rows)


def _cut(text: str) -> str:
    return text if len(text) <= _WIDEST else text[: _WIDEST - 3] + "..."
