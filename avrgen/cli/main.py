"""The command line: maps options to one core call each, prints the result, sets exit codes.

Exit codes live here and only here: 0 ok, 1 a user error (AvrgenError), 2 usage (click).
"""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from avrgen import __version__
from avrgen.errors import AvrgenError, BlueprintError, ComposeError, Problem

F = TypeVar("F", bound=Callable[..., Any])


def project_options(func: F) -> F:
    """--blueprints/-b, --output/-o, --templates and --catalog, shared by every command."""
    options = [
        click.option(
            "-b",
            "--blueprints",
            type=click.Path(path_type=Path),
            default="blueprints",
            envvar="AVRGEN_BLUEPRINTS",
            show_default=True,
            help="Blueprint folder.",
        ),
        click.option(
            "-o",
            "--output",
            type=click.Path(path_type=Path),
            default="output",
            envvar="AVRGEN_OUTPUT",
            show_default=True,
            help="Output folder.",
        ),
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
    ]

    @wraps(func)
    def wrapper(
        blueprints: Path,
        output: Path,
        templates: Path | None,
        catalogs: tuple[Path, ...],
        **kwargs: Any,
    ) -> Any:
        from avrgen.app.project import Paths, Project

        paths = Paths(blueprints, output, templates, tuple(catalogs))
        return func(Project(paths), **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
no_wait_option = click.option(
    "--no-wait",
    is_flag=True,
    help="Fail at once when another avrgen is working on the output folder (default: wait).",
)


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """For a command that builds a large tree of objects (1,000s of agents) and ends: the
    cyclic garbage collector would scan it again and again (~10% of a render) to find
    next to no cycles; reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def say_waiting(message: str) -> None:
    click.echo(message, err=True)


def emit_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="avrgen")
def cli() -> None:
    """Declarative blueprints for Agent Voice Response agents, rendered to docker compose."""


@cli.command()
@project_options
@json_option
def validate(project: Any, as_json: bool) -> None:
    """Load and check every blueprint; print every problem."""
    try:
        with no_cycle_collection():
            result = project.validate()
    except BlueprintError as exc:
        if as_json:
            emit_json({"valid": False, "problems": [p.as_dict() for p in exc.problems]})
            sys.exit(1)
        raise
    blueprint = result.blueprint
    if as_json:
        emit_json(
            {
                "valid": True,
                "problems": [p.as_dict() for p in result.warnings],
                "agents": sorted(blueprint.agents),
                "providers": sorted(blueprint.providers),
            }
        )
        return
    print_problems(result.warnings)
    click.echo(
        f"ok: {len(blueprint.agents)} agent(s), {len(blueprint.providers)} provider(s), "
        f"{len(result.warnings)} warning(s)"
    )


@cli.command()
@project_options
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 when output/ or the lock is stale."
)
@click.option("--agent", "agents", multiple=True, metavar="NAME", help="Render only this agent.")
@click.option(
    "--target",
    type=click.Choice(["compose", "swarm"]),
    default=None,
    help="compose: docker-compose.yml + env files; swarm: stack.yml (default: settings' target).",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Run the whole pipeline even when nothing changed (also: AVRGEN_NO_CACHE=1).",
)
@no_wait_option
@json_option
def render(
    project: Any,
    check: bool,
    agents: tuple[str, ...],
    target: str | None,
    no_cache: bool,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Render output/<agent>/ compose and env files, and the lock."""
    from avrgen.errors import StaleOutputError

    try:
        with no_cycle_collection():
            result = project.render(
                check=check,
                agents=agents,
                target=target,
                wait=not no_wait,
                on_wait=say_waiting,
                use_cache=not no_cache,
            )
    except StaleOutputError as exc:
        if as_json:
            emit_json({"stale": True, "message": str(exc)})
            sys.exit(1)
        raise
    if as_json:
        emit_json(render_summary(result))
        return
    print_problems(result.warnings)
    print_plan_table(result.plan, agents)
    if check:
        click.echo("up to date: output/ and the lock match the blueprints")
    else:
        counts = {
            a: sum(1 for c in result.changes if c.action == a)
            for a in ("create", "update", "delete")
        }
        unchanged = "" if result.changes else " (nothing changed)"
        click.echo(
            f"wrote {counts['create']} new, {counts['update']} changed, "
            f"removed {counts['delete']} file(s){unchanged}"
        )


def render_summary(result: Any) -> dict[str, object]:
    return {
        "stale": False,
        "checked": result.checked,
        "changes": [{"path": c.path, "action": c.action} for c in result.changes],
        "warnings": [p.as_dict() for p in result.warnings],
        "agents": {
            name: {
                "mode": agent.mode,
                "project": agent.project,
                "containers": {
                    c.name: {
                        "role": c.role,
                        "image": c.image,
                        "port": c.port,
                        "http_port": c.http_port,
                        "published": list(c.published),
                    }
                    for c in agent.containers
                },
            }
            for name, agent in result.plan.agents.items()
        },
    }


def print_plan_table(the_plan: Any, only: tuple[str, ...] = ()) -> None:
    rows = [("AGENT", "MODE", "CONTAINER", "IMAGE", "PORT")]
    for name, agent in the_plan.agents.items():
        if only and name not in only:
            continue
        for c in agent.containers:
            port = f"{c.port}" + (f" http {c.http_port}" if c.http_port else "")
            if c.published:
                port += " (published)"
            rows.append((name, agent.mode, c.name, c.image, port))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = (
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
    click.echo("\n".join(lines))  # one write: thousands of rows at 1,000s of agents


@cli.command("plan")
@project_options
@click.option("--agent", "agents", multiple=True, metavar="NAME", help="Plan only this agent.")
@click.option("--exit-code", is_flag=True, help="Exit 1 when anything would change (for CI).")
@click.option("--stat", is_flag=True, help="Only the summary, no diffs.")
@json_option
def plan_command(
    project: Any, agents: tuple[str, ...], exit_code: bool, stat: bool, as_json: bool
) -> None:
    """Show what `render` would change, as unified diffs and a summary (alias: diff)."""
    from avrgen.app.diff import plan_diff

    result = plan_diff(project, agents)
    if as_json:
        emit_json(result.as_dict())
    else:
        print_problems(result.warnings)
        print_plan_diff(result, stat)
    if exit_code and result.changed:
        sys.exit(1)


cli.add_command(plan_command, name="diff")

_DIFF_COLORS = {"+": "green", "-": "red", "@": "cyan"}
_AGENT_MARKS = {"added": "+", "changed": "~", "removed": "-"}


def print_plan_diff(result: Any, stat: bool = False) -> None:
    if not stat:
        for file in result.files:
            for line in file.diff.removesuffix("\n").split("\n"):
                head = line[:3] in ("---", "+++")
                color = None if head else _DIFF_COLORS.get(line[:1])
                click.echo(click.style(line, fg=color, bold=head))
        if result.files:
            click.echo()
    for name, action in result.agents.items():
        files = ", ".join(Path(f.path).name for f in result.files_of(name))
        click.echo(f"  {_AGENT_MARKS[action]} {name} ({action}: {files})")
    for port in result.ports:
        click.echo(f"  port {port}")
    click.echo(f"plan: {result.summary()}")


# -- catalog, scaffolding, schema, import (issue 4) -------------------------------------------


@cli.group("templates", invoke_without_command=True)
@project_options
@json_option
@click.pass_context
def templates_cmd(ctx: click.Context, project: Any, as_json: bool) -> None:
    """List the provider catalog (bundled, settings' `catalog:`, --catalog)."""
    if ctx.invoked_subcommand is not None:
        return
    from avrgen.pipeline.catalog import template_info

    catalog = project.catalog
    if as_json:
        emit_json([template_info(catalog[name]) for name in sorted(catalog)])
        return
    rows = [("NAME", "TYPE", "IMAGE", "REQUIRED")]
    rows += [
        (t.name, t.type, t.image_ref, ", ".join(t.required))
        for t in (catalog[name] for name in sorted(catalog))
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@templates_cmd.command("show")
@click.argument("name")
@project_options
@json_option
def templates_show(project: Any, name: str, as_json: bool) -> None:
    """Show one template: image, keys, secrets, URL path, AMI, tools mounts."""
    from avrgen.pipeline.catalog import find_template, template_info

    info = template_info(find_template(project.catalog, name))
    if as_json:
        emit_json(info)
        return
    click.echo(f"{info['name']}: {info['title']} ({info['type']})")
    if info["description"]:
        click.echo(f"  {info['description']}")
    click.echo(f"image:    {info['image']}")
    click.echo(f"url path: {info['url_path'] or '(none)'}")
    click.echo(f"AMI_URL:  {'given (tool calls through avr-ami)' if info['ami'] else 'not given'}")
    mounts = info["tools_mounts"]
    click.echo(f"tools:    {', '.join(mounts) + ' (not mounted by avrgen)' if mounts else 'none'}")
    if info["port"]:
        click.echo(f"port:     {info['port']} in the public compose files (avrgen allocates one)")
    helps: dict[str, str] = info["help"]  # type: ignore[assignment]
    secrets: list[str] = info["secrets"]  # type: ignore[assignment]
    click.echo("required env:")
    for key in info["required"]:  # type: ignore[attr-defined]
        flag = " (secret)" if key in secrets else ""
        click.echo(f"  {key}{flag}" + (f": {helps[key]}" if key in helps else ""))
    optional: dict[str, str] = info["optional"]  # type: ignore[assignment]
    if optional:
        click.echo('optional env (the image\'s defaults, not injected; "" = unset):')
    for key, default in optional.items():
        flag = " (secret)" if key in secrets else ""
        value = json.dumps(default, ensure_ascii=False)
        click.echo(f"  {key}={value}{flag}" + (f": {helps[key]}" if key in helps else ""))


@cli.group()
def new() -> None:
    """Scaffold a commented blueprint file (never overwrites one)."""


@new.command("provider")
@click.option("--template", "template_name", required=True, help="Catalog template name.")
@click.option("--name", required=True, help='Provider name, e.g. "OpenAI Realtime Prod".')
@click.option(
    "--file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write (default: <blueprints>/providers/<slug>.yaml).",
)
@project_options
def new_provider(project: Any, template_name: str, name: str, file: Path | None) -> None:
    """Write a provider blueprint from a catalog template."""
    from avrgen.app.scaffold import new_provider as scaffold_provider

    path = scaffold_provider(project.catalog, template_name, name, project.paths.blueprints, file)
    click.echo(f"wrote {path}")


@new.command("agent")
@click.argument("name")
@click.option("--sts", default=None, metavar="PROVIDER", help="STS provider (sts mode).")
@click.option("--asr", default=None, metavar="PROVIDER", help="ASR provider (pipeline mode).")
@click.option("--llm", default=None, metavar="PROVIDER", help="LLM provider (pipeline mode).")
@click.option("--tts", default=None, metavar="PROVIDER", help="TTS provider (pipeline mode).")
@click.option(
    "--file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write (default: <blueprints>/agents/<name>.yaml).",
)
@project_options
def new_agent(
    project: Any,
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
    path = scaffold_agent(name, chosen, project.paths.blueprints, file)
    click.echo(f"wrote {path}")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of blueprint documents (for editors)."""
    from avrgen.app.schema import schema_text

    click.echo(schema_text(), nl=False)


@cli.command("import")
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
def import_cmd(project: Any, file: Path, dry_run: bool, secrets_file: Path, as_json: bool) -> None:
    """Import providers and agents from the AVR dashboard's REST API JSON."""
    from avrgen.app.importer import import_dashboard

    result = import_dashboard(
        file, project.paths.blueprints, project.catalog, secrets_file, dry_run=dry_run
    )
    if as_json:
        emit_json(
            {
                "written": result.written,
                "files": [str(p) for p in result.files],
                "secrets_file": str(result.secrets_file),
                "secrets": result.secret_names,
                "notes": result.notes,
                "warnings": [w.as_dict() for w in result.warnings],
            }
        )
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


# -- the lifecycle on a Docker Engine ----------------------------------------------------

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


def raise_failures(result: Any) -> None:
    """After the table of an `up` or `deploy`: exit 1 naming each agent that failed."""
    if result.failed:
        errors = "\n".join(a.error or a.agent for a in result.failed)
        raise ComposeError(
            f"{errors}\n{len(result.failed)} of {len(result.agents)} agent(s) failed"
        )


def require_selection(names: tuple[str, ...], all_agents: bool, allow_none: bool = False) -> None:
    if names and all_agents:
        raise click.UsageError("name agents or use --all, not both")
    if not names and not all_agents and not allow_none:
        raise click.UsageError("name at least one agent, or use --all")


def echo_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def print_progress(agent: str, message: str) -> None:
    click.echo(f"[{agent}] {message}", err=True)


def print_containers(statuses: list[Any]) -> None:
    rows = [("AGENT", "CONTAINER", "ROLE", "STATE", "HEALTH", "PORTS")]
    for s in statuses:
        agent = s.agent + (" (orphan)" if s.orphan else "")
        rows.append((agent, s.name, s.role, s.state, s.health or "-", ", ".join(s.ports) or "-"))
    echo_table(rows)


@cli.command()
@project_options
@names_argument
@all_option
@parallel_option
@secrets_file_option
@no_render_option
@click.option(
    "--changed",
    is_flag=True,
    help="Only the agents `avrgen status` finds drifted or not running (no names).",
)
@timeout_option
@no_wait_option
def up(
    project: Any,
    names: tuple[str, ...],
    all_agents: bool,
    parallel: int,
    secrets_file: Path | None,
    no_render: bool,
    changed: bool,
    timeout: int,
    no_wait: bool,
) -> None:
    """Render if stale, create the network, `docker compose up --wait` each agent."""
    if changed and (names or all_agents):
        raise click.UsageError("--changed picks the agents itself: give no names and no --all")
    require_selection(names, all_agents, allow_none=changed)
    options: dict[str, Any] = {
        "parallel": parallel,
        "secrets_file": secrets_file,
        "render": not no_render,
        "timeout": timeout,
        "progress": print_progress,
        "wait": not no_wait,
        "on_wait": say_waiting,
    }
    if changed:
        from avrgen.app.status import up_changed

        picked = up_changed(project, **options)
        for name, state in picked.brought_up:
            click.echo(f"bringing up: {name} ({state})")
        for name, state in picked.left_alone:
            click.echo(f"left alone: {name} ({state})")
        if picked.up is None:
            click.echo("nothing to bring up: no agent is drifted or not running")
            return
        result = picked.up
    else:
        result = project.up(names, all_agents=all_agents, **options)
    if result.rendered:
        click.echo(f"rendered {len(result.rendered)} changed file(s) first", err=True)
    rows = [("AGENT", "RESULT", "CONTAINERS", "PORTS", "TIME")]
    for agent in result.agents:
        healthy = sum(c.ok for c in agent.containers)
        ports = sorted({p.split("->")[0] for c in agent.containers for p in c.ports}, key=int)
        rows.append(
            (
                agent.agent,
                agent.status,
                f"{healthy}/{len(agent.containers)} up",
                ", ".join(ports) or "-",
                f"{agent.seconds:.1f}s",
            )
        )
    echo_table(rows)
    raise_failures(result)


@cli.command()
@project_options
@names_argument
@all_option
@click.option("--network", is_flag=True, help="Also remove the shared network if nothing uses it.")
@click.option("--orphans", is_flag=True, help="Also remove agents no longer in the blueprints.")
def down(
    project: Any, names: tuple[str, ...], all_agents: bool, network: bool, orphans: bool
) -> None:
    """Stop and remove agents' containers (found by their labels)."""
    require_selection(names, all_agents, allow_none=orphans or network)
    result = project.down(names, all_agents=all_agents, network=network, orphans=orphans)
    for s in result.removed:
        click.echo(f"removed {s.name} ({s.agent}, {s.role})")
    if not result.removed:
        click.echo("no containers to remove")
    if result.network:
        click.echo(result.network)


@cli.command()
@project_options
@names_argument
@click.option(
    "--target",
    type=click.Choice(["compose", "swarm"]),
    default=None,
    help="compose: containers; swarm: swarm tasks (default: settings' target).",
)
@json_option
def ps(project: Any, names: tuple[str, ...], target: str | None, as_json: bool) -> None:
    """Containers of the agents: state, health, published ports (target swarm: the agents'
    swarm tasks: node, state, error)."""
    if (target or project.target()) == "swarm":
        tasks = project.tasks(names)
        if as_json:
            emit_json([t.as_dict() for t in tasks])
        elif tasks:
            print_tasks(tasks)
        else:
            click.echo("no avrgen services")
        return
    statuses = project.ps(names)
    if as_json:
        emit_json([s.as_dict() for s in statuses])
    elif statuses:
        print_containers(statuses)
    else:
        click.echo("no avrgen containers")


@cli.command()
@project_options
@click.argument("name")
@click.option("--role", help="Only this container: core, asr, llm, tts or sts.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("--tail", type=click.IntRange(0), default=None, help="Last N lines of each.")
def logs(project: Any, name: str, role: str | None, follow: bool, tail: int | None) -> None:
    """Logs of an agent's containers, merged by time."""
    for line in project.logs(name, role=role, follow=follow, tail=tail):
        click.echo(f"{line.container} | {line.text}")


@cli.command()
@project_options
@names_argument
@all_option
@timeout_option
def restart(project: Any, names: tuple[str, ...], all_agents: bool, timeout: int) -> None:
    """Restart agents' containers and wait until they run again."""
    require_selection(names, all_agents)
    statuses = project.restart(
        names, all_agents=all_agents, timeout=timeout, progress=print_progress
    )
    print_containers(statuses)


# -- the swarm target (issue 7) ---------------------------------------------------------------


def print_tasks(tasks: list[Any]) -> None:
    rows = [("AGENT", "SERVICE", "NODE", "DESIRED", "STATE", "ERROR")]
    for t in tasks:
        agent = t.agent + (" (orphan)" if t.orphan else "")
        rows.append((agent, t.service, t.node or "-", t.desired, t.state, t.error or "-"))
    echo_table(rows)


@cli.command()
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
    project: Any,
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
    require_selection(names, all_agents)
    result = project.deploy(
        names,
        all_agents=all_agents,
        parallel=parallel,
        secrets_file=secrets_file,
        render=not no_render,
        timeout=timeout,
        resolve_image=resolve_image,
        progress=print_progress,
    )
    if result.rendered:
        click.echo(f"rendered {len(result.rendered)} changed file(s) first", err=True)
    rows = [("AGENT", "RESULT", "TASKS", "NODES", "TIME")]
    for agent in result.agents:
        nodes = sorted({t.node for t in agent.tasks if t.node})
        running = sum(t.ok for t in agent.tasks)
        rows.append(
            (
                agent.agent,
                agent.status,
                f"{running}/{len(agent.tasks)} running",
                ", ".join(nodes) or "-",
                f"{agent.seconds:.1f}s",
            )
        )
    echo_table(rows)
    raise_failures(result)


@cli.command()
@project_options
@names_argument
@all_option
@click.option(
    "--network", is_flag=True, help="Also remove the shared overlay network if nothing uses it."
)
@click.option("--orphans", is_flag=True, help="Also remove agents no longer in the blueprints.")
def undeploy(
    project: Any, names: tuple[str, ...], all_agents: bool, network: bool, orphans: bool
) -> None:
    """Remove agents' stacks from the swarm and wait until their containers are gone."""
    require_selection(names, all_agents, allow_none=orphans or network)
    result = project.undeploy(
        names, all_agents=all_agents, network=network, orphans=orphans, progress=print_progress
    )
    for service in result.removed:
        click.echo(f"removed service {service}")
    if not result.removed:
        click.echo("no services to remove")
    if result.network:
        click.echo(result.network)


def error_json(exc: AvrgenError) -> dict[str, object]:
    """A user error for `--json` readers: the message, and each problem of invalid blueprints."""
    problems = exc.problems if isinstance(exc, BlueprintError) else []
    return {"error": str(exc), "problems": [p.as_dict() for p in problems]}


@cli.command()
@project_options
@click.argument("names", nargs=-1, metavar="[NAME]...")
@secrets_file_option
@click.option("--exit-code", is_flag=True, help="Exit 1 unless every agent is in sync.")
@json_option
def status(
    project: Any,
    names: tuple[str, ...],
    secrets_file: Path | None,
    exit_code: bool,
    as_json: bool,
) -> None:
    """Compare running agents with the blueprints: in sync, drifted, not running, orphaned."""
    from avrgen.app.status import status as agent_status

    report = agent_status(project, names, secrets_file=secrets_file)
    if as_json:
        emit_json(report.as_dict())
    else:
        print_status(report)
    if exit_code and not report.in_sync:
        sys.exit(1)


def print_status(report: Any) -> None:
    rows = [("AGENT", "STATE", "DETAILS")]
    for agent in report.agents:
        if agent.state == "orphaned":
            names = ", ".join(c.name for c in agent.containers)
            details = [f"{names}: not in the blueprints (`avrgen down --orphans` removes them)"]
        elif agent.differences and all(d.kind == "missing" for d in agent.differences):
            details = ["no containers (never started, or removed)"]
        elif agent.differences:
            details = [str(d) for d in agent.differences]
        else:
            running = sum(c.state == "running" for c in agent.containers)
            details = [f"{running} container(s) running"]
        for index, detail in enumerate(details):
            first = index == 0
            rows.append((agent.agent if first else "", agent.state if first else "", detail))
    if len(rows) > 1:
        echo_table(rows)
    if report.unchecked_secrets:
        click.echo(
            f"note: secret(s) not set here, values not compared: "
            f"{', '.join(report.unchecked_secrets)}"
        )
    click.echo(f"status: {report.summary()}")


def main() -> None:
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except AvrgenError as exc:
        click.echo(f"error: {exc}" if not isinstance(exc, BlueprintError) else str(exc), err=True)
        if "--json" in sys.argv[1:]:  # stdout stays parseable for a machine reader
            emit_json(error_json(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    if isinstance(code, int) and code:  # a command's ctx.exit(N) keeps its exit code
        sys.exit(code)
