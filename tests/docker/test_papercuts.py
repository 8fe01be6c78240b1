"""An operator's first-week papercuts (issue 17), each on the real engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dockerenv
import pytest
from dockerenv import docker
from dockerenv import run_avrgen as avrgen

pytestmark = pytest.mark.docker

LOCK_FILE = Path("/tmp/avrgen-test-papercuts.lock")
NETWORK = "avrt-pc"
AGENT, OTHER = "avrt-pc-one", "avrt-pc-two"
BLUEPRINTS = f"""kind: settings
network: {{name: {NETWORK}, subnet: 172.31.79.0/24}}
core: {{image: {dockerenv.CORE_IMAGE}}}
---
kind: provider
name: Echo
type: STS
config: {{image: {dockerenv.PROVIDER_IMAGE}}}
---
kind: agent
name: {AGENT}
mode: sts
providers: {{sts: Echo}}
---
kind: agent
name: {OTHER}
mode: sts
providers: {{sts: Echo}}
"""


def cleanup() -> None:
    for agent in (AGENT, OTHER):
        ids = docker("ps", "-aq", "--filter", f"label=avrgen.agent={agent}").stdout.split()
        if ids:
            docker("rm", "-f", *ids)
    docker("network", "rm", NETWORK)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    with dockerenv.exclusive(LOCK_FILE, minutes=10):
        cleanup()
        folder = dockerenv.blueprint_folder(tmp_path_factory.mktemp("papercuts"), agents=BLUEPRINTS)
        up = avrgen("up", "--all", cwd=folder)
        assert up.returncode == 0, up.stderr
        yield folder
        cleanup()


def test_up_json_is_one_document_of_every_agents_outcome(root: Path) -> None:
    proc = avrgen("up", "--all", "--json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["rendered"] == [] and document["interrupted"] is None
    assert [(a["agent"], a["status"], a["error"]) for a in document["agents"]] == [
        (AGENT, "unchanged", None),
        (OTHER, "unchanged", None),
    ]
    for agent in document["agents"]:
        assert {c["state"] for c in agent["containers"]} == {"running"}
        assert sorted(c["role"] for c in agent["containers"]) == ["core", "sts"]
    assert f"[{AGENT}]" in proc.stderr  # progress stays on stderr


def test_restart_takes_parallel_and_lists_in_the_agents_order(root: Path) -> None:
    proc = avrgen("restart", "--all", "--parallel", "2", cwd=root)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split()[:2] for line in proc.stdout.splitlines()[1:]]
    assert rows == [
        [AGENT, f"avr-sts-{AGENT}"],
        [AGENT, f"avr-core-{AGENT}"],
        [OTHER, f"avr-sts-{OTHER}"],
        [OTHER, f"avr-core-{OTHER}"],
    ]
    assert f"[{AGENT}] restarted" in proc.stderr and f"[{OTHER}] restarted" in proc.stderr


def test_status_names_the_one_missing_container(root: Path) -> None:
    assert docker("rm", "-f", f"avr-sts-{AGENT}").returncode == 0
    proc = avrgen("status", cwd=root)
    assert proc.returncode == 0, proc.stderr
    line = next(row for row in proc.stdout.splitlines() if row.startswith(AGENT))
    assert f"avr-sts-{AGENT} (sts):" in line, proc.stdout
    assert "no containers" not in proc.stdout


def test_ps_without_blueprints_says_so(root: Path, tmp_path: Path) -> None:
    proc = avrgen("ps", cwd=tmp_path)  # no blueprints/ here
    assert proc.returncode == 1
    assert "blueprints: blueprint folder not found" in proc.stderr
    assert proc.stdout == ""  # not every avrgen container of the engine
