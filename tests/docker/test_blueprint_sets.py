"""Agents belong to their blueprint set (issue 17): two sets on one engine and one network,
both with an agent `desk`, rendered into their own output folders. Neither set's up, ps,
status, restart, down or down --orphans touches the other's containers; `up` of the other
set's `desk` refuses naming that set until `--take-over`; `down --orphans --dry-run` lists
and changes nothing.

The tests run in order on one module fixture: A runs desk and lobby, B runs bar.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dockerenv
import pytest
from dockerenv import docker
from dockerenv import run_avrgen as avrgen

pytestmark = pytest.mark.docker

LOCK_FILE = Path("/tmp/avrgen-test-blueprint-sets.lock")
NETWORK = "avrt-sets"
SETTINGS = f"""kind: settings
set: {{set_id}}
network: {{{{name: {NETWORK}, subnet: 172.31.91.0/24}}}}
ports: {{{{core: 29100-29149, http: 29200-29249, providers: 29300-29349}}}}
core: {{{{image: {dockerenv.CORE_IMAGE}}}}}
---
kind: provider
name: Echo
type: STS
config: {{{{image: {dockerenv.PROVIDER_IMAGE}}}}}
"""
AGENT = "kind: agent\nname: {name}\nmode: sts\nproviders: {{sts: Echo}}\n"
AGENTS = ("avrt-sets-desk", "avrt-sets-lobby", "avrt-sets-bar")
DESK, LOBBY, BAR = AGENTS


@dataclass(frozen=True)
class Sets:
    a: Path  # set avrt-a: desk, lobby
    b: Path  # set avrt-b: desk (not started), bar
    state: Path

    def run(self, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return avrgen(*args, "--state", str(self.state), cwd=folder)


def labels(name: str) -> dict[str, str] | None:
    proc = docker("container", "inspect", name)
    if proc.returncode != 0:
        return None
    found: dict[str, str] = json.loads(proc.stdout)[0]["Config"]["Labels"]
    return found


def container_id(name: str) -> str | None:
    proc = docker("container", "inspect", "--format", "{{.Id}} {{.State.StartedAt}}", name)
    return proc.stdout.strip() if proc.returncode == 0 else None


def cleanup() -> None:
    for agent in AGENTS:
        ids = docker("ps", "-aq", "--filter", f"label=avrgen.agent={agent}").stdout.split()
        if ids:
            docker("rm", "-f", *ids)
    docker("network", "rm", NETWORK)


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sets]:
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    root = tmp_path_factory.mktemp("sets")
    with dockerenv.exclusive(LOCK_FILE, minutes=10):
        cleanup()
        a = dockerenv.blueprint_folder(
            root / "site-a",
            settings=SETTINGS.format(set_id="avrt-a"),
            desk=AGENT.format(name=DESK),
            lobby=AGENT.format(name=LOBBY),
        )
        b = dockerenv.blueprint_folder(
            root / "site-b",
            settings=SETTINGS.format(set_id="avrt-b"),
            desk=AGENT.format(name=DESK),
            bar=AGENT.format(name=BAR),
        )
        found = Sets(a, b, root / "state")
        up_a = found.run(a, "up", DESK, LOBBY, "-o", "out-a")
        assert up_a.returncode == 0, up_a.stderr
        up_b = found.run(b, "up", BAR, "-o", "out-b")
        assert up_b.returncode == 0, up_b.stderr
        yield found
        cleanup()


def test_every_container_and_the_network_carry_their_set(sets: Sets) -> None:
    assert (labels(f"avr-core-{DESK}") or {})["avrgen.set"] == "avrt-a"
    assert (labels(f"avr-sts-{BAR}") or {})["avrgen.set"] == "avrt-b"
    network = json.loads(docker("network", "inspect", NETWORK).stdout)[0]
    assert network["Labels"]["avrgen.set"] == "avrt-a"  # the set that created it


def test_up_of_an_agent_another_set_runs_refuses_naming_that_set(sets: Sets) -> None:
    before = container_id(f"avr-core-{DESK}")
    proc = sets.run(sets.b, "up", DESK, "-o", "out-b")
    assert proc.returncode == 1, proc.stderr
    assert f"refusing to start '{DESK}'" in proc.stderr
    owner = (
        f"blueprint set 'avrt-a' (blueprints {(sets.a / 'blueprints').resolve()}, "
        f"output {(sets.a / 'out-a').resolve()})"
    )
    assert f"avr-sts-{DESK}, avr-core-{DESK} belong to {owner}" in proc.stderr, proc.stderr
    assert "--take-over" in proc.stderr and "nothing was changed" in proc.stderr
    assert container_id(f"avr-core-{DESK}") == before
    assert (labels(f"avr-core-{DESK}") or {})["avrgen.set"] == "avrt-a"


def test_ps_lists_only_its_own_set_and_all_sets_lists_every_set(sets: Sets) -> None:
    own = sets.run(sets.b, "ps", "--json", "-o", "out-b")
    assert own.returncode == 0, own.stderr
    assert {(c["agent"], c["set"]) for c in json.loads(own.stdout)} == {(BAR, "avrt-b")}
    named = sets.run(sets.b, "ps", DESK, "--json", "-o", "out-b")
    assert {c["state"] for c in json.loads(named.stdout)} == {"absent"}  # not A's
    every = sets.run(sets.b, "ps", "--all-sets", "--json")
    rows = {(c["agent"], c["set"]) for c in json.loads(every.stdout) if c["agent"] in AGENTS}
    assert rows == {(DESK, "avrt-a"), (LOBBY, "avrt-a"), (BAR, "avrt-b")}
    table = sets.run(sets.b, "ps", "--all-sets").stdout
    assert table.splitlines()[0].split()[:2] == ["SET", "AGENT"]
    assert any(line.split()[:2] == ["avrt-a", DESK] for line in table.splitlines())


def test_status_restart_and_down_of_the_other_sets_agent_touch_nothing(sets: Sets) -> None:
    before = container_id(f"avr-core-{DESK}")
    status = sets.run(sets.b, "status", "--json", "-o", "out-b")
    assert status.returncode == 0, status.stderr
    states = {name: a["state"] for name, a in json.loads(status.stdout)["agents"].items()}
    assert states == {BAR: "in sync", DESK: "not running"}  # A's desk is not B's
    restart = sets.run(sets.b, "restart", DESK, "-o", "out-b")
    assert restart.returncode == 1
    assert f"agent '{DESK}': its containers belong to blueprint set 'avrt-a'" in restart.stderr
    down = sets.run(sets.b, "down", DESK, "-o", "out-b")
    assert down.returncode == 0, down.stderr
    assert "no containers to remove" in down.stdout
    assert f"left alone: agent '{DESK}': its containers belong to blueprint set" in down.stdout
    logs = sets.run(sets.b, "logs", DESK, "-o", "out-b")
    assert logs.returncode == 1 and "blueprint set 'avrt-a'" in logs.stderr
    assert container_id(f"avr-core-{DESK}") == before  # neither restarted nor removed


def test_down_orphans_dry_run_lists_only_its_own_orphans_and_changes_nothing(
    sets: Sets,
) -> None:
    (sets.a / "blueprints" / "lobby.yaml").unlink()  # A's lobby is now an orphan of A
    before = {name: container_id(name) for name in (f"avr-core-{LOBBY}", f"avr-core-{BAR}")}
    dry = sets.run(sets.a, "down", "--orphans", "--dry-run", "-o", "out-a")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        f"would remove avr-sts-{LOBBY} ({LOBBY}, sts)",
        f"would remove avr-core-{LOBBY} ({LOBBY}, core)",
        "--dry-run: nothing was changed",
    ]
    assert {name: container_id(name) for name in before} == before
    # B's status has no orphans: A's lobby is not B's, though it is on B's network
    states = json.loads(sets.run(sets.b, "status", "--json", "-o", "out-b").stdout)["agents"]
    assert LOBBY not in states


def test_down_orphans_removes_only_its_own_sets(sets: Sets) -> None:
    down = sets.run(sets.a, "down", "--orphans", "-o", "out-a")
    assert down.returncode == 0, down.stderr
    assert f"removed avr-core-{LOBBY} ({LOBBY}, core)" in down.stdout
    assert BAR not in down.stdout and DESK not in down.stdout
    assert labels(f"avr-core-{LOBBY}") is None
    assert labels(f"avr-core-{BAR}") is not None and labels(f"avr-core-{DESK}") is not None


def test_take_over_replaces_the_other_sets_containers_and_says_so(sets: Sets) -> None:
    proc = sets.run(sets.b, "up", DESK, "--take-over", "-o", "out-b")
    assert proc.returncode == 0, proc.stderr
    assert "taking over 2 container(s) of blueprint set 'avrt-a'" in proc.stderr
    assert (labels(f"avr-core-{DESK}") or {})["avrgen.set"] == "avrt-b"
    working_dir = (labels(f"avr-core-{DESK}") or {})["com.docker.compose.project.working_dir"]
    assert Path(working_dir).parent == (sets.b / "out-b").resolve()
    # now A sees it as another set's: its ps lists desk as absent, its down leaves it
    ps_a = sets.run(sets.a, "ps", DESK, "--json", "-o", "out-a")
    assert {c["state"] for c in json.loads(ps_a.stdout)} == {"absent"}
    again = sets.run(sets.a, "up", DESK, "-o", "out-a")
    assert again.returncode == 1 and "blueprint set 'avrt-b'" in again.stderr
