"""The swarm target's commands: `deploy`, `undeploy` (and the task table of `ps`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from avrgen.cli.options import (
    as_start,
    project_options,
    removal_options,
    require_selection,
    start_options,
    timeout_option,
)
from avrgen.cli.output import (
    print_outcomes,
    print_removed,
    print_telephony,
    table,
    telephony_removed,
)

if TYPE_CHECKING:
    from avrgen.app.project import Project
    from avrgen.app.results import AgentDeploy, TaskStatus
    from avrgen.app.running import Removal, Start


def print_tasks(tasks: Sequence[TaskStatus], with_set: bool = False) -> None:
    header = ("AGENT", "SERVICE", "NODE", "DESIRED", "STATE", "ERROR")
    if with_set:  # ps --all-sets: every blueprint set's ("-": an older avrgen's, no label)
        table([("SET", *header), *((t.set_id or "-", *_row(t)) for t in tasks)])
        return
    table([header, *map(_row, tasks)])


def _row(t: TaskStatus) -> tuple[str, ...]:
    agent = agent_cell(t.agent, t.orphan)
    return (agent, t.service, t.node or "-", t.desired, t.state, t.error or "-")


def agent_cell(agent: str, orphan: bool) -> str:
    """An agent's name in a table, marked when it is no longer in the blueprints."""
    return agent + (" (orphan)" if orphan else "")


def _tasks(agent: AgentDeploy) -> tuple[str, str]:
    running = sum(t.ok for t in agent.tasks)
    nodes = sorted({t.node for t in agent.tasks if t.node})
    return f"{running}/{len(agent.tasks)} running", ", ".join(nodes) or "-"


@click.command()
@project_options
@removal_options("Also remove the shared overlay network if nothing uses it.", telephony=True)
def undeploy(project: Project, removal: Removal) -> None:
    """Remove agents' stacks from the swarm and wait until their containers are gone."""
    from avrgen.app.deploy import undeploy as undeploy_agents

    result = undeploy_agents(project, removal)
    removed = [f"removed service {service}" for service in result.removed]
    removed += telephony_removed(result.telephony)
    print_removed(removed, "no services to remove", result.network)


@click.command()
@project_options
@start_options
@click.option(
    "--resolve-image",
    type=click.Choice(["always", "changed", "never"]),
    default="always",
    show_default=True,
    help="Ask the registry for image digests (never: images only present on the nodes).",
)
@click.option(
    "--take-over",
    is_flag=True,
    help="Replace services of another blueprint set in these agents' stacks.",
)
@timeout_option
@as_start
def deploy(project: Project, start: Start, resolve_image: str, take_over: bool) -> None:
    """Render if stale, create the overlay network, `docker stack deploy` each agent and wait
    until its tasks run (target swarm)."""
    require_selection(start.names, start.all_agents)
    start = replace(start, take_over=take_over)
    from avrgen.app.deploy import deploy as deploy_agents

    result = deploy_agents(project, start, resolve_image)
    if result.telephony is not None:
        print_telephony(result.telephony)
    print_outcomes(result.rendered, ("TASKS", "NODES"), result.agents, _tasks)
