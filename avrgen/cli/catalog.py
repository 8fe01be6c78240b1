"""The catalog and authoring commands: `templates`, `new provider|agent`, `schema`, `import`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from avrgen.cli import serialize
from avrgen.cli.options import file_option, json_option, project_options
from avrgen.cli.output import print_problems, table

if TYPE_CHECKING:  # the app layer: imported when a command runs, not for `--help`
    from avrgen.app.project import Project


@click.group("templates", invoke_without_command=True)
@project_options
@json_option
@click.pass_context
def templates_cmd(ctx: click.Context, project: Project, as_json: bool) -> None:
    """List the provider catalog (bundled, settings' `catalog:`, --catalog)."""
    if ctx.invoked_subcommand is not None:
        return
    from avrgen.app.catalog import templates

    found = templates(project)
    if as_json:
        serialize.emit([serialize.template(t) for t in found])
        return
    rows = [("NAME", "TYPE", "IMAGE", "REQUIRED")]
    rows += [(t.name, t.type, t.image_ref, ", ".join(t.required)) for t in found]
    table(rows)


@templates_cmd.command("show")
@click.argument("name")
@project_options
@json_option
def templates_show(project: Project, name: str, as_json: bool) -> None:
    """Show one template: image, keys, secrets, URL path, AMI, tools mounts."""
    from avrgen.app.catalog import template

    t = template(project, name)
    if as_json:
        serialize.emit(serialize.template(t))
        return
    click.echo(f"{t.name}: {t.title} ({t.type})")
    if t.description:
        click.echo(f"  {t.description}")
    unpinned = " (no tag: no public source shows one; pin config.image)" if not t.tag else ""
    click.echo(f"image:    {t.image_ref}{unpinned}")
    if t.platform:
        click.echo(f"platform: {t.platform}")
    click.echo(f"source:   {t.source or '(not given)'}")
    click.echo(f"url path: {t.url_path or '(none)'}")
    click.echo(f"AMI_URL:  {'given (tool calls through avr-ami)' if t.takes_ami else 'not given'}")
    mounts = serialize.tools_mounts(t)
    click.echo(f"tools:    {', '.join(mounts) + ' (not mounted by avrgen)' if mounts else 'none'}")
    if t.port:
        click.echo(f"port:     {t.port} in the public compose files (avrgen allocates one)")
    click.echo("required env:" + ("" if t.required else " (none)"))
    for key in t.required:
        flag = " (secret)" if key in t.secrets else ""
        click.echo(f"  {key}{flag}" + (f": {t.help[key]}" if key in t.help else ""))
    for need in t.needs:
        choices = " or ".join(" + ".join(keys) for keys in need.any_of)
        unless = ", ".join(f"{key}={value}" for key, value in need.unless.items())
        click.echo(f"needs:    {choices}" + (f" (unless {unless})" if unless else ""))
    if t.optional:
        click.echo('optional env (the image\'s defaults, not injected; "" = unset):')
    for key, default in t.optional.items():
        flag = " (secret)" if key in t.secrets else ""
        value = json.dumps(default, ensure_ascii=False)
        click.echo(f"  {key}={value}{flag}" + (f": {t.help[key]}" if key in t.help else ""))


@click.group()
def new() -> None:
    """Scaffold a commented blueprint file (never overwrites one)."""


@new.command("provider")
@click.option("--template", "template_name", required=True, help="Catalog template name.")
@click.option("--name", required=True, help='Provider name, e.g. "OpenAI Realtime Prod".')
@file_option("<blueprints>/providers/<slug>.yaml")
@project_options
def new_provider(project: Project, template_name: str, name: str, file: Path | None) -> None:
    """Write a provider blueprint from a catalog template."""
    from avrgen.app.scaffold import new_provider as scaffold_provider

    click.echo(f"wrote {scaffold_provider(project, template_name, name, file)}")


@new.command("agent")
@click.argument("name")
@click.option("--sts", default=None, metavar="PROVIDER", help="STS provider (sts mode).")
@click.option("--asr", default=None, metavar="PROVIDER", help="ASR provider (pipeline mode).")
@click.option("--llm", default=None, metavar="PROVIDER", help="LLM provider (pipeline mode).")
@click.option("--tts", default=None, metavar="PROVIDER", help="TTS provider (pipeline mode).")
@file_option("<blueprints>/agents/<name>.yaml")
@project_options
def new_agent(
    project: Project,
    name: str,
    sts: str | None,
    asr: str | None,
    llm: str | None,
    tts: str | None,
    file: Path | None,
) -> None:
    """Write an agent blueprint using existing providers."""
    from avrgen.app.scaffold import new_agent as scaffold_agent

    providers = {"sts": sts, "asr": asr, "llm": llm, "tts": tts}
    chosen = {slot: value for slot, value in providers.items() if value}
    click.echo(f"wrote {scaffold_agent(project, name, chosen, file)}")


@click.command()
def schema() -> None:
    """Print the JSON Schema of blueprint documents (for editors)."""
    from avrgen.app.schema import schema_text

    click.echo(schema_text(), nl=False)


@click.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@click.option(
    "--secrets-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=".avrgen-secrets.env",
    show_default=True,
    help="dotenv file (mode 0600) that receives the secret values. Never commit it.",
)
@project_options
@json_option
def import_cmd(
    project: Project, file: Path, dry_run: bool, secrets_file: Path, as_json: bool
) -> None:
    """Import providers and agents from the AVR dashboard's REST API JSON."""
    from avrgen.app.importer import import_dashboard

    result = import_dashboard(project, file, secrets_file, dry_run=dry_run)
    if as_json:
        serialize.emit(serialize.import_result(result))
        return
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    print_problems(result.warnings)
    verb = "wrote" if result.written else "would write"
    for path, text in result.files.items():
        click.echo(f"{verb} {path}")
        if not result.written:
            click.echo("".join(f"    {line}\n" for line in text.splitlines()), nl=False)
    if result.secret_names:
        click.echo(
            f"{verb} {len(result.secret_names)} secret value(s) to {result.secrets_file} "
            f"(mode 0600; never commit it): {', '.join(result.secret_names)}"
        )
