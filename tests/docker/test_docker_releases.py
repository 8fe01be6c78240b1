"""Releases on the real engine (issue 19): two `up -e staging`s with a changed prompt (in
the staging overlay) record two releases; `rollback --to 1` brings back the first's files
byte for byte and its image ids although the tag has moved since; `up --atomic` with a
provider that exits at start puts the last release back (exit 1), and without an earlier
release removes the agent.

One module fixture runs the whole story once, as an operator would, through the CLI; the
tests read what it saw. Network, agents (rl9-*), ports (29400-29649) and image tag
(avrgen-test/rl9-provider:1) are this module's own; all are removed at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dockerenv
import pytest
from dockerenv import docker

pytestmark = pytest.mark.docker

NETWORK = "avrgen-test-releases"
DESK, HALL, NEW = "rl9-desk", "rl9-hall", "rl9-new"
TAG = "avrgen-test/rl9-provider:1"  # moved between the two `up`s
SECRET = "rl9-secret-value-never-recorded"
KEY = '{"rl9": "key file bytes"}'
SETTINGS = f"""\
kind: settings
network: {{name: {NETWORK}, subnet: 172.31.119.0/24}}
ports: {{core: 29400-29449, http: 29500-29549, providers: 29600-29649}}
core: {{image: "{dockerenv.CORE_IMAGE}"}}
"""
PROVIDERS = f"""\
kind: provider
name: rl9-sts
type: STS
config:
  image: {TAG}
  env:
    RL9_API_KEY: {{secret: RL9_API_KEY}}
  files:
    /app/key.json: {{secret_file: RL9_KEY_FILE}}
---
kind: provider
name: rl9-crashing
type: STS
config:
  image: {dockerenv.PROVIDER_IMAGE}
  env: {{CRASH: "1"}}
"""


def staging(prompt: str) -> str:
    """environments/staging/agents.yaml: the staging prompt of the desk agent."""
    return f'kind: agent\nname: {DESK}\ncore: {{env: {{SYSTEM_MESSAGE: "{prompt}"}}}}\n'


def agents(new: bool = False) -> str:
    text = f"""\
kind: agent
name: {DESK}
mode: sts
providers: {{sts: rl9-sts}}
core: {{env: {{SYSTEM_MESSAGE: "base prompt"}}, publish: true}}
---
kind: agent
name: {HALL}
mode: sts
providers: {{sts: rl9-sts}}
"""
    if new:
        text += f"---\nkind: agent\nname: {NEW}\nmode: sts\nproviders: {{sts: rl9-crashing}}\n"
    return text


@dataclass
class Story:
    root: Path
    state: Path
    runs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    images: dict[str, dict[str, str]] = field(default_factory=dict)  # moment -> container -> id
    envs: dict[str, str] = field(default_factory=dict)  # moment -> core's SYSTEM_MESSAGE
    output_up1: dict[str, bytes] = field(default_factory=dict)  # output/<desk> at the first up
    output_before: dict[str, bytes] = field(default_factory=dict)
    output_after: dict[str, bytes] = field(default_factory=dict)
    hall_id: dict[str, str] = field(default_factory=dict)
    new_containers: list[str] = field(default_factory=list)
    key_after_rollback: str = ""

    def history(self, *args: str) -> list[dict[str, object]]:
        # the staging environment has a lock, so a set id, of its own: its releases
        done = self.avrgen("history", "-e", "staging", *args, "--json")
        assert done.returncode == 0, done.stderr
        found: list[dict[str, object]] = json.loads(done.stdout)
        return found

    def avrgen(self, *args: str) -> subprocess.CompletedProcess[str]:
        return avrgen_in(self.root, self.state, *args)


def avrgen_in(root: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    os.environ["RL9_API_KEY"] = SECRET
    os.environ["RL9_KEY_FILE"] = "key.json"  # relative: to the folder avrgen runs in
    try:
        return dockerenv.run_avrgen(*args, "--state", str(state), cwd=root)
    finally:
        del os.environ["RL9_API_KEY"], os.environ["RL9_KEY_FILE"]


def image_ids(*containers: str) -> dict[str, str]:
    return {c: docker("inspect", "--format", "{{.Image}}", c).stdout.strip() for c in containers}


def prompt_of(http_port: int) -> str:
    """Core's SYSTEM_MESSAGE as it answers on its published HTTP port (or why it does not:
    the tests then show the run's own messages)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/env", timeout=10) as reply:
            env = reply.read().decode()
    except OSError as exc:
        return f"core does not answer: {exc}"
    return next(line for line in env.splitlines() if line.startswith("SYSTEM_MESSAGE="))


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def cleanup() -> None:
    for agent in (DESK, HALL, NEW):
        ids = docker("ps", "-aq", "--filter", f"label=avrgen.agent={agent}").stdout.split()
        if ids:
            docker("rm", "-f", *ids)
    docker("network", "rm", NETWORK)
    docker("rmi", TAG)


def move_tag() -> None:
    """The tag now names another image (same program, one label more)."""
    dockerfile = f"FROM {dockerenv.PROVIDER_IMAGE}\nLABEL avrgen.test=rl9-moved\n"
    done = subprocess.run(
        ["docker", "build", "-q", "-t", TAG, "-"],
        input=dockerfile,
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    root = dockerenv.blueprint_folder(
        tmp_path_factory.mktemp("releases"),
        settings=SETTINGS,
        providers=PROVIDERS,
        agents=agents(),
    )
    (root / "key.json").write_text(KEY, encoding="utf-8")
    overlay = root / "environments" / "staging" / "agents.yaml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text(staging("first prompt"))
    story = Story(root, root / "state")
    desk = (f"avr-sts-{DESK}", f"avr-core-{DESK}")
    cleanup()
    try:
        assert docker("tag", dockerenv.PROVIDER_IMAGE, TAG).returncode == 0
        story.runs["up1"] = story.avrgen("up", "-e", "staging", DESK, HALL)
        story.images["up1"] = image_ids(*desk)
        story.output_up1 = tree(root / "output" / "staging" / DESK)
        story.hall_id["before"] = image_ids(f"avr-core-{HALL}")[f"avr-core-{HALL}"]
        http_port = int(
            json.loads(story.avrgen("ps", "-e", "staging", DESK, "--json").stdout)[-1]["ports"][
                -1
            ].split("->")[0]
        )
        story.envs["up1"] = prompt_of(http_port)

        move_tag()
        overlay.write_text(staging("second prompt"))
        story.runs["up2"] = story.avrgen("up", "-e", "staging", DESK)
        story.images["up2"] = image_ids(*desk)
        story.envs["up2"] = prompt_of(http_port)
        story.runs["up2-again"] = story.avrgen("up", "-e", "staging", DESK)
        (root / "not-a-folder").write_text("")
        story.runs["unrecorded"] = avrgen_in(
            root, root / "not-a-folder" / "state", "up", "-e", "staging", DESK
        )

        story.output_before = tree(root / "output")
        story.runs["rollback"] = story.avrgen("rollback", "-e", "staging", DESK, "--to", "1")
        story.output_after = tree(root / "output")
        story.images["rollback"] = image_ids(*desk)
        story.envs["rollback"] = prompt_of(http_port)
        story.key_after_rollback = docker("exec", desk[0], "cat", "/app/key.json").stdout
        story.hall_id["after"] = image_ids(f"avr-core-{HALL}")[f"avr-core-{HALL}"]

        crashing = PROVIDERS.replace(
            "    RL9_API_KEY: {secret: RL9_API_KEY}\n",
            '    RL9_API_KEY: {secret: RL9_API_KEY}\n    CRASH: "1"\n',
        )
        (root / "blueprints" / "providers.yaml").write_text(crashing)
        story.runs["atomic"] = story.avrgen(
            "up", "-e", "staging", DESK, "--atomic", "--timeout", "90"
        )
        story.images["atomic"] = image_ids(*desk)
        story.envs["atomic"] = prompt_of(http_port)

        (root / "blueprints" / "agents.yaml").write_text(agents(new=True))
        story.runs["atomic-new"] = story.avrgen(
            "up", "-e", "staging", NEW, "--atomic", "--timeout", "90"
        )
        story.new_containers = docker(
            "ps", "-aq", "--filter", f"label=avrgen.agent={NEW}"
        ).stdout.split()
        yield story
    finally:
        cleanup()


def test_two_ups_with_a_changed_prompt_record_two_releases(story: Story) -> None:
    for run in ("up1", "up2", "up2-again"):
        assert story.runs[run].returncode == 0, story.runs[run].stderr
    assert f"[{DESK}] recorded release 1" in story.runs["up1"].stderr
    assert f"[{DESK}] recorded release 2" in story.runs["up2"].stderr
    assert "recorded release" not in story.runs["up2-again"].stderr  # nothing changed
    assert story.envs["up1"] != story.envs["up2"] == "SYSTEM_MESSAGE=second prompt"
    desk = [e for e in story.history() if e["agent"] == DESK]
    one, two = desk[0], desk[1]
    assert (one["number"], two["number"]) == (1, 2)
    assert one["origin"] == two["origin"] == "up -e staging"
    assert one["environment"] == two["environment"] == "staging"
    changes = two["changes"]
    assert isinstance(changes, dict) and changes["files_changed"] == ["core.env"]
    sts = f"avr-sts-{DESK}"
    assert changes["images"] == {
        "sts": {"from": story.images["up1"][sts], "to": story.images["up2"][sts]}
    }
    assert story.images["up1"][sts] != story.images["up2"][sts]  # the tag moved
    table = story.avrgen("history", "-e", "staging", DESK)
    assert table.returncode == 0 and "files: core.env" in table.stdout, table.stderr
    base = story.avrgen("history", DESK)  # the base set: another history, empty here
    assert base.returncode == 1 and f"agent '{DESK}' has no releases in " in base.stderr


def test_an_up_whose_release_cannot_be_recorded_exits_1_and_says_why(story: Story) -> None:
    done = story.runs["unrecorded"]
    assert done.returncode == 1, done.stderr
    folder = story.root / "not-a-folder" / "state"
    assert f"agent '{DESK}' runs, but its release was not recorded in {folder / 'releases'}/" in (
        done.stderr
    )


def agent_releases(story: Story) -> Path:
    """The desk's releases: in the folder of its blueprint set, the only one here."""
    (folder,) = (story.state / "releases").glob(f"*/{DESK}")
    return folder


def test_a_release_is_private_and_holds_no_secret_value(story: Story) -> None:
    releases = story.state / "releases"
    for path in [releases, *releases.rglob("*")]:
        assert (path.stat().st_mode & 0o077) == 0, path
    for path in story.state.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
            assert KEY.encode() not in path.read_bytes(), path  # a key file: never copied
    release = json.loads((agent_releases(story) / "1" / "release.json").read_text())
    sts = release["containers"][0]
    assert sts["secrets"] == [["RL9_API_KEY", "RL9_API_KEY"]] and "RL9_API_KEY" in sts["env_keys"]
    assert sts["key_files"] == [["/app/key.json", "RL9_KEY_FILE"]]  # the secret's name only


def test_rollback_brings_back_the_first_release_byte_for_byte_and_by_id(story: Story) -> None:
    done = story.runs["rollback"]
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"rolled back {DESK} to release 1 (")
    assert "recorded as release 3" in done.stdout
    assert f"`avrgen up {DESK}` brings back the blueprints' version" in done.stdout
    releases = agent_releases(story)
    assert tree(releases / "3" / "files") == tree(releases / "1" / "files")
    assert tree(releases / "1" / "files") == story.output_up1  # what the first `up` ran
    assert story.images["rollback"] == story.images["up1"]  # by id: not what the tag says now
    assert story.envs["rollback"] == "SYSTEM_MESSAGE=first prompt"
    assert story.key_after_rollback == KEY  # the key file's host path: today's secret value
    third = story.history(DESK)[2]
    assert third["origin"] == "rollback to 1" and third["files"] == story.history(DESK)[0]["files"]
    # neither output/ nor the other agent was touched
    assert story.output_after == story.output_before
    assert story.hall_id["after"] == story.hall_id["before"]


def test_atomic_up_of_a_crashing_agent_leaves_the_last_release_running(story: Story) -> None:
    done = story.runs["atomic"]
    assert done.returncode == 1, done.stderr
    assert f"error: agent '{DESK}'" in done.stderr
    assert "CRASH=1" in done.stderr  # the failing container's log tail
    assert "--atomic: rolled back to release 3" in done.stderr
    assert story.images["atomic"] == story.images["up1"], done.stderr
    assert story.envs["atomic"] == "SYSTEM_MESSAGE=first prompt", done.stderr
    assert [e["number"] for e in story.history(DESK)] == [1, 2, 3]  # no release of a failure


def test_atomic_up_without_an_earlier_release_removes_the_agent(story: Story) -> None:
    done = story.runs["atomic-new"]
    assert done.returncode == 1, done.stderr
    assert f"--atomic: no earlier release of '{NEW}' to go back to" in done.stderr
    assert story.new_containers == []
    assert NEW not in {e["agent"] for e in story.history()}
