"""The command line: help, JSON that parses, suggestions for unknown names, exit codes
0 (ok), 1 (a user error) and 2 (usage), and never a traceback for a user error.
"""

from __future__ import annotations

import gc
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import click
import pytest
from conftest import BUNDLED_OUTPUT, Avrgen

from avrgen.cli.blueprint import no_cycle_collection
from avrgen.cli.main import cli

Process = Callable[..., CompletedProcess[str]]


@pytest.fixture
def project(bundled: Path) -> Path:
    """tmp_path with a copy of the bundled blueprints and their committed output."""
    shutil.copytree(BUNDLED_OUTPUT, bundled.parent / "output")
    return bundled.parent


COMMANDS = cli.list_commands(click.Context(cli))  # imported when run (cli/lazy.py)


@pytest.mark.parametrize("args", [["--help"], ["-h"], *[[c, "--help"] for c in COMMANDS]])
def test_help(avrgen: Avrgen, args: list[str]) -> None:
    result = avrgen(*args)
    assert result.exit_code == 0, result.stderr
    first = result.stdout.splitlines()[0]  # click names the program after how it was started
    assert first.startswith("Usage: ") and "avrgen" in first
    assert result.stderr == ""


def test_help_lists_every_command_with_its_first_line(avrgen: Avrgen) -> None:
    listed = avrgen("--help").stdout.partition("Commands:\n")[2].splitlines()
    assert [line.split()[0] for line in listed] == COMMANDS
    assert len(COMMANDS) == 19
    for line, name in zip(listed, COMMANDS, strict=True):
        command = cli.get_command(click.Context(cli), name)
        assert command is not None and command.name in (name, "plan")  # diff: plan's alias
        first = line.split(maxsplit=1)[1].removesuffix("...")
        assert (command.help or "").startswith(first)


def test_help_lists_the_core_commands_and_options(avrgen: Avrgen) -> None:
    assert {"validate", "render"} <= set(avrgen("--help").stdout.split())
    render_help = avrgen("render", "--help").stdout
    for option in ("--blueprints", "-b", "--output", "-o", "--check", "--agent", "--json"):
        assert option in render_help


def test_version(avrgen: Avrgen) -> None:
    from avrgen import __version__

    result = avrgen("--version")
    assert result.exit_code == 0
    assert result.stdout == f"avrgen, version {__version__}\n"


def test_validate_ok(avrgen: Avrgen, project: Path) -> None:
    result = avrgen("validate", cwd=project)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "ok: 5 agent(s), 7 provider(s), 0 warning(s)\n"


def test_validate_json(avrgen: Avrgen, project: Path) -> None:
    result = avrgen("validate", "--json", cwd=project)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["valid"] is True
    assert data["problems"] == []
    assert data["agents"] == ["billing", "bookings", "concierge", "opening-hours", "support-line"]
    assert len(data["providers"]) == 7


def test_validate_json_of_an_invalid_blueprint(avrgen: Avrgen, repo_root: Path) -> None:
    result = avrgen("validate", "--json", "-b", "tests/fixtures/invalid/unknown-kind")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["valid"] is False
    assert [p["line"] for p in data["problems"]] == [1, 6]
    assert data["problems"][0]["file"] == "tests/fixtures/invalid/unknown-kind/blueprint.yaml"


def test_render_json(avrgen: Avrgen, project: Path) -> None:
    result = avrgen("render", "--json", cwd=project)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["stale"] is False
    assert data["changes"] == []
    billing = data["agents"]["billing"]
    assert billing["mode"] == "pipeline"
    assert billing["project"] == "avr-billing"
    core = billing["containers"]["avr-core-billing"]
    assert core["role"] == "core"
    assert core["published"] == [core["port"], core["http_port"]]


def test_render_json_lists_changes(avrgen: Avrgen, bundled: Path) -> None:
    result = avrgen("render", "--json", cwd=bundled.parent)
    assert result.exit_code == 0, result.stderr
    changes = json.loads(result.stdout)["changes"]
    assert {"path": "output/billing/docker-compose.yml", "action": "create"} in changes


def test_render_check_json(avrgen: Avrgen, project: Path) -> None:
    fresh = avrgen("render", "--check", "--json", cwd=project)
    assert fresh.exit_code == 0, fresh.stderr
    assert json.loads(fresh.stdout)["checked"] is True
    (project / "output" / "billing" / "core.env").unlink()
    stale = avrgen("render", "--check", "--json", cwd=project)
    assert stale.exit_code == 1
    data = json.loads(stale.stdout)
    assert data["stale"] is True
    assert "output/billing/core.env" in data["message"]


def test_render_summary_table(avrgen: Avrgen, project: Path) -> None:
    result = avrgen("render", cwd=project)
    assert result.exit_code == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["AGENT", "MODE", "CONTAINER", "IMAGE", "PORT"]
    assert any(r.split()[:3] == ["billing", "pipeline", "avr-asr-billing"] for r in rows)
    assert "(nothing changed)" in rows[-1]


def test_unknown_agent_suggests_the_nearest(avrgen: Avrgen, project: Path) -> None:
    result = avrgen("render", "--agent", "suport-line", cwd=project)
    assert result.exit_code == 1
    assert result.stderr == "error: no agent named 'suport-line' (did you mean 'support-line'?)\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["render", "--bogus"],
        ["no-such-command"],
        ["render", "--agent"],
        ["validate", "extra-argument"],
    ],
)
def test_usage_errors_exit_2(avrgen: Avrgen, project: Path, args: list[str]) -> None:
    result = avrgen(*args, cwd=project)
    assert result.exit_code == 2
    assert "Usage:" in result.stderr or "Error:" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", "-b", "no-such-folder"], "no-such-folder: blueprint folder not found"),
        (["render", "-b", "no-such-folder"], "no-such-folder: blueprint folder not found"),
        (["render", "--check", "-o", "elsewhere"], "output is stale"),
    ],
)
def test_user_errors_exit_1(avrgen: Avrgen, project: Path, args: list[str], message: str) -> None:
    result = avrgen(*args, cwd=project)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_env_var_names_the_blueprint_folder(avrgen_process: Process, project: Path) -> None:
    (project / "blueprints").rename(project / "elsewhere")
    assert avrgen_process("validate", cwd=project).returncode == 1
    ran = avrgen_process("validate", cwd=project, env={"AVRGEN_BLUEPRINTS": "elsewhere"})
    assert ran.returncode == 0, ran.stderr


def test_a_real_process_exit_codes(avrgen_process: Process, project: Path) -> None:
    ok = avrgen_process("render", "--check", cwd=project)
    assert ok.returncode == 0, ok.stderr
    invalid = avrgen_process("validate", "-b", "tests/fixtures/invalid/several-errors")
    assert invalid.returncode == 1
    assert "Traceback" not in invalid.stderr
    assert invalid.stderr.endswith("6 error(s)\n")
    usage = avrgen_process("render", "--nope", cwd=project)
    assert usage.returncode == 2


def test_render_json_of_an_invalid_blueprint_still_parses(avrgen: Avrgen, tmp_path: Path) -> None:
    result = avrgen(
        "render", "--json", "-b", "tests/fixtures/invalid/unknown-kind", "-o", str(tmp_path)
    )
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert [(p["line"], p["path"]) for p in data["problems"]] == [(1, "kind"), (6, "kind")]
    assert "unknown kind 'agnet'" in result.stderr  # a human still reads it on stderr


def test_json_user_error_still_parses(avrgen: Avrgen, project: Path) -> None:
    result = avrgen("render", "--json", "--agent", "suport-line", cwd=project)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data == {
        "error": "no agent named 'suport-line' (did you mean 'support-line'?)",
        "problems": [],
    }


def test_json_error_follows_the_option_not_sys_argv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`main(args)` decides from the parsed --json option, whatever sys.argv holds."""
    from avrgen.cli.main import main

    monkeypatch.setattr(sys, "argv", ["avrgen", "--json"])
    with pytest.raises(SystemExit) as plain:
        main(["render", "-b", str(tmp_path / "missing")])
    assert plain.value.code == 1
    assert capsys.readouterr().out == ""

    monkeypatch.setattr(sys, "argv", ["avrgen"])
    with pytest.raises(SystemExit) as machine:
        main(["render", "--json", "-b", str(tmp_path / "missing")])
    assert machine.value.code == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"] in captured.err


def test_a_failure_told_as_json_is_told_once(avrgen: Avrgen) -> None:
    result = avrgen("validate", "--json", "-b", "tests/fixtures/invalid/unknown-kind")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["valid"] is False
    assert result.stderr == ""


def test_ctrl_c_during_a_command_exits_130(
    monkeypatch: pytest.MonkeyPatch, avrgen: Avrgen, tmp_path: Path
) -> None:
    """click turns a KeyboardInterrupt inside a command into its Abort: avrgen still says
    `interrupted` and exits 130 (128 + SIGINT), as a shell expects of a Ctrl-C."""
    from avrgen.app import render as use_case

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(use_case, "render", interrupted)
    result = avrgen("render", "-o", str(tmp_path / "out"))
    assert (result.exit_code, result.stdout) == (130, "")
    assert result.stderr.strip() == "interrupted"
    assert not (tmp_path / "out").exists()


def test_what_validate_or_render_built_is_not_scanned_when_collection_resumes() -> None:
    """The cyclic collector is off while the command runs; after it, what was built joins
    the oldest generation, so resuming scans none of it (at 1,000 agents that scan took
    0.08 s); a collector that was off stays off."""
    assert gc.isenabled()
    with no_cycle_collection():
        assert not gc.isenabled()
        built = [[n] for n in range(10_000)]
    assert gc.isenabled()
    assert gc.get_count()[0] < 1_000  # not 10,000 young objects waiting for a scan
    assert any(o is built for o in gc.get_objects(generation=2))
    gc.disable()
    try:
        with no_cycle_collection():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
