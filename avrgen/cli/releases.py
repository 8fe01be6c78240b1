"""`avrgen history` and `avrgen rollback`: the releases recorded in the state folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from avrgen.cli import serialize
from avrgen.cli.options import json_option, project_options, secrets_file_option, timeout_option
from avrgen.cli.output import print_progress, table

if TYPE_CHECKING:
    from avrgen.app.history import ReleaseChanges
    from avrgen.app.project import Project


def short(image_id: str | None) -> str:
    """An image id as `docker images` shows it (12 hex digits); a digest stays whole."""
    if image_id is None:
        return "none"
    return image_id.removeprefix("sha256:")[:12] if "@" not in image_id else image_id


def change_lines(changes: ReleaseChanges, first: bool) -> list[str]:
    """What a release changed, a line each kind: files, images, env keys."""
    lines = []
    if first:
        lines.append(f"first release: {len(changes.files_added)} file(s)")
    else:
        files = [
            *(f"+{p}" for p in changes.files_added),
            *(f"-{p}" for p in changes.files_removed),
            *changes.files_changed,
        ]
        if files:
            lines.append("files: " + ", ".join(files))
    for role, (old, new) in changes.images.items():
        lines.append(
            f"image {role}: {short(new)}"
            if first
            else f"image {role}: {short(old)} -> {short(new)}"
        )
    if not first:
        for role in sorted(changes.env_added.keys() | changes.env_removed.keys()):
            keys = [
                *(f"+{k}" for k in changes.env_added.get(role, ())),
                *(f"-{k}" for k in changes.env_removed.get(role, ())),
            ]
            lines.append(f"env keys {role}: " + " ".join(keys))
    return lines or ["same files and images as the release before"]


@click.command()
@project_options
@click.argument("agent", required=False)
@json_option
def history(project: Project, agent: str | None, as_json: bool) -> None:
    """Releases recorded on this server (of AGENT, or of every agent): number, when, what
    changed relative to the release before."""
    from avrgen.app.history import history as release_history  # pydantic: not for `--help`

    entries = release_history(project, agent)
    if as_json:
        serialize.emit([serialize.history_entry(e) for e in entries])
        return
    if not entries:
        click.echo(f"no releases in {project.paths.state_dir}")
        return
    rows = [("AGENT", "RELEASE", "CREATED (UTC)", "ORIGIN", "REVISION", "CHANGES")]
    for entry in entries:
        release = entry.release
        revision = str(release.revision) if release.revision is not None else "-"
        for index, line in enumerate(change_lines(entry.changes, entry.previous is None)):
            if index == 0:
                row = (release.agent, str(release.number), release.created, release.origin)
                rows.append((*row, revision, line))
            else:
                rows.append(("", "", "", "", "", line))
    table(rows)


@click.command()
@project_options
@click.argument("agent")
@click.option(
    "--to",
    "to",
    type=click.IntRange(1),
    default=None,
    help="The release to bring back (default: the one before the latest).",
)
@secrets_file_option
@timeout_option
@json_option
def rollback(
    project: Project,
    agent: str,
    to: int | None,
    secrets_file: Path | None,
    timeout: int,
    as_json: bool,
) -> None:
    """Bring AGENT back to a release: its recorded files and its images by id or digest
    (not by tag), then record that as a new release. output/ is left as it is."""
    from avrgen.app.history import rollback as roll_back  # pydantic: not for `--help`

    result = roll_back(
        project, agent, to, secrets_file=secrets_file, timeout=timeout, progress=print_progress
    )
    if as_json:
        serialize.emit(serialize.rollback_result(result))
        return
    recorded = (
        f"recorded as release {result.recorded.number}"
        if result.recorded is not None
        else "the same files and images as its latest release: nothing recorded"
    )
    click.echo(
        f"rolled back {agent} to release {result.to.number} ({result.to.created}): {recorded}"
    )
    command = "deploy" if result.to.target == "swarm" else "up"
    click.echo(
        f"output/ is unchanged: `avrgen {command} {agent}` brings back the blueprints' version"
    )
