"""Tools, volumes and key files (issue 16, part 1): validation with positions, paths kept in
the blueprint folder, the plan's mounts, and what render writes for compose and swarm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from blueprint_folder import write_blueprints
from conftest import Avrgen
from syrupy.assertion import SnapshotAssertion

from avrgen.app.project import Paths, Project
from avrgen.errors import BlueprintError, Problem, TemplateError
from avrgen.model.mounts import Mount, compose_source
from avrgen.model.plan import Plan
from avrgen.pipeline.cache.agents import agent_bytes
from avrgen.pipeline.checks import check_compose, check_stack
from avrgen.pipeline.escape import secret_ref
from avrgen.pipeline.render import Renderer
from avrgen.pipeline.validate.mounts import Folder

SETTINGS = "kind: settings\nset: vol-unit\nnetwork: {name: avrgen-vt}\n"
PROVIDER = """\
kind: provider
name: Google STS
type: STS
config:
  image: example/sts:1
  env: {GOOGLE_APPLICATION_CREDENTIALS: /usr/src/app/google.json}
  tools: ./tools
  volumes: ["./prompts:/usr/src/app/prompts:ro", "/srv/avr/cache:/var/cache/avr"]
  files:
    /usr/src/app/google.json: {secret_file: GOOGLE_CREDENTIALS}
"""
AGENT = """\
kind: agent
name: sounds
mode: sts
providers: {sts: Google STS}
core:
  env: {AMBIENT_NOISE_FILE: ambient_sounds/office.raw}
  volumes: ["../ambient_sounds:/usr/src/app/ambient_sounds:ro"]
"""


def project(root: Path, **files: str) -> Project:
    write_blueprints(root / "blueprints", files)
    return Project(Paths(root / "blueprints", root / "output"))


def problems(root: Path, **files: str) -> list[Problem]:
    with pytest.raises(BlueprintError) as caught:
        project(root, **files).validate()
    return [p for p in caught.value.problems if p.severity == "error"]


def good_plan(root: Path) -> Plan:
    return project(
        root, **{"settings.yaml": SETTINGS, "providers.yaml": PROVIDER, "agents/a.yaml": AGENT}
    ).plan()[0]


# -- validate ---------------------------------------------------------------------------------


def test_each_malformed_entry_is_named_at_its_line_and_field(tmp_path: Path) -> None:
    text = """\
kind: provider
name: Broken
type: LLM
config:
  image: example/llm:1
  tools: "~/tools"
  volumes:
    - sounds:/usr/src/app/sounds
    - ./a
    - ./a:relative
    - ./a:/b:z
    - ./a:/b:ro:extra
    - ./a:/
  files:
    relative/key.json: {secret_file: KEY}
    /key.json: {secret: KEY}
"""
    found = {(p.line, p.path) for p in problems(tmp_path, **{"p.yaml": text})}
    assert found == {
        (6, "config.tools"),
        (8, "config.volumes.0"),
        (9, "config.volumes.1"),
        (10, "config.volumes.2"),
        (11, "config.volumes.3"),
        (12, "config.volumes.4"),
        (13, "config.volumes.5"),
        (15, "config.files.relative/key.json"),
        (16, "config.files./key.json.secret"),
        (16, "config.files./key.json.secret_file"),
    }
    messages = {p.path: p.message for p in problems(tmp_path, **{"p.yaml": text})}
    assert (
        "named volume" in messages["config.volumes.0"]
        or "docker volume" in (messages["config.volumes.0"])
    )
    assert "./sounds" in messages["config.volumes.0"]
    assert "'z'" in messages["config.volumes.3"]
    assert "absolute" in messages["config.files.relative/key.json"]


def test_a_relative_path_must_stay_in_the_blueprint_folder(tmp_path: Path) -> None:
    agent = AGENT.replace("../ambient_sounds", "../../ambient_sounds")
    provider = PROVIDER.replace("tools: ./tools", "tools: ../tools")
    found = problems(
        tmp_path, **{"providers.yaml": provider, "agents/a.yaml": agent, "settings.yaml": SETTINGS}
    )
    by_path = {(p.file.removeprefix(f"{tmp_path}/"), p.line, p.path): p.message for p in found}
    tools = by_path[("blueprints/providers.yaml", 7, "config.tools")]
    assert "'../tools'" in tools and "outside the blueprint folder" in tools
    sounds = by_path[("blueprints/agents/a.yaml", 7, "core.volumes.0")]
    assert "'../../ambient_sounds'" in sounds
    assert len(found) == 2


def test_hiding_the_builtin_tools_or_mounting_twice_is_an_error(tmp_path: Path) -> None:
    provider = PROVIDER.replace(
        '"/srv/avr/cache:/var/cache/avr"',
        '"./x:/usr/src/app", "./y:/usr/src/app/tools/", "./z:/usr/src/app/prompts"',
    ).replace(
        "/usr/src/app/google.json: {secret_file: GOOGLE_CREDENTIALS}",
        "/usr/src/app/avr_tools: {secret_file: GOOGLE_CREDENTIALS}",
    )
    found = problems(tmp_path, **{"providers.yaml": provider})
    messages = {p.path: p.message for p in found}
    assert set(messages) == {
        "config.volumes.1",
        "config.volumes.2",
        "config.volumes.3",
        "config.files./usr/src/app/avr_tools",
    }
    assert "hide the image's built-in tools" in messages["config.volumes.1"]
    assert "hide the image's built-in tools" in messages["config.files./usr/src/app/avr_tools"]
    assert "already mounted by config.tools" in messages["config.volumes.2"]
    assert "already mounted by config.volumes[0]" in messages["config.volumes.3"]


def test_core_may_mount_above_avr_tools(tmp_path: Path) -> None:
    """avr_tools is in the provider images; core's mounts are not held to it."""
    agent = AGENT.replace("/usr/src/app/ambient_sounds", "/usr/src/app")
    the_plan = project(
        tmp_path, **{"providers.yaml": PROVIDER, "agents/a.yaml": agent, "ambient_sounds/x": ""}
    ).plan()[0]
    assert [m.target for m in the_plan.agents["sounds"].core.mounts] == ["/usr/src/app"]


def test_a_file_outside_the_blueprint_folder_is_fenced_in_its_own() -> None:
    overlay = Folder("environments/prod/agents.yaml", "blueprints")
    assert overlay.base == "../environments/prod"
    assert overlay.resolve("./sounds") == "../environments/prod/sounds"
    assert overlay.resolve("../sounds") is None
    inside = Folder("blueprints/a/b.yaml", "blueprints")
    assert (inside.base, inside.resolve("../x"), inside.resolve("../../x")) == ("a", "x", None)
    assert inside.resolve("/srv//x/") == "/srv/x"
    assert Folder("/abs/blueprints/b.yaml", "/abs/blueprints").resolve(".") == "."


# -- plan -------------------------------------------------------------------------------------


def test_the_plan_holds_each_mount_relative_to_the_blueprint_folder(tmp_path: Path) -> None:
    agent = good_plan(tmp_path).agents["sounds"]
    sts, core = agent.containers
    assert sts.mounts == (
        Mount("/usr/src/app/tools", "config.tools", "folder", True, "tools"),
        Mount("/usr/src/app/prompts", "config.volumes[0]", "file or folder", True, "prompts"),
        Mount("/var/cache/avr", "config.volumes[1]", "file or folder", False, "/srv/avr/cache"),
        Mount(
            "/usr/src/app/google.json",
            "config.files./usr/src/app/google.json",
            "file",
            True,
            secret="GOOGLE_CREDENTIALS",
        ),
    )
    assert core.mounts == (
        Mount(
            "/usr/src/app/ambient_sounds",
            "core.volumes[0]",
            "file or folder",
            True,
            "ambient_sounds",
        ),
    )
    # a key file's host path is a secret: `up` needs it, like the env's secrets
    assert agent.secrets == {"GOOGLE_CREDENTIALS"}
    assert agent.key_secrets == ("GOOGLE_CREDENTIALS",)
    assert sts.key_files == sts.mounts[-1:]
    # the render cache's key: plain data, not the repr fallback
    assert agent_bytes(agent).startswith(b"m")


# -- render -----------------------------------------------------------------------------------


def test_compose_and_stack_files(tmp_path: Path, snapshot: SnapshotAssertion) -> None:
    the_plan = good_plan(tmp_path)
    compose = Renderer().render(the_plan)["sounds/docker-compose.yml"].decode()
    stack = Renderer(target="swarm").render(the_plan)["sounds/stack.yml"].decode()
    assert compose == snapshot(name="docker-compose.yml")
    assert stack == snapshot(name="stack.yml")
    for text in (compose, stack):
        assert "/srv/avr/cache:/var/cache/avr:rw" in text  # absolute: as written
        assert str(tmp_path) not in text  # relative paths: the machine's folders never


def test_host_paths_are_relative_to_the_compose_files_folder() -> None:
    assert compose_source("tools") == "../../blueprints/tools"
    assert compose_source(".") == "../../blueprints"
    assert compose_source("tools", "..") == "../../tools"  # output/ inside the blueprints
    assert compose_source("x", "../../deploy/blueprints") == "../../../deploy/blueprints/x"
    assert compose_source("x", ".") == "../x"  # output/ is the blueprint folder
    assert compose_source("/srv/x") == "/srv/x"


def test_render_places_output_anywhere_and_stays_the_same_bytes(
    tmp_path: Path, avrgen: Avrgen
) -> None:
    files = {"settings.yaml": SETTINGS, "providers.yaml": PROVIDER, "agents/a.yaml": AGENT}
    for name in ("one", "two/deeper"):
        write_blueprints(tmp_path / name / "blueprints", files)
        assert avrgen("render", cwd=tmp_path / name).exit_code == 0
    first = (tmp_path / "one/output/sounds/docker-compose.yml").read_bytes()
    assert first == (tmp_path / "two/deeper/output/sounds/docker-compose.yml").read_bytes()
    assert b'"../../blueprints/tools:/usr/src/app/tools:ro"' in first
    result = avrgen("render", "-o", "build/out", cwd=tmp_path / "one")
    assert result.exit_code == 0, result.stderr
    elsewhere = (tmp_path / "one/build/out/sounds/docker-compose.yml").read_text()
    assert '"../../../blueprints/tools:/usr/src/app/tools:ro"' in elsewhere
    # the render cache knows the output's place: a render elsewhere is not given old bytes
    assert avrgen("render", "--check", cwd=tmp_path / "one").exit_code == 0


def test_a_rendered_volume_that_differs_is_refused(tmp_path: Path) -> None:
    the_plan = good_plan(tmp_path)
    agent = the_plan.agents["sounds"]
    compose = Renderer().render(the_plan)["sounds/docker-compose.yml"].decode()
    check_compose(agent, the_plan.network, compose)
    edited = compose.replace(":/usr/src/app/prompts:ro", ":/usr/src/app/prompts:rw")
    with pytest.raises(TemplateError, match="sts: volumes differ"):
        check_compose(agent, the_plan.network, edited)
    stack = Renderer(target="swarm").render(the_plan)["sounds/stack.yml"].decode()
    check_stack(agent, the_plan.network, the_plan.swarm, stack, secret_ref)
    for old, new, what in (
        ('target: "/usr/src/app/google.json"', 'target: "/tmp/g.json"', "sts: secrets differ"),
        ('file: "${GOOGLE', 'name: x\n    file: "${GOOGLE', "key file secrets differ"),
    ):
        with pytest.raises(TemplateError, match=what):
            check_stack(
                agent, the_plan.network, the_plan.swarm, stack.replace(old, new), secret_ref
            )


def test_a_key_file_is_a_secret_reference_never_a_path(tmp_path: Path, avrgen: Avrgen) -> None:
    write_blueprints(tmp_path / "blueprints", {"providers.yaml": PROVIDER, "agents/a.yaml": AGENT})
    result = avrgen("plan", "--json", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    text = json.dumps(json.loads(result.stdout))
    assert "${GOOGLE_CREDENTIALS:?secret GOOGLE_CREDENTIALS is not set}" in text
