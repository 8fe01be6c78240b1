"""Environments from the command line: `-e NAME` (and AVRGEN_ENVIRONMENT) overlays
environments/NAME/ on the base, renders into output/NAME/ with its own lock; the base's
output is untouched; three trees differ only where the overlays say."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
from blueprint_folder import write_blueprints
from conftest import Avrgen

BASE = {
    "blueprints/settings.yaml": "kind: settings\nnetwork: {name: avr}\n",
    "blueprints/providers.yaml": """\
kind: provider
name: Voice
type: STS
config:
  image: example/sts:1.0
  env:
    VOICE_API_KEY: {secret: VOICE_API_KEY}
    PROMPT: Be brief.
""",
    "blueprints/agents.yaml": """\
kind: agent
name: front-desk
mode: sts
providers: {sts: Voice}
env: {LOG_LEVEL: info}
core: {publish: true}
---
kind: agent
name: back-office
mode: sts
providers: {sts: Voice}
core: {publish: true}
""",
}
STAGING = {
    "environments/staging/agents.yaml": """\
kind: agent
name: front-desk
env: {LOG_LEVEL: debug}
""",
}
PROD = {
    "environments/prod/providers.yaml": """\
kind: provider
name: Voice
config:
  image: example/sts:2.0
""",
    "environments/prod/agents.yaml": """\
kind: agent
name: back-office
core: {publish: null}
""",
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_blueprints(tmp_path, {**BASE, **STAGING, **PROD})


def tree(folder: Path) -> dict[str, str]:
    """Every file below `folder` that is not in an environment's subfolder."""
    return {
        p.relative_to(folder).as_posix(): p.read_text()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.relative_to(folder).parts[0] not in ("staging", "prod")
    }


SET_LABEL = '"avrgen.set": '  # an environment is a set of its own: its lock's set id
HASH_LABEL = '"avrgen.content-hash": '  # the hash of a service, which holds the set label


def changed_lines(before: str, after: str) -> list[str]:
    """The lines that differ, but for the set label (checked on its own) and the content
    hashes, which change with it."""
    return [
        line
        for line in difflib.ndiff(before.splitlines(), after.splitlines())
        if line[:1] in "+-" and SET_LABEL not in line and HASH_LABEL not in line
    ]


def differences(base: dict[str, str], other: dict[str, str]) -> dict[str, list[str]]:
    assert set(base) == set(other)
    found = {name: changed_lines(base[name], other[name]) for name in base}
    return {name: lines for name, lines in found.items() if lines}


def test_three_trees_differ_only_where_the_overlays_say(avrgen: Avrgen, project: Path) -> None:
    for args in ((), ("-e", "staging"), ("-e", "prod")):
        result = avrgen("render", *args, cwd=project)
        assert result.exit_code == 0, result.stderr
    output = project / "output"
    base, staging, prod = tree(output), tree(output / "staging"), tree(output / "prod")
    assert "front-desk/docker-compose.yml" in base
    assert differences(base, staging) == {
        "front-desk/sts.env": ['- LOG_LEVEL="info"', '+ LOG_LEVEL="debug"'],
    }
    prod_changes = differences(base, prod)
    assert set(prod_changes) == {"front-desk/docker-compose.yml", "back-office/docker-compose.yml"}
    assert prod_changes["front-desk/docker-compose.yml"] == [
        '-     image: "example/sts:1.0"',
        '+     image: "example/sts:2.0"',
    ]
    back = prod_changes["back-office/docker-compose.yml"]
    assert back[:2] == ['-     image: "example/sts:1.0"', '+     image: "example/sts:2.0"']
    assert [line[:1] for line in back[2:]] == ["-"] * 3  # ports: and its two mappings
    assert back[2] == "-     ports:"
    # each environment its own lock beside its overlay (the base's ports; a set id of its
    # own: an environment is a set of its own), the base's where it was
    base_lock = json.loads((project / "blueprints" / "avrgen.lock").read_text())
    set_ids = {base_lock.get("set")}
    for name in ("staging", "prod"):
        lock = json.loads((project / "environments" / name / "avrgen.lock").read_text())
        assert lock["agents"] == base_lock["agents"]
        set_ids.add(lock.get("set"))
    assert len(set_ids) == 3
    for folder, name in ((output, None), (output / "staging", "staging")):
        lock_folder = project / ("environments/" + name if name else "blueprints")
        set_id = json.loads((lock_folder / "avrgen.lock").read_text())["set"]
        compose = (folder / "front-desk" / "docker-compose.yml").read_text()
        labels = [line.strip() for line in compose.splitlines() if SET_LABEL in line]
        assert labels == [f'{SET_LABEL}"{set_id}"'] * 2


def test_the_base_render_is_byte_for_byte_what_it_was(avrgen: Avrgen, tmp_path: Path) -> None:
    lock = {"blueprints/avrgen.lock": '{"version": 1, "set": "one-set", "agents": {}}\n'}
    plain = write_blueprints(tmp_path / "plain", {**BASE, **lock})
    with_envs = write_blueprints(tmp_path / "envs", {**BASE, **STAGING, **PROD, **lock})
    for folder in (plain, with_envs):
        assert avrgen("render", cwd=folder).exit_code == 0
    assert tree(plain / "output") == tree(with_envs / "output")
    assert not (with_envs / "output" / "staging").exists()


def test_renders_never_prune_each_other(avrgen: Avrgen, project: Path) -> None:
    for args in (("-e", "staging"), (), ("-e", "prod"), ()):
        result = avrgen("render", *args, cwd=project)
        assert result.exit_code == 0, result.stderr
        assert "removed 0 file(s)" in result.stdout
    for args in ((), ("-e", "staging"), ("-e", "prod")):
        assert avrgen("render", "--check", *args, cwd=project).exit_code == 0
    assert (project / "output" / "staging" / "front-desk" / "sts.env").is_file()
    assert (project / "output" / "front-desk" / "sts.env").is_file()


def test_an_agent_gone_from_the_environment_is_pruned_there_only(
    avrgen: Avrgen, project: Path
) -> None:
    overlay = project / "environments" / "staging" / "extra.yaml"
    overlay.write_text("kind: agent\nname: trial\nmode: sts\nproviders: {sts: Voice}\n")
    assert avrgen("render", "-e", "staging", cwd=project).exit_code == 0
    assert avrgen("render", cwd=project).exit_code == 0
    assert (project / "output" / "staging" / "trial" / "sts.env").is_file()
    assert not (project / "output" / "trial").exists()
    assert "trial" in (project / "environments" / "staging" / "avrgen.lock").read_text()
    assert "trial" not in (project / "blueprints" / "avrgen.lock").read_text()
    overlay.unlink()
    result = avrgen("render", "-e", "staging", cwd=project)
    assert result.exit_code == 0, result.stderr
    assert "removed 3 file(s)" in result.stdout
    assert not (project / "output" / "staging" / "trial").exists()
    assert (project / "output" / "front-desk" / "sts.env").is_file()


def test_environment_from_the_environment_variable(
    avrgen: Avrgen, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from avrgen.cli.main import cli

    monkeypatch.chdir(project)
    result = CliRunner().invoke(cli, ["render"], env={"AVRGEN_ENVIRONMENT": "staging"})
    assert result.exit_code == 0, result.output
    assert (project / "output" / "staging" / "front-desk" / "sts.env").is_file()
    assert not (project / "output" / "front-desk").exists()


def test_an_unknown_environment_suggests_the_nearest(avrgen: Avrgen, project: Path) -> None:
    result = avrgen("validate", "-e", "stagin", cwd=project)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: no environment named 'stagin' (no folder environments/stagin/) "
        "(did you mean 'staging'?); environments: prod, staging\n"
    )
    result = avrgen("validate", "-e", "../blueprints", cwd=project)
    assert result.exit_code == 1
    assert "invalid environment name '../blueprints'" in result.stderr


def test_environments_sit_beside_the_blueprint_folder(avrgen: Avrgen, project: Path) -> None:
    result = avrgen("validate", "-b", str(project / "blueprints"), "-e", "prod")
    assert result.exit_code == 0, result.stderr
    inside = project / "blueprints"
    result = avrgen("validate", "-b", ".", "-e", "prod", cwd=inside)  # ../environments
    assert result.exit_code == 0, result.stderr


def test_overlay_errors_name_the_overlay_file_and_line(avrgen: Avrgen, project: Path) -> None:
    (project / "environments" / "prod" / "agents.yaml").write_text(
        "kind: agent\nname: back-office\nmode: stss\ncore:\n  publish: {host_ip: nowhere}\n"
    )
    result = avrgen("validate", "--json", "-e", "prod", cwd=project)
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    where = {(p["file"], p["line"], p["path"]) for p in problems}
    assert ("environments/prod/agents.yaml", 3, "mode") in where
    assert ("environments/prod/agents.yaml", 5, "core.publish.host_ip") in where


def test_a_base_agent_named_like_an_environment_is_an_error(avrgen: Avrgen, project: Path) -> None:
    (project / "environments" / "front-desk").mkdir()
    result = avrgen("validate", cwd=project)
    assert result.exit_code == 1
    assert "blueprints/agents.yaml:2: name: agent 'front-desk' has the name of an environment" in (
        result.stderr
    )
    assert avrgen("validate", "-e", "staging", cwd=project).exit_code == 0


def test_all_environments_validate_and_check_pass(avrgen: Avrgen, project: Path) -> None:
    result = avrgen("validate", "--all-environments", cwd=project)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "base: ok: 2 agent(s), 1 provider(s), 0 warning(s)",
        "environment prod: ok: 2 agent(s), 1 provider(s), 0 warning(s)",
        "environment staging: ok: 2 agent(s), 1 provider(s), 0 warning(s)",
    ]
    result = avrgen("render", "--check", "--all-environments", cwd=project)
    assert result.exit_code == 1  # nothing rendered yet: all three stale
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        "base",
        "environment prod",
        "environment staging",
    ]
    assert avrgen("render", "--all-environments", cwd=project).exit_code == 0
    result = avrgen("render", "--check", "--all-environments", cwd=project)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "base: up to date",
        "environment prod: up to date",
        "environment staging: up to date",
    ]


def test_all_environments_report_every_problem_and_exit_1(avrgen: Avrgen, project: Path) -> None:
    assert avrgen("render", "--all-environments", cwd=project).exit_code == 0
    (project / "environments" / "prod" / "agents.yaml").write_text(
        "kind: agent\nname: back-office\nmode: stss\n"
    )
    (project / "environments" / "staging" / "agents.yaml").write_text(
        "kind: agent\nname: front-desk\nenv: {LOG_LEVEL: trace}\n"
    )
    (project / "environments" / "Odd").mkdir()
    result = avrgen("validate", "--all-environments", cwd=project)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "base: ok: 2 agent(s), 1 provider(s), 0 warning(s)",
        "environment prod: 1 error(s)",
        "environment staging: ok: 2 agent(s), 1 provider(s), 0 warning(s)",
        "environment Odd: invalid",
    ]
    assert "environments/prod/agents.yaml:3: mode:" in result.stderr
    assert "environments/Odd/: not an environment name" in result.stderr
    result = avrgen("render", "--check", "--all-environments", "--json", cwd=project)
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    runs = {run["environment"]: run for run in document["environments"]}
    assert runs[None]["checked"] is True and runs[None]["changes"] == []
    assert runs["prod"]["stale"] is False
    assert runs["prod"]["problems"][0]["file"] == "environments/prod/agents.yaml"
    assert runs["staging"]["stale"] is True
    assert "output/staging/front-desk/sts.env" in runs["staging"]["error"]
    assert runs["Odd"]["problems"] == []


def test_all_environments_usage_errors(avrgen: Avrgen, project: Path) -> None:
    result = avrgen("validate", "--all-environments", "-e", "prod", cwd=project)
    assert result.exit_code == 2
    result = avrgen("render", "--all-environments", "--agent", "front-desk", cwd=project)
    assert result.exit_code == 2


def test_all_environments_without_environments_is_the_base(avrgen: Avrgen, tmp_path: Path) -> None:
    folder = write_blueprints(tmp_path, BASE)
    result = avrgen("validate", "--all-environments", "--json", cwd=folder)
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["valid"] is True
    assert [run["environment"] for run in document["environments"]] == [None]


def test_the_render_cache_sees_overlay_and_lock_edits(avrgen: Avrgen, project: Path) -> None:
    env_file = project / "output" / "staging" / "front-desk" / "sts.env"
    assert avrgen("render", "-e", "staging", cwd=project).exit_code == 0
    result = avrgen("render", "-e", "staging", cwd=project)
    assert "(nothing changed)" in result.stdout
    overlay = project / "environments" / "staging" / "agents.yaml"
    overlay.write_text(overlay.read_text().replace("debug", "trace"))
    result = avrgen("render", "-e", "staging", cwd=project)
    assert "wrote 0 new, 1 changed" in result.stdout
    assert 'LOG_LEVEL="trace"' in env_file.read_text()
    lock = project / "environments" / "staging" / "avrgen.lock"
    data = json.loads(lock.read_text())
    data["agents"]["front-desk"]["sts"] = 6999
    lock.write_text(json.dumps(data))
    result = avrgen("render", "-e", "staging", cwd=project)  # a hit would leave PORT as it was
    assert result.exit_code == 0, result.stderr
    assert 'PORT="6999"' in env_file.read_text()
