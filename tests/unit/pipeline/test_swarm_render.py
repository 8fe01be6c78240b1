"""The swarm target without an engine: stack files of the bundled blueprints (snapshots),
placement validation, exact values through `docker compose config` and `docker stack config`,
and that the compose target is unchanged by it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import BUNDLED_OUTPUT, REPO, Avrgen
from syrupy.assertion import SnapshotAssertion
from test_render_snapshots import TextFileSnapshot, files_under

from avrgen.app.project import Paths, Project
from avrgen.app.render import render as render_project
from avrgen.errors import TemplateError
from avrgen.model.blueprint import Placement
from avrgen.model.plan import AgentPlan
from avrgen.pipeline.checks import check_stack
from avrgen.pipeline.escape import secret_ref
from avrgen.pipeline.render import Renderer
from avrgen.pipeline.swarm import constraints

SECRETS = {
    "DEEPGRAM_API_KEY": "dg",
    "OPENAI_API_KEY": "oa",
    "ELEVENLABS_API_KEY": "el",
    "GEMINI_API_KEY": "ge",
    "BILLING_WEBHOOK_SECRET": "wh",
}


@pytest.fixture
def stacks(avrgen: Avrgen, bundled: Path, tmp_path: Path) -> dict[str, bytes]:
    output = tmp_path / "output"
    result = avrgen("render", "-b", str(bundled), "-o", str(output), "--target", "swarm")
    assert result.exit_code == 0, result.stderr
    # the agents' stacks; _telephony/ is the compose project the swarm target renders too
    telephony = {k for k in files_under(output) if k.startswith("_telephony/")}
    assert {k.rpartition("/")[2] for k in telephony} == {
        "docker-compose.yml",
        "my_ari.conf",
        "my_extensions.conf",
        "my_manager.conf",
        "my_pjsip.conf",
    }
    return {k: v for k, v in files_under(output).items() if k not in telephony}


def test_stack_file_list(stacks: dict[str, bytes], snapshot: SnapshotAssertion) -> None:
    assert sorted(stacks) == snapshot


def test_every_stack_file(stacks: dict[str, bytes], snapshot: SnapshotAssertion) -> None:
    text_snapshot = snapshot.use_extension(TextFileSnapshot)
    for rel, data in stacks.items():
        assert data.decode("utf-8") == text_snapshot(name=rel.replace("/", "__"))


def test_stack_files_are_what_swarm_needs(stacks: dict[str, bytes]) -> None:
    for rel, data in stacks.items():
        stack = yaml.safe_load(data)
        for role, service in stack["services"].items():
            assert "container_name" not in service and "env_file" not in service, rel
            assert service["deploy"]["endpoint_mode"] == "dnsrr", (rel, role)
            assert service["deploy"]["restart_policy"]["condition"] == "any"
            assert service["deploy"]["resources"]["limits"] == {"memory": "1G"}
            for port in service.get("ports", []):
                assert port["mode"] == "host" and role == "core", (rel, port)
        assert stack["networks"] == {"avr": {"name": "avr", "external": True}}
    bookings = yaml.safe_load(stacks["bookings/stack.yml"])["services"]
    amd64 = ["node.platform.os == linux", "node.platform.arch == x86_64"]  # the image's platform
    for role, service in bookings.items():
        assert service["deploy"]["placement"] == {
            "constraints": ["node.labels.tenant == restaurant", *(amd64 if role != "core" else [])]
        }
        assert "platform" not in service  # docker stack deploy refuses it (docker/cli#6542)
    support = yaml.safe_load(stacks["support-line/stack.yml"])["services"]
    assert "placement" not in support["core"]["deploy"]
    assert [p["published"] for p in support["core"]["ports"]] == [5011, 7192]


def test_compose_target_output_is_unchanged(avrgen: Avrgen, bundled: Path, tmp_path: Path) -> None:
    """`--target compose` (and the default) writes exactly the committed compose output."""
    for extra in ((), ("--target", "compose")):
        output = tmp_path / f"out{len(extra)}"
        assert avrgen("render", "-b", str(bundled), "-o", str(output), *extra).exit_code == 0
        committed = files_under(BUNDLED_OUTPUT)
        assert files_under(output) == {k: v for k, v in committed.items() if k[0] != "."}


def test_switching_target_replaces_the_files(avrgen: Avrgen, bundled: Path, tmp_path: Path) -> None:
    output = tmp_path / "output"
    assert avrgen("render", "-b", str(bundled), "-o", str(output)).exit_code == 0
    result = avrgen("render", "-b", str(bundled), "-o", str(output), "--target", "swarm")
    assert result.exit_code == 0, result.stderr
    agents = {p for p in files_under(output) if not p.startswith("_telephony/")}
    assert {Path(p).name for p in agents} == {"stack.yml"}
    check = avrgen("render", "-b", str(bundled), "-o", str(output), "--check")
    assert check.exit_code == 1 and "docker-compose.yml" in check.stderr
    swarm_check = avrgen(
        "render", "-b", str(bundled), "-o", str(output), "--check", "--target=swarm"
    )
    assert swarm_check.exit_code == 0, swarm_check.stderr


def test_settings_target_swarm(avrgen: Avrgen, bundled: Path, tmp_path: Path) -> None:
    settings = bundled / "settings.yaml"
    settings.write_text(settings.read_text() + "target: swarm\n")
    output = tmp_path / "output"
    assert avrgen("render", "-b", str(bundled), "-o", str(output)).exit_code == 0
    assert (output / "billing" / "stack.yml").is_file()
    assert not (output / "billing" / "docker-compose.yml").exists()


def test_constraints() -> None:
    placement = Placement(node="worker-1", labels={"zone": "b", "tenant": "acme"})
    assert constraints(placement) == (
        "node.hostname == worker-1",
        "node.labels.tenant == acme",
        "node.labels.zone == b",
    )
    assert constraints(Placement()) == ()


PLACEMENT_BLUEPRINT = """\
kind: settings
swarm:
  placement: {labels: {avr: "yes"}}
---
kind: provider
name: p
type: STS
config: {image: "img:1"}
---
kind: agent
name: pinned
mode: sts
providers: {sts: p}
placement: {node: node-2.example, labels: {"tier": gold}}
---
kind: agent
name: default
mode: sts
providers: {sts: p}
"""


def test_agent_placement_replaces_the_default(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "all.yaml").write_text(PLACEMENT_BLUEPRINT)
    the_plan, _ = Project(Paths(tmp_path / "b", tmp_path / "o")).plan()
    assert the_plan.agents["pinned"].constraints == (
        "node.hostname == node-2.example",
        "node.labels.tier == gold",
    )
    assert the_plan.agents["default"].constraints == ("node.labels.avr == yes",)


@pytest.mark.parametrize(
    ("placement", "message"),
    [
        ("{node: -bad}", "all.yaml:14: placement.node: invalid node name"),
        ('{labels: {"a b": x}}', "all.yaml:14: placement.labels.a b: invalid node label name"),
        ("{labels: {k: 'x == y'}}", "all.yaml:14: placement.labels.k: invalid node label value"),
        ("{nodes: [a]}", "all.yaml:14: placement.nodes: unknown field 'nodes' (did you mean"),
        ("[a]", "all.yaml:14: placement: Input should be a valid dictionary"),
    ],
)
def test_invalid_placement(avrgen: Avrgen, tmp_path: Path, placement: str, message: str) -> None:
    (tmp_path / "all.yaml").write_text(
        PLACEMENT_BLUEPRINT.replace(
            'placement: {node: node-2.example, labels: {"tier": gold}}', f"placement: {placement}"
        )
    )
    result = avrgen("validate", "-b", str(tmp_path))
    assert result.exit_code == 1
    assert message in result.stderr, result.stderr


def test_invalid_swarm_settings(avrgen: Avrgen, tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "kind: settings\ntarget: swarms\nswarm:\n"
        "  resources: {limits: {cpus: lots, memory: 1X}}\n"
        "  restart: {condition: always, delay: soon}\n"
    )
    result = avrgen("validate", "-b", str(tmp_path))
    assert result.exit_code == 1
    for part in (
        "s.yaml:2: target: expected 'compose' or 'swarm', got 'swarms' (did you mean 'swarm'?)",
        "s.yaml:4: swarm.resources.limits.cpus: invalid cpus",
        "s.yaml:4: swarm.resources.limits.memory: invalid memory",
        "s.yaml:5: swarm.restart.condition: expected 'any', 'on-failure' or 'none'",
        "s.yaml:5: swarm.restart.delay: invalid duration",
    ):
        assert part in result.stderr, result.stderr


TRICKY = [
    "no",
    "0123",
    "~",
    "$HOME and ${X} and $$",
    "line one\nline two: # not a comment\n",
    '"quoted" \\ back',
    "  leading spaces",
    "ünïcode ☎",
]


@pytest.fixture
def tricky_stack(tmp_path: Path) -> Path:
    env = "\n".join(f"    V{i}: {json.dumps(v)}" for i, v in enumerate(TRICKY))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "all.yaml").write_text(
        'kind: provider\nname: p\ntype: STS\nconfig:\n  image: "img:1"\n  env:\n'
        + env
        + "\n    THE_TOKEN: {secret: THE_TOKEN}\n"
        "---\nkind: agent\nname: t\nmode: sts\nproviders: {sts: p}\ncore: {publish: true}\n"
    )
    render_project(Project(Paths(tmp_path / "b", tmp_path / "o")), target="swarm")
    return tmp_path / "o" / "t" / "stack.yml"


def _expected_env() -> dict[str, str]:
    return {f"V{i}": v for i, v in enumerate(TRICKY)} | {"THE_TOKEN": "s3cret $x"}


def test_values_reach_compose_exactly(tricky_stack: Path, compose_binary: Path) -> None:
    proc = subprocess.run(
        [str(compose_binary), "-f", str(tricky_stack), "-p", "t", "config", "--format", "json"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "THE_TOKEN": "s3cret $x"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    env = json.loads(proc.stdout)["services"]["sts"]["environment"]
    # `config` prints every `$` escaped again as `$$`
    assert {k: env[k].replace("$$", "$") for k in _expected_env()} == _expected_env()


def test_values_reach_docker_stack_exactly(tricky_stack: Path) -> None:
    """`docker stack config` is the loader `docker stack deploy` runs (client side)."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no `docker` client on PATH")
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    proc = subprocess.run(
        [docker, "stack", "config", "-c", str(tricky_stack)],
        capture_output=True,
        text=True,
        env={**base, "THE_TOKEN": "s3cret $x"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    env = yaml.safe_load(proc.stdout)["services"]["sts"]["environment"]
    assert {k: env[k] for k in _expected_env()} == _expected_env()
    missing = subprocess.run(
        [docker, "stack", "config", "-c", str(tricky_stack)],
        capture_output=True,
        text=True,
        env=base,
        check=False,
    )
    assert missing.returncode != 0 and "secret THE_TOKEN is not set" in missing.stderr
    assert "s3cret" not in tricky_stack.read_text()


def test_parse_back_check_catches_a_bad_template(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    stack = templates / "stack.yml.j2"
    stack.write_text(stack.read_text().replace("endpoint_mode: dnsrr", "endpoint_mode: vip"))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "all.yaml").write_text(PLACEMENT_BLUEPRINT)
    project = Project(Paths(tmp_path / "b", tmp_path / "o", templates))
    with pytest.raises(TemplateError, match="endpoint_mode is not dnsrr"):
        render_project(project, target="swarm")


def test_check_stack_rejects_a_dropped_constraint() -> None:
    project = Project(Paths(REPO / "blueprints", Path("unused")))
    the_plan, _ = project.plan()
    agent: AgentPlan = the_plan.agents["bookings"]
    text = Renderer(target="swarm").render(the_plan, {"bookings"})["bookings/stack.yml"].decode()
    broken = text.replace('          - "node.labels.tenant == restaurant"\n', "", 1)
    with pytest.raises(TemplateError, match="placement differs"):
        check_stack(agent, the_plan.network, the_plan.swarm, broken, secret_ref)


def test_deploy_names_every_missing_secret_first(
    avrgen: Avrgen, bundled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`deploy` renders the stack file (target swarm, though the settings say compose), then
    checks the secrets before the engine is asked anything (none is needed here)."""
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    result = avrgen("deploy", "billing", "-b", str(bundled), "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "BILLING_WEBHOOK_SECRET (needed by billing)" in result.stderr
    assert "DEEPGRAM_API_KEY (needed by billing)" in result.stderr
    assert {p.name for p in (tmp_path / "out" / "billing").iterdir()} == {"stack.yml"}
    other = str(tmp_path / "other")
    stale = avrgen("deploy", "billing", "--no-render", "-b", str(bundled), "-o", other)
    assert stale.exit_code == 1 and "refusing to start agents from stale output" in stale.stderr
