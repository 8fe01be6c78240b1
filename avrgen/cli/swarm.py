"""The swarm target's commands: `deploy`, `undeploy` (and the task table of `ps`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from avrgen.app.project import Project
from avrgen.cli.options import (
    all_option,
    names_argument,
    no_render_option,
    parallel_option,
    project_options,
    require_selection,
    secrets_file_option,
    timeout_option,
)
from avrgen.cli.output import print_outcomes, print_progress, print_rendered_first, table

if TYPE_CHECKING:
    from avrgen.app.results import AgentDeploy, TaskStatus


def print_tasks(tasks: Sequence[TaskStatus]) -> None:
    rows = [("AGENT", "SERVICE", "NODE", "DESIRED", "STATE", "ERROR")]
    for t in tasks:
        agent = t.agent + (" (orphan)" if t.orphan else "")
        rows.append((agent, t.service, t.node or "-", t.desired, t.state, t.error or "-"))
    table(rows)


def _tasks(agent: AgentDeploy) -> tuple[str, str]:
    running = sum(t.ok for t in agent.tasks)
    nodes = sorted({t.node for t in agent.tasks if t.node})
    return f"{running}/{len(agent.tasks)} running", ", ".join(nodes) or "-"


@click.command()
@project_options
@names_argument
@all_option
@parallel_option
@secrets_file_option
@no_render_option
@click.option(
    "--resolve-image",
    type=click.Choice(["always", "changed", "never"]),
    default="always",
    show_default=True,
    help="Ask the registry for image digests (never: images only present on the nodes).",
)
@timeout_option
def deploy(
    project: Project,
    names: tuple[str, ...],
    all_agents: bool,
    parallel: int,
    secrets_file: Path | None,
    no_render: bool,
    resolve_image: str,
    timeout: int,
) -> None:
    """Render if stale, create the overlay network, `docker stack deploy` each agent and wait
    until its tasks run (target swarm)."""
    from avrgen.app.deploy import deploy as deploy_agents
    from avrgen.app.running import raise_failures

    require_selection(names, all_agents)
    result = deploy_agents(
        project,
        names,
        all_agents=all_agents,
        parallel=parallel,
        secrets_file=secrets_file,
        render=not no_render,
        timeout=timeout,
        resolve_image=resolve_image,
        progress=print_progress,
    )
    print_rendered_first(result.rendered)
    print_outcomes(("TASKS", "NODES"), result.agents, _tasks)
    raise_failures(result.agents)


@click.command()
@project_options
@names_argument
@all_option
@click.option(
    "--network", is_flag=True, help="Also remove the shared overlay network if nothing uses it."
)
@click.option("--orphans", is_flag=True, help="Also remove agents no longer in the blueprints.")
def undeploy(
    project: Project, names: tuple[str, ...], all_agents: bool, network: bool, orphans: bool
) -> None:
    """Remove agents' stacks from the swarm and wait until their containers are gone."""
    from avrgen.app.deploy import undeploy as undeploy_agents

    require_selection(names, all_agents, allow_none=orphans or network)
    result = undeploy_agents(
        project,
        names,
        all_agents=all_agents,
        network=network,
        orphans=orphans,
        progress=print_progress,
    )
    for service in result.removed:
        click.echo(f"removed service {service}")
    if not result.removed:
        click.echo("no services to remove")
    if result.network:
        click.echo(result.network)
