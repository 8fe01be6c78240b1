"""What the commands print besides JSON: tables, problems, progress."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import click

from avrgen.errors import Problem

if TYPE_CHECKING:
    from avrgen.app.results import ContainerStatus, TelephonyUp
    from avrgen.app.running import Outcome

AgentResult = TypeVar("AgentResult", bound="Outcome")


class Failed(Exception):
    """The command has told its outcome (a --json document, a diff, a report) and fails:
    `main` exits `exit_code`, printing `document` as JSON first when there is one, and
    nothing else."""

    def __init__(self, document: object = None, exit_code: int = 1) -> None:
        super().__init__()
        self.document = document
        self.exit_code = exit_code


def table(rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns two spaces apart, the first row the header; one write, as a
    table of 1,000s of agents has thousands of rows."""
    click.echo(table_text(rows))


def table_text(rows: Sequence[Sequence[str]]) -> str:
    """The text `table` prints (without its last newline)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = (
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
    return "\n".join(lines)


def print_problems(problems: Sequence[Problem]) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)


def say_waiting(message: str) -> None:
    click.echo(message, err=True)


def print_progress(agent: str, message: str) -> None:
    click.echo(f"[{agent}] {message}", err=True)


def print_outcomes(
    rendered: Sequence[object],
    columns: tuple[str, ...],
    agents: Sequence[AgentResult],
    details: Callable[[AgentResult], tuple[str, ...]],
    interrupted: int | None = None,
) -> None:
    """After `up` or `deploy`: the files rendered first (output/ was stale), the table of
    each agent's result (the `columns` of `details`), then an error naming each agent that
    failed."""
    if rendered:
        click.echo(f"rendered {len(rendered)} changed file(s) first", err=True)
    rows = [("AGENT", "RESULT", *columns, "TIME")]
    rows += [(a.agent, a.status, *details(a), f"{a.seconds:.1f}s") for a in agents]
    table(rows)
    from avrgen.app.running import raise_failures

    raise_failures(agents, interrupted)


def print_removed(removed: Sequence[str], nothing: str, network: str | None) -> None:
    """After `down` or `undeploy`: what went (or `nothing`), then what became of the network."""
    for line in removed or [nothing]:
        click.echo(line)
    if network:
        click.echo(network)


def telephony_removed(stack: Sequence[ContainerStatus] | None) -> list[str]:
    """What `down --telephony` or `undeploy --telephony` removed of the stack (None: it was
    not asked to): its containers, then its secrets files."""
    if stack is None:
        return []
    removed = [f"removed {c.name} (telephony, {c.role})" for c in stack]
    return [*removed, "removed the telephony secrets files"]


def print_telephony(stack: TelephonyUp) -> None:
    """`up`'s (and `deploy`'s) line for the telephony stack: what it did, what runs, what
    was reloaded."""
    running = ", ".join(f"{c.name} {c.state}" for c in stack.containers) or "no containers"
    reloaded = f"; reloaded in place: {', '.join(stack.reloads)}" if stack.reloads else ""
    click.echo(f"telephony: {stack.status} ({running}){reloaded} in {stack.seconds:.1f}s")
