"""Hosts whose engine does not answer (issue 18): every command names the host and its
endpoint, tells what it could, exits 1, never a traceback. The endpoints are closed ports
of this machine (nothing listens on tcp://127.0.0.1:9), reached by the real docker CLI;
no engine is needed. The hosts that answer are tested in tests/docker/test_hosts.py."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
from blueprint_folder import write_blueprints
from conftest import Avrgen

from avrgen.engine.containers import SNAPSHOT_THREAD

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI")

EDGE = "host 'edge-1' (tcp://127.0.0.1:9)"
BLUEPRINTS = """\
kind: settings
hosts:
  edge-1: {docker: "tcp://127.0.0.1:9"}
  edge-2: {docker: "tcp://127.0.0.1:7"}
---
kind: provider
name: Echo
type: STS
config: {image: example/sts:1}
---
kind: agent
name: alpha
mode: sts
providers: {sts: Echo}
host: edge-1
---
kind: agent
name: beta
mode: sts
providers: {sts: Echo}
host: edge-2
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_blueprints(tmp_path / "blueprints", {"all.yaml": BLUEPRINTS})
    return tmp_path


def test_ps_lists_the_planned_containers_unreachable(avrgen: Avrgen, root: Path) -> None:
    result = avrgen("ps", cwd=root)
    assert result.exit_code == 1
    header, *rows = result.stdout.splitlines()
    assert header.split()[:2] == ["AGENT", "HOST"]
    assert {tuple(r.split()[:5]) for r in rows} == {
        ("alpha", "edge-1", "avr-sts-alpha", "sts", "unreachable"),
        ("alpha", "edge-1", "avr-core-alpha", "core", "unreachable"),
        ("beta", "edge-2", "avr-sts-beta", "sts", "unreachable"),
        ("beta", "edge-2", "avr-core-beta", "core", "unreachable"),
    }
    assert f"error: {EDGE}: no Docker Engine reachable: " in result.stderr
    assert "2 host(s) failed" in result.stderr
    as_json = avrgen("ps", "alpha", "--json", cwd=root)
    assert as_json.exit_code == 1
    listed = json.loads(as_json.stdout)
    assert {(c["container"], c["host"], c["state"]) for c in listed} == {
        ("avr-sts-alpha", "edge-1", "unreachable"),
        ("avr-core-alpha", "edge-1", "unreachable"),
    }


def test_status_reports_the_agents_unreachable(avrgen: Avrgen, root: Path) -> None:
    result = avrgen("status", "--json", "alpha", cwd=root)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["summary"] == "1 unreachable" and not report["in_sync"]
    assert report["agents"]["alpha"]["host"] == "edge-1"
    assert report["agents"]["alpha"]["error"].startswith(EDGE)
    table = avrgen("status", cwd=root)
    assert table.exit_code == 1
    assert table.stdout.splitlines()[0].split() == ["AGENT", "HOST", "STATE", "DETAILS"]
    assert table.stdout.splitlines()[-1] == "status: 2 unreachable"
    unknown = avrgen("status", "alpah", cwd=root)
    assert unknown.exit_code == 1 and "no agent named 'alpah' (did you mean 'alpha'?)" in (
        unknown.stderr
    )


def test_up_fails_each_agent_naming_its_host(avrgen: Avrgen, root: Path) -> None:
    result = avrgen("up", "--all", "--json", cwd=root)
    assert result.exit_code == 1
    agents = {a["agent"]: a for a in json.loads(result.stdout)["agents"]}
    assert agents["alpha"]["status"] == agents["beta"]["status"] == "failed"
    assert agents["alpha"]["host"] == "edge-1"
    assert agents["alpha"]["error"].startswith(f"agent 'alpha': {EDGE}: ")
    assert "2 of 2 agent(s) failed" in result.stderr


def test_down_restart_and_logs_name_the_host(avrgen: Avrgen, root: Path) -> None:
    down = avrgen("down", "--all", cwd=root)
    assert down.exit_code == 1
    assert down.stdout == "no containers to remove\n"
    assert f"error: {EDGE}: no Docker Engine reachable: " in down.stderr
    restart = avrgen("restart", "alpha", cwd=root)
    assert restart.exit_code == 1 and f"error: {EDGE}: " in restart.stderr
    logs = avrgen("logs", "alpha", cwd=root)
    assert logs.exit_code == 1 and f"error: {EDGE}: no Docker Engine reachable" in logs.stderr
    unknown = avrgen("restart", "gamma", cwd=root)
    assert unknown.exit_code == 1 and "no agent named 'gamma'" in unknown.stderr
    orphans = avrgen("down", "--orphans", cwd=root)
    assert orphans.exit_code == 1 and "2 host(s) failed" in orphans.stderr
    gone = avrgen("down", "gamma", cwd=root)  # not in the plan: looked for on every host
    assert gone.exit_code == 1 and "no agent named 'gamma'" in gone.stderr
    assert avrgen("ps", "gamma", cwd=root).exit_code == 1


def test_ps_and_status_over_hosts_start_no_read_of_the_default_engine(
    avrgen: Avrgen,
    root: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With `hosts` (as the last render recorded), ps and status start no early read of the
    default engine (app/reading.py): it would never be asked for. Without hosts they do."""
    started: list[str] = []
    start = threading.Thread.start

    def spied(thread: threading.Thread) -> None:
        started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", spied)
    one_engine = tmp_path_factory.mktemp("one-engine")
    write_blueprints(
        one_engine / "blueprints",
        {"all.yaml": BLUEPRINTS.split("---", 1)[1].replace("host: edge-", "# ")},
    )
    for folder in (root, one_engine):
        for _ in range(2):  # the first render writes the lock: the second is recorded
            assert avrgen("render", cwd=folder).exit_code == 0
    started.clear()
    assert avrgen("ps", cwd=root).exit_code == 1  # the hosts do not answer
    assert avrgen("status", cwd=root).exit_code == 1
    assert SNAPSHOT_THREAD not in started
    avrgen("ps", cwd=one_engine)
    assert started.count(SNAPSHOT_THREAD) == 1
    avrgen("status", cwd=one_engine)
    assert started.count(SNAPSHOT_THREAD) == 2
