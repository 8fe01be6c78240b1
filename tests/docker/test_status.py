"""`avrgen status` and `avrgen up --changed` on a real engine: drift between the blueprints
and the running containers, named by key (never by value), and fixed agent by agent.

Two STS agents on a test-only network and port ranges, brought up once for the module;
every test leaves them in sync again, and the module removes every container and the
network it created, also on failure (compose's dry-run output and env comparison, which need
no engine, are tests/unit/engine/test_drift.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dockerenv
import pytest
from conftest import Avrgen

from avrgen.app.diff import plan_diff
from avrgen.app.lifecycle import up
from avrgen.app.listing import ps
from avrgen.app.project import Paths, Project
from avrgen.app.reading import read_default_engine
from avrgen.app.render import recorded_set, render, rendered_as_is
from avrgen.app.running import Start
from avrgen.app.status import AgentStatus, StatusReport, status
from avrgen.pipeline.cache.store import entry_path

NETWORK = "avrgen-test-status"
ONE, TWO = "st8-one", "st8-two"
SECRET = "alpha-secret-value-1"
SETTINGS = f"""\
kind: settings
network: {{name: {NETWORK}, subnet: 172.28.108.0/24}}
ports: {{core: 25100-25199, http: 27100-27199, providers: 26100-26199}}
core: {{image: "{dockerenv.CORE_IMAGE}"}}
"""
PROVIDERS = f"""\
kind: provider
name: alpha
type: STS
config:
  image: {dockerenv.PROVIDER_IMAGE}
  env:
    ALPHA_API_KEY: {{secret: ALPHA_API_KEY}}
    ALPHA_VOICE: nova
---
kind: provider
name: beta
type: STS
config:
  image: {dockerenv.PROVIDER_IMAGE}
  env: {{BETA_MODEL: small, BETA_LANGUAGE: en}}
"""
AGENTS = f"""\
kind: agent
name: {ONE}
mode: sts
providers: {{sts: alpha}}
---
kind: agent
name: {TWO}
mode: sts
providers: {{sts: beta}}
"""


# -- on a real engine ---------------------------------------------------------------------


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=60, check=False
    )


def remove_everything() -> None:
    for agent in (ONE, TWO):
        ids = docker("ps", "-aq", "--filter", f"label=avrgen.agent={agent}").stdout.split()
        if ids:
            docker("rm", "-f", *ids)
    docker("network", "rm", NETWORK)


def container_id(name: str) -> str:
    return docker("inspect", "--format", "{{.Id}}", name).stdout.strip()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """Both agents rendered and up (in sync), on the test network; removed at the end."""
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    root = dockerenv.blueprint_folder(
        tmp_path_factory.mktemp("status"), settings=SETTINGS, providers=PROVIDERS, agents=AGENTS
    )
    project = Project(Paths(root / "blueprints", root / "output"))
    remove_everything()
    try:
        result = up(project, Start([ONE, TWO], environ={"ALPHA_API_KEY": SECRET}, timeout=60))
        assert [a.error for a in result.agents if a.status == "failed"] == []
        yield project
    finally:
        remove_everything()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("ALPHA_API_KEY", SECRET)
    return {"ALPHA_API_KEY": SECRET}


def cli_args(project: Project) -> tuple[str, ...]:
    return ("-b", str(project.paths.blueprints), "-o", str(project.paths.output))


def by_agent(report: StatusReport) -> dict[str, AgentStatus]:
    return {a.agent: a for a in report.agents}


def states(report: StatusReport) -> dict[str, str]:
    return {a.agent: a.state for a in report.agents}


@pytest.mark.docker
def test_in_sync_after_up(stack: Project, env: dict[str, str], avrgen: Avrgen) -> None:
    report = status(stack, environ=env)
    assert states(report) == {ONE: "in sync", TWO: "in sync"}
    assert report.unchecked_secrets == []
    result = avrgen("status", "--exit-code", *cli_args(stack))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.endswith("status: 2 in sync\n")


@pytest.mark.docker
def test_the_engine_read_early_gives_the_same_answers(stack: Project, env: dict[str, str]) -> None:
    """What the CLI does (the engine read while it plans: app/reading.py) reports exactly
    what reading the engine after planning does, for status and ps, all agents or named."""
    assert status(stack, environ=env, early=read_default_engine(stack)) == status(
        stack, environ=env
    )
    named = status(stack, [TWO], environ=env, early=read_default_engine(stack))
    assert named == status(stack, [TWO], environ=env)
    assert ps(stack, early=read_default_engine(stack)) == ps(stack)
    assert ps(stack, [ONE], early=read_default_engine(stack)) == ps(stack, [ONE])
    assert {s.agent for s in ps(stack, early=read_default_engine(stack))} == {ONE, TWO}


@pytest.mark.docker
def test_ps_from_what_the_last_render_recorded(stack: Project, avrgen: Avrgen) -> None:
    """`ps` of output/ as the last render left it takes the set, its network and agents from
    the render cache (app/render.recorded_set) and lists exactly what planning gives; the
    CLI then imports none of pydantic, jinja2 or PyYAML."""
    render(stack, use_cache=True)  # the first render made the lock: it stored no entry
    recorded = recorded_set(stack)
    assert recorded is not None and set(recorded.agents) == {ONE, TWO} and not recorded.hosts
    assert ps(stack, recorded=recorded, early=read_default_engine(stack)) == ps(stack)
    code = (
        "import sys\nfrom avrgen.cli.main import main\n"
        f"sys.argv = ['avrgen', 'ps', *{list(cli_args(stack))!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted(m for m in ('pydantic', 'jinja2', 'yaml') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    table, loaded = proc.stdout.rsplit("\n", 2)[0], proc.stdout.splitlines()[-1]
    assert loaded == "[]"
    assert {line.split()[0] for line in table.splitlines()[1:]} == {ONE, TWO}
    # an entry of an older avrgen, whose header has no `set`: ps plans, and lists the same
    entry = entry_path(stack.paths.output)
    head, _, body = entry.read_bytes().partition(b"\n")
    header = json.loads(head)
    del header["set"]
    entry.write_bytes(json.dumps(header, separators=(",", ":")).encode() + b"\n" + body)
    assert rendered_as_is(stack) and recorded_set(stack) is None
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rsplit("\n", 2)[0] == table
    assert proc.stdout.splitlines()[-1] != "[]"  # planned: the blueprints were read


@pytest.mark.docker
def test_changed_provider_env_is_planned_reported_and_fixed(
    stack: Project, env: dict[str, str], avrgen: Avrgen
) -> None:
    providers = stack.paths.blueprints / "providers.yaml"
    providers.write_text(PROVIDERS.replace("BETA_MODEL: small", "BETA_MODEL: large"))
    one_before = container_id(f"avr-sts-{ONE}"), container_id(f"avr-core-{ONE}")
    two_core_before = container_id(f"avr-core-{TWO}")

    # plan: only that agent's env file
    planned = plan_diff(stack)
    assert planned.agents == {TWO: "changed"}
    assert [Path(f.path).relative_to(stack.paths.output).as_posix() for f in planned.files] == [
        f"{TWO}/sts.env"
    ]

    # status: only that agent drifted, the key named, no value shown
    report = status(stack, environ=env)
    assert states(report) == {ONE: "in sync", TWO: "drifted"}
    [difference] = by_agent(report)[TWO].differences
    assert (difference.container, difference.kind, difference.keys) == (
        f"avr-sts-{TWO}",
        "env",
        ("BETA_MODEL",),
    )
    assert str(difference) == f"avr-sts-{TWO} (sts): env changed BETA_MODEL"
    shown = avrgen("status", "--exit-code", *cli_args(stack))
    assert shown.exit_code == 1
    assert f"avr-sts-{TWO} (sts): env changed BETA_MODEL" in shown.stdout
    assert "large" not in shown.stdout and "small" not in shown.stdout
    data = json.loads(avrgen("status", "--json", *cli_args(stack)).stdout)
    assert data["agents"][TWO]["differences"][0]["keys"] == ["BETA_MODEL"]
    assert "large" not in json.dumps(data) and SECRET not in json.dumps(data)

    # up --changed: fixes only it, and says which it left alone
    fixed = avrgen("up", "--changed", *cli_args(stack))
    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    assert f"bringing up: {TWO} (drifted)" in fixed.stdout
    assert f"left alone: {ONE} (in sync)" in fixed.stdout
    assert (container_id(f"avr-sts-{ONE}"), container_id(f"avr-core-{ONE}")) == one_before
    assert container_id(f"avr-core-{TWO}") == two_core_before  # compose recreated only sts

    report = status(stack, environ=env)
    assert states(report) == {ONE: "in sync", TWO: "in sync"}
    again = avrgen("up", "--changed", *cli_args(stack))
    assert again.exit_code == 0
    assert "nothing to bring up" in again.stdout


@pytest.mark.docker
def test_secret_change_is_named_without_its_value(
    stack: Project, avrgen: Avrgen, monkeypatch: pytest.MonkeyPatch
) -> None:
    rotated = {"ALPHA_API_KEY": "alpha-secret-value-2"}
    report = status(stack, environ=rotated)
    assert states(report) == {ONE: "drifted", TWO: "in sync"}
    [difference] = by_agent(report)[ONE].differences
    assert (difference.kind, difference.keys) == ("env", ("ALPHA_API_KEY",))

    # without the secret here: everything else is still compared, and the report says so
    unset = status(stack, environ={})
    assert states(unset) == {ONE: "in sync", TWO: "in sync"}
    assert unset.unchecked_secrets == ["ALPHA_API_KEY"]
    monkeypatch.delenv("ALPHA_API_KEY", raising=False)
    shown = avrgen("status", *cli_args(stack))
    assert shown.exit_code == 0, shown.stderr
    assert "note: secret(s) not set here, values not compared: ALPHA_API_KEY\n" in shown.stdout
    assert SECRET not in shown.stdout + shown.stderr


@pytest.mark.docker
def test_image_ports_and_labels_are_named(stack: Project, env: dict[str, str]) -> None:
    agents = stack.paths.blueprints / "agents.yaml"
    providers = stack.paths.blueprints / "providers.yaml"
    agents_text, providers_text = agents.read_text(), providers.read_text()
    agents.write_text(
        agents_text.replace(
            "providers: {sts: alpha}",
            "providers: {sts: alpha}\ntenant: acme\ncore: {publish: true}",
        )
    )
    beta_image = f"image: {dockerenv.PROVIDER_IMAGE}\n  env: {{BETA"
    assert beta_image in providers_text
    providers.write_text(
        providers_text.replace(beta_image, f"image: {dockerenv.CORE_IMAGE}\n  env: {{BETA")
    )
    try:
        report = status(stack, environ=env)
        found = {a: [(d.container, d.kind, d.detail) for d in s.differences]
                 for a, s in by_agent(report).items()}  # fmt: skip
        ports = ", ".join(map(str, stack.plan()[0].agents[ONE].core.published))
        assert found == {
            ONE: [
                (f"avr-sts-{ONE}", "labels", "labels changed tenant"),
                (f"avr-core-{ONE}", "ports", f"published ports none -> {ports}"),
                (f"avr-core-{ONE}", "labels", "labels changed tenant"),
            ],
            TWO: [
                (
                    f"avr-sts-{TWO}",
                    "image",
                    f"image {dockerenv.PROVIDER_IMAGE} -> {dockerenv.CORE_IMAGE}",
                )
            ],
        }
    finally:
        agents.write_text(agents_text)
        providers.write_text(providers_text)
    assert states(status(stack, environ=env)) == {ONE: "in sync", TWO: "in sync"}


@pytest.mark.docker
def test_stopped_container_is_reported_and_restarted(
    stack: Project, env: dict[str, str], avrgen: Avrgen
) -> None:
    assert docker("stop", "-t", "1", f"avr-core-{ONE}").returncode == 0
    report = status(stack, environ=env)
    assert states(report) == {ONE: "drifted", TWO: "in sync"}
    [difference] = by_agent(report)[ONE].differences
    assert (difference.container, difference.kind) == (f"avr-core-{ONE}", "stopped")
    assert "not running (exited" in difference.detail

    assert docker("stop", "-t", "1", f"avr-sts-{ONE}").returncode == 0
    assert states(status(stack, environ=env))[ONE] == "not running"

    fixed = avrgen("up", "--changed", *cli_args(stack))
    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    assert f"bringing up: {ONE} (not running)" in fixed.stdout
    assert f"left alone: {TWO} (in sync)" in fixed.stdout
    assert states(status(stack, environ=env)) == {ONE: "in sync", TWO: "in sync"}


@pytest.mark.docker
def test_removed_container_is_missing(stack: Project, env: dict[str, str]) -> None:
    assert docker("rm", "-f", f"avr-sts-{TWO}").returncode == 0
    report = status(stack, environ=env)
    assert states(report) == {ONE: "in sync", TWO: "drifted"}
    assert [(d.container, d.kind) for d in by_agent(report)[TWO].differences] == [
        (f"avr-sts-{TWO}", "missing")
    ]
    up(stack, Start([TWO], environ=env, timeout=60))
    assert states(status(stack, environ=env)) == {ONE: "in sync", TWO: "in sync"}


@pytest.mark.docker
def test_deleted_blueprint_is_orphaned(stack: Project, env: dict[str, str], avrgen: Avrgen) -> None:
    agents = stack.paths.blueprints / "agents.yaml"
    agents.write_text(AGENTS.split("---\n")[0])
    try:
        report = status(stack, environ=env)
        assert states(report) == {ONE: "in sync", TWO: "orphaned"}
        assert status(stack, environ=env, early=read_default_engine(stack)) == report
        orphan = by_agent(report)[TWO]
        assert {c.name for c in orphan.containers} == {f"avr-sts-{TWO}", f"avr-core-{TWO}"}
        assert all(c.orphan for c in orphan.containers)
        shown = avrgen("status", "--exit-code", *cli_args(stack))
        assert shown.exit_code == 1
        assert f"{TWO}" in shown.stdout and "orphaned" in shown.stdout
        assert status(stack, [TWO], environ=env).agents[0].state == "orphaned"

        left = avrgen("up", "--changed", *cli_args(stack))
        assert left.exit_code == 0
        assert f"left alone: {TWO} (orphaned)" in left.stdout
    finally:
        agents.write_text(AGENTS)
    assert states(status(stack, environ=env)) == {ONE: "in sync", TWO: "in sync"}


@pytest.mark.docker
def test_unknown_agent_name(stack: Project, avrgen: Avrgen) -> None:
    result = avrgen("status", "st8-tow", *cli_args(stack))
    assert result.exit_code == 1
    assert "no agent named 'st8-tow' (did you mean 'st8-two'?)" in result.stderr
