"""`validate --all-environments` and `render [--check] --all-environments`: the base and
every environment, each one's problems told, exit 1 when any failed (for CI)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

from avrgen.cli import serialize
from avrgen.cli.output import Failed, print_problems
from avrgen.errors import BlueprintError, StaleOutputError

if TYPE_CHECKING:
    from avrgen.app.environments import EnvironmentRun
    from avrgen.app.project import Project
    from avrgen.app.results import RenderResult, Validated

T = TypeVar("T")

all_environments_option = click.option(
    "--all-environments",
    is_flag=True,
    help="The base blueprints and every environment under environments/ (for CI): "
    "every problem told, exit 1 if any.",
)


def label(environment: str | None) -> str:
    return "base" if environment is None else f"environment {environment}"


def _runs(project: Project, job: Callable[[Project], T]) -> list[EnvironmentRun[T]]:
    if project.paths.environment is not None:
        raise click.UsageError("--all-environments and --environment/-e exclude each other")
    from avrgen.app.environments import every_environment

    return every_environment(project, job)


def _error_record(run: EnvironmentRun[T]) -> dict[str, object]:
    assert run.error is not None
    return {"environment": run.environment, **serialize.error(run.error)}


def _tell_error(run: EnvironmentRun[T], summary: str) -> None:
    """A failed environment: its problems (or message) on stderr, a summary line on stdout."""
    error = run.error
    if isinstance(error, BlueprintError):
        print_problems(error.problems)
        count = sum(1 for p in error.problems if p.severity == "error")
        summary = f"{count} error(s)"
    else:
        click.echo(f"error: {error}", err=True)
    click.echo(f"{label(run.environment)}: {summary}")


def validate_all(project: Project, as_json: bool) -> None:
    runs = _runs(project, lambda each: each.validate())
    documents: list[dict[str, object]] = []
    for run in runs:
        if run.error is not None:
            documents.append({"valid": False, **_error_record(run)})
            if not as_json:
                _tell_error(run, "invalid")
            continue
        result: Validated | None = run.result
        assert result is not None
        blueprint = result.blueprint
        documents.append(
            {
                "environment": run.environment,
                "valid": True,
                "problems": serialize.problems(result.warnings),
                "agents": sorted(blueprint.agents),
                "providers": sorted(blueprint.providers),
            }
        )
        if not as_json:
            print_problems(result.warnings)
            click.echo(
                f"{label(run.environment)}: ok: {len(blueprint.agents)} agent(s), "
                f"{len(blueprint.providers)} provider(s), {len(result.warnings)} warning(s)"
            )
    _finish(runs, as_json, {"valid": all(r.error is None for r in runs)}, documents)


def render_all(project: Project, render: Callable[[Project], RenderResult], as_json: bool) -> None:
    runs = _runs(project, render)
    documents: list[dict[str, object]] = []
    for run in runs:
        if run.error is not None:
            stale = isinstance(run.error, StaleOutputError)
            documents.append({"stale": stale, **_error_record(run)})
            if not as_json:
                _tell_error(run, "stale" if stale else "failed")
            continue
        result = run.result
        assert result is not None
        documents.append({"environment": run.environment, **serialize.render_result(result)})
        if not as_json:
            print_problems(result.warnings)
            click.echo(f"{label(run.environment)}: {_render_summary(result)}")
    _finish(runs, as_json, {"ok": all(r.error is None for r in runs)}, documents)


def _render_summary(result: RenderResult) -> str:
    if result.checked:
        return "up to date"
    counts = {a: sum(1 for c in result.changes if c.action == a) for a in ("create", "update")}
    deleted = sum(1 for c in result.changes if c.action == "delete")
    return f"wrote {counts['create']} new, {counts['update']} changed, removed {deleted} file(s)"


def _finish(
    runs: list[EnvironmentRun[T]],
    as_json: bool,
    head: dict[str, object],
    documents: list[dict[str, object]],
) -> None:
    document = {**head, "environments": documents}
    failed = any(run.error is not None for run in runs)
    if failed:
        raise Failed(document if as_json else None)
    if as_json:
        serialize.emit(document)
