"""`avrgen plan` / `avrgen diff`: what render would change, per file, per agent and per port,
with secret-looking values masked. No engine needed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from blueprint_folder import write_blueprints
from conftest import BUNDLED_BLUEPRINTS, Avrgen
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avrgen.app.diff import MASK, mask_secrets, plan_diff, port_changes, unified_diff
from avrgen.app.project import Paths, Project
from avrgen.app.render import render
from avrgen.cli import serialize
from avrgen.fs.lock import read_lock

SETTINGS = """\
kind: settings
network: {name: avrgen-plan-test}
ports: {core: 15000-15099, http: 17000-17099, providers: 16000-16099}
core: {image: example/core:1}
"""
PROVIDERS = """\
kind: provider
name: alpha-sts
type: STS
config:
  image: example/sts-alpha:1
  env:
    ALPHA_API_KEY: {secret: ALPHA_API_KEY}
    ALPHA_VOICE: nova
---
kind: provider
name: beta-sts
type: STS
config:
  image: example/sts-beta:1
  env: {BETA_MODEL: small}
"""
AGENTS = """\
kind: agent
name: one
mode: sts
providers: {sts: alpha-sts}
core: {publish: true}
---
kind: agent
name: two
mode: sts
providers: {sts: beta-sts}
"""


def write_set(folder: Path, agents: str = AGENTS, providers: str = PROVIDERS) -> None:
    files = {"settings.yaml": SETTINGS, "providers.yaml": providers, "agents.yaml": agents}
    write_blueprints(folder, files)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Two agents, rendered: output/ and the lock match the blueprints."""
    write_set(tmp_path / "blueprints")
    project = Project(Paths(tmp_path / "blueprints", tmp_path / "output"))
    render(project)
    return project


def snapshot_tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_nothing_to_change_after_render(project: Project) -> None:
    result = plan_diff(project)
    assert not result.changed
    assert result.files == [] and result.agents == {} and result.ports == []
    assert result.summary() == "no changes: output/ and the lock match the blueprints"


def test_fresh_project_adds_every_agent_and_port(tmp_path: Path) -> None:
    write_set(tmp_path / "blueprints")
    project = Project(Paths(tmp_path / "blueprints", tmp_path / "output"))
    result = plan_diff(project)
    assert result.agents == {"one": "added", "two": "added"}
    assert {(p.agent, p.role, p.kind) for p in result.ports} == {
        (a, r, "new") for a in ("one", "two") for r in ("core", "http", "sts")
    }
    assert result.summary() == "2 agents added; ports: 6 new"
    lock = [f for f in result.files if f.agent is None]
    assert [(f.path, f.action) for f in lock] == [
        ((tmp_path / "blueprints/avrgen.lock").as_posix(), "create")
    ]
    assert lock[0].diff.startswith("--- /dev/null\n+++ ")
    assert not (tmp_path / "output").exists(), "plan must write nothing"
    assert not (tmp_path / "blueprints/avrgen.lock").exists()


def test_changed_provider_env_touches_only_that_agents_env_file(project: Project) -> None:
    folder = project.paths.blueprints
    (folder / "providers.yaml").write_text(
        PROVIDERS.replace("BETA_MODEL: small", "BETA_MODEL: large")
    )
    before = snapshot_tree(project.paths.output)

    result = plan_diff(project)

    assert result.agents == {"two": "changed"}
    assert [(Path(f.path).relative_to(project.paths.output).as_posix(), f.action)
            for f in result.files] == [("two/sts.env", "update")]  # fmt: skip
    diff = result.files[0].diff
    assert '-BETA_MODEL="small"\n+BETA_MODEL="large"\n' in diff
    assert diff.count("\n-") == 1 and diff.count("\n+") == 2  # the +++ header, one line
    assert result.ports == []
    assert result.summary() == "1 agent changed; ports unchanged"
    assert snapshot_tree(project.paths.output) == before, "plan must touch no file"


def test_removed_agent_frees_its_ports_and_moves_no_other(project: Project) -> None:
    agents = AGENTS.split("---\n")[0] + "---\n" + AGENTS.split("---\n")[1].replace("two", "three")
    (project.paths.blueprints / "agents.yaml").write_text(agents)
    result = plan_diff(project)
    assert result.agents == {"three": "added", "two": "removed"}
    kinds = {(p.agent, p.kind) for p in result.ports}
    assert kinds == {("three", "new"), ("two", "freed")}
    assert all(p.agent != "one" for p in result.ports)
    assert result.summary() == "1 agent added, 1 removed; ports: 3 new, 3 freed"
    removed = [f for f in result.files if f.agent == "two"]
    assert {f.action for f in removed} == {"delete"}
    assert all("+++ /dev/null" in f.diff for f in removed)


def test_pinned_port_is_reported_as_moved(project: Project) -> None:
    old = project.plan()[0].lock["one"]["core"]
    pin = 15000 if old != 15000 else 15001
    agents = AGENTS.replace(
        "core: {publish: true}", f"core: {{publish: true}}\nports: {{core: {pin}}}"
    )
    (project.paths.blueprints / "agents.yaml").write_text(agents)
    result = plan_diff(project)
    assert [str(p) for p in result.ports] == [f"moved  one.core {old} -> {pin}"]
    assert result.agents == {"one": "changed"}
    changed = {Path(f.path).name for f in result.files}
    assert changed == {"core.env", "docker-compose.yml", "avrgen.lock"}
    assert result.summary() == "1 agent changed; ports: 1 moved"


def test_agent_filter_plans_only_that_agent(project: Project) -> None:
    (project.paths.blueprints / "providers.yaml").write_text(
        PROVIDERS.replace("ALPHA_VOICE: nova", "ALPHA_VOICE: echo").replace("small", "large")
    )
    assert set(plan_diff(project).agents) == {"one", "two"}
    assert set(plan_diff(project, ["one"]).agents) == {"one"}


def test_literal_secret_value_never_shown(project: Project) -> None:
    secret = "sk-live-Zq81hV0aTn"
    providers = PROVIDERS.replace("BETA_MODEL: small", f"BETA_MODEL: small, BETA_API_KEY: {secret}")
    (project.paths.blueprints / "providers.yaml").write_text(providers)
    result = plan_diff(project)
    diff = result.files[0].diff
    assert f"+BETA_API_KEY={MASK}\n" in diff
    assert secret not in json.dumps(serialize.plan_diff(result))

    # once rendered, changing it shows the key as changed, still without either value
    render(project)
    rotated = "sk-live-Rt55Ab00Qq"
    (project.paths.blueprints / "providers.yaml").write_text(providers.replace(secret, rotated))
    result = plan_diff(project)
    diff = result.files[0].diff
    assert f"-BETA_API_KEY={MASK}\n+BETA_API_KEY={MASK}\n" in diff
    assert secret not in diff and rotated not in diff


def test_hand_edited_secret_in_output_is_masked(project: Project) -> None:
    env = project.paths.output / "two" / "sts.env"
    env.write_text(env.read_text() + 'BETA_TOKEN="hunter2-typed-by-hand"\n')
    result = plan_diff(project)
    assert [f.path for f in result.files] == [env.as_posix()]
    assert f"-BETA_TOKEN={MASK}" in result.files[0].diff
    assert "hunter2" not in result.files[0].diff


def test_secret_references_stay_visible(project: Project) -> None:
    shutil.rmtree(project.paths.output / "one")
    result = plan_diff(project)
    compose = next(f for f in result.files if f.path.endswith("one/docker-compose.yml"))
    assert '+      ALPHA_API_KEY: "${ALPHA_API_KEY:?secret ALPHA_API_KEY is not set}"' in (
        compose.diff
    )
    assert result.agents == {"one": "added"}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('OPENAI_API_KEY="sk-1"', f"OPENAI_API_KEY={MASK}"),
        ("WEBHOOK_SECRET=plain", f"WEBHOOK_SECRET={MASK}"),
        ('      GH_TOKEN: "abc"', f"      GH_TOKEN: {MASK}"),
        ('  "DB_PASSWORD": "x",', f'  "DB_PASSWORD": {MASK},'),
        ('      X_API_KEY: "${X_API_KEY:?secret X_API_KEY is not set}"', None),
        ('OPENAI_API_KEY=""', f"OPENAI_API_KEY={MASK}"),
        ('OPENAI_MODEL="gpt-4o"', None),
        ('SECRET_SAUCE="ketchup"', None),  # only the suffixes validate warns about
        ("# OPENAI_API_KEY is set at up", None),
        ("", None),
    ],
)
def test_mask_secrets(line: str, expected: str | None) -> None:
    assert mask_secrets(line) == (line if expected is None else expected)


@settings(
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    key=st.from_regex(r"[A-Z][A-Z0-9_]{0,10}(_API_KEY|_SECRET|_TOKEN|_PASSWORD)", fullmatch=True),
    old=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=6),
    new=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=6),
)
def test_secret_looking_values_never_reach_a_diff(key: str, old: str, new: str) -> None:
    from avrgen.pipeline.escape import dotenv_value

    before = f"# head\nA=1\n{key}={dotenv_value(old)}\nB=2\n"
    after = f"# head\nA=1\n{key}={dotenv_value(new)}\nB=2\n"
    diff = unified_diff(before, after, "a", "b")
    body = diff.splitlines()[2:]  # after the ---/+++ header
    allowed = {f"-{key}={MASK}", f"+{key}={MASK}", " # head", " A=1", " B=2"}
    assert {line for line in body if not line.startswith("@@")} <= allowed
    if old != new:
        assert f"-{key}={MASK}\n+{key}={MASK}\n" in diff
    else:
        assert diff == ""


def test_port_changes() -> None:
    old = {"a": {"core": 1, "http": 2, "sts": 7}, "gone": {"core": 3}}
    new = {"a": {"core": 1, "http": 5, "sts": 8}, "b": {"core": 3}}
    pins = {"a": {"http": 5}}  # http moved to its pin; sts was renumbered
    assert [(p.agent, p.role, p.kind, p.old, p.new) for p in port_changes(old, new, pins)] == [
        ("a", "http", "moved", 2, 5),
        ("a", "sts", "renumbered", 7, 8),
        ("b", "core", "new", None, 3),
        ("gone", "core", "freed", 3, None),
    ]


def test_a_range_change_renumbers_and_keeps_what_still_fits(project: Project) -> None:
    """Narrowing a range moves only the ports outside it, and plan calls them renumbered
    (moved is for pins)."""
    old = read_lock(project.paths.blueprints)
    (keep, low), (move, _) = sorted(((a, p["core"]) for a, p in old.items()), key=lambda x: x[1])
    narrow = SETTINGS.replace("core: 15000-15099", f"core: {low}-{low + 1}")
    (project.paths.blueprints / "settings.yaml").write_text(narrow)
    result = plan_diff(project)
    [change] = result.ports
    assert (change.agent, change.role, change.kind, change.old) == (
        move,
        "core",
        "renumbered",
        old[move]["core"],
    )
    assert change.new == low + 1 and result.plan.lock[keep]["core"] == low
    assert str(change) == f"renumbered {move}.core {old[move]['core']} -> {low + 1}"
    assert result.summary().endswith("; ports: 1 renumbered")


# -- the CLI ----------------------------------------------------------------------------------


def test_cli_exit_code_and_alias(avrgen: Avrgen, project: Project) -> None:
    args = ("-b", str(project.paths.blueprints), "-o", str(project.paths.output))
    clean = avrgen("plan", "--exit-code", *args)
    assert clean.exit_code == 0, clean.stderr
    assert clean.stdout == "plan: no changes: output/ and the lock match the blueprints\n"

    (project.paths.blueprints / "providers.yaml").write_text(PROVIDERS.replace("small", "large"))
    for command in ("plan", "diff"):
        changed = avrgen(command, "--exit-code", *args)
        assert changed.exit_code == 1, changed.stderr
        assert '+BETA_MODEL="large"' in changed.stdout
        assert "  ~ two (changed: sts.env)\n" in changed.stdout
        assert changed.stdout.endswith("plan: 1 agent changed; ports unchanged\n")
    assert avrgen("plan", *args).exit_code == 0  # without --exit-code a change is not a failure
    stat = avrgen("plan", "--stat", *args)
    assert stat.stdout == "  ~ two (changed: sts.env)\nplan: 1 agent changed; ports unchanged\n"


def test_cli_json(avrgen: Avrgen, project: Project) -> None:
    (project.paths.blueprints / "providers.yaml").write_text(PROVIDERS.replace("small", "large"))
    result = avrgen(
        "plan", "--json", "-b", str(project.paths.blueprints), "-o", str(project.paths.output)
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    env = (project.paths.output / "two" / "sts.env").as_posix()
    assert data["changed"] is True
    assert data["agents"] == {"two": {"action": "changed", "files": [env]}}
    assert [(f["path"], f["action"], f["agent"]) for f in data["files"]] == [(env, "update", "two")]
    assert data["ports"] == [] and data["summary"] == "1 agent changed; ports unchanged"


def test_cli_invalid_blueprint_is_a_user_error(avrgen: Avrgen, tmp_path: Path) -> None:
    write_set(tmp_path / "bp", agents=AGENTS.replace("beta-sts}", "beta-stz}"))
    result = avrgen("plan", "--exit-code", "-b", str(tmp_path / "bp"), "-o", str(tmp_path / "o"))
    assert result.exit_code == 1
    assert "no provider named 'beta-stz' (did you mean 'beta-sts'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_bundled_output_is_planned_clean(avrgen: Avrgen) -> None:
    result = avrgen("plan", "--exit-code", "-b", str(BUNDLED_BLUEPRINTS), "-o", "output")
    assert result.exit_code == 0, result.stdout
