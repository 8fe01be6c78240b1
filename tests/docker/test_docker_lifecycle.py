"""The lifecycle on a real Docker Engine: `avrgen up/ps/logs/restart/down`, real containers.

Blueprints live in a tmp folder and point at the local test images (tests/docker/images):
`avrgen-test/provider:1` answers HTTP on $PORT, `avrgen-test/core:1` checks that every URL
it was given answers and reports it on $HTTP_PORT/report. Agent names, the network and the
port ranges are this module's own (t3-*, avrgen-t3*, 25xxx-27xxx), so the tests do not
collide with anything else on the engine; everything they create is removed at the end,
also on failure.

The CLI runs as a real process (`python -m avrgen`): exit codes, stdout and stderr are what
an operator sees, and a traceback fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import dockerenv
import pytest

from avrgen.app.project import Paths, Project
from avrgen.model.blueprint import Secret
from avrgen.model.plan import Plan
from tests.conftest import REPO

pytestmark = pytest.mark.docker
T = TypeVar("T")

NETWORK, SUBNET = "avrgen-t3", "10.213.47.0/24"
PAR_NETWORK, PAR_SUBNET, PAR_OTHER_SUBNET = "avrgen-t3p", "10.213.48.0/24", "10.213.49.0/24"
TAKEN_PORT = 25149
LOCK_FILE = Path(tempfile.gettempdir()) / "avrgen-test-docker-lifecycle.lock"
MAIN_AGENTS = ("t3-pipe", "t3-sts", "t3-crash", "t3-noimg", "t3-port", "t3-secret")
PAR_AGENTS = ("t3p-a", "t3p-b", "t3p-c")
TOKEN = "tok-4f1c2a9e77d0b3"  # a value found nowhere but in the secrets file
WEBHOOK = 'we$ird "value" #1 ${HOME}'  # reaches the container exactly, no interpolation

BLUEPRINTS = f"""\
kind: settings
network: {{name: {NETWORK}, subnet: {SUBNET}}}
ports: {{core: 25100-25149, http: 27100-27149, providers: 26100-26149}}
core: {{image: "{dockerenv.CORE_IMAGE}", env: {{CHECK_INTERVAL: "1"}}}}
---
kind: provider
name: T3 ASR
type: ASR
config: {{image: "{dockerenv.PROVIDER_IMAGE}", env: {{ODD: "0123", DOLLAR: "$HOME", NO: "no"}}}}
---
kind: provider
name: T3 LLM
type: LLM
config:
  image: "{dockerenv.PROVIDER_IMAGE}"
  env:
    LLM_TOKEN: {{secret: T3_LLM_TOKEN}}
    PROMPT: "a #b: c"
---
kind: provider
name: T3 TTS
type: TTS
config: {{image: "{dockerenv.PROVIDER_IMAGE}"}}
---
kind: provider
name: T3 STS
type: STS
config: {{image: "{dockerenv.PROVIDER_IMAGE}", env: {{GREETING: "  hello, world  "}}}}
---
kind: provider
name: T3 STS crashing
type: STS
config: {{image: "{dockerenv.PROVIDER_IMAGE}", env: {{CRASH: "1"}}}}
---
kind: provider
name: T3 STS secret
type: STS
config: {{image: "{dockerenv.PROVIDER_IMAGE}", env: {{KEY: {{secret: T3_NEVER_SET}}}}}}
---
kind: agent
name: t3-pipe
mode: pipeline
providers: {{asr: T3 ASR, llm: T3 LLM, tts: T3 TTS}}
env: {{LOG_LEVEL: debug}}
core: {{publish: true, env: {{WEBHOOK_SECRET: {{secret: T3_WEBHOOK}}}}}}
---
kind: agent
name: t3-sts
mode: sts
providers: {{sts: T3 STS}}
core: {{publish: true}}
---
kind: agent
name: t3-crash
mode: sts
providers: {{sts: T3 STS crashing}}
---
kind: agent
name: t3-noimg
mode: sts
providers: {{sts: T3 STS}}
core: {{image: "avrgen-test/absent:0"}}
---
kind: agent
name: t3-port
mode: sts
providers: {{sts: T3 STS}}
core: {{publish: true}}
ports: {{core: {TAKEN_PORT}}}
---
kind: agent
name: t3-secret
mode: sts
providers: {{sts: T3 STS secret}}
"""

PAR_BLUEPRINTS = f"""\
kind: settings
network: {{name: {PAR_NETWORK}, subnet: {PAR_SUBNET}}}
ports: {{core: 25200-25249, http: 27200-27249, providers: 26200-26249}}
core: {{image: "{dockerenv.CORE_IMAGE}", env: {{CHECK_INTERVAL: "1"}}}}
---
kind: provider
name: P STS
type: STS
config: {{image: "{dockerenv.PROVIDER_IMAGE}"}}
""" + "".join(
    f"---\nkind: agent\nname: {name}\nmode: sts\nproviders: {{sts: P STS}}\n" for name in PAR_AGENTS
)


# -- helpers ---------------------------------------------------------------------------


def avrgen(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AVRGEN_BLUEPRINTS", "AVRGEN_OUTPUT", "AVRGEN_SECRETS", "T3_"))
    }
    proc = subprocess.run(
        [sys.executable, "-m", "avrgen", *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=60, check=False
    )


def inspect(name: str) -> dict | None:
    proc = docker("container", "inspect", name)
    return json.loads(proc.stdout)[0] if proc.returncode == 0 else None


def running(name: str) -> dict:
    info = inspect(name)
    assert info is not None, f"no container {name}"
    return info


def env_of(name: str) -> dict[str, str]:
    return dict(e.split("=", 1) for e in running(name)["Config"]["Env"])


def agent_containers(agent: str) -> list[str]:
    """Every container of an agent, by avrgen's label or compose's project label."""
    found: set[str] = set()
    for label in (f"avrgen.agent={agent}", f"com.docker.compose.project=avr-{agent}"):
        proc = docker("ps", "-aq", "--filter", f"label={label}")
        found.update(proc.stdout.split())
    return sorted(found)


def cleanup(agents: tuple[str, ...], networks: tuple[str, ...]) -> None:
    ids = sorted({i for agent in agents for i in agent_containers(agent)})
    if ids:
        docker("rm", "-f", *ids)
    for network in networks:
        docker("network", "rm", network)


def http_get(url: str, timeout: float = 3.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


def wait_for(check: Callable[[], T | None], timeout: float = 30.0) -> T | None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except OSError:
            pass
        if time.monotonic() > deadline:
            return check()
        time.sleep(0.5)


def expected_env(plan: Plan, agent: str, role: str, secrets: dict[str, str]) -> dict[str, str]:
    container = next(c for c in plan.agents[agent].containers if c.role == role)
    return {k: secrets[v.secret] if isinstance(v, Secret) else v for k, v in container.env}


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> Iterator[None]:
    """The engine and the test images; one run of this module at a time on this machine
    (two would share the same agent names, network and ports)."""
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    with dockerenv.exclusive(LOCK_FILE, minutes=10):
        yield


@pytest.fixture(scope="module")
def workdir(engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    secrets = (
        f"# secrets of the lifecycle tests\nT3_LLM_TOKEN={TOKEN}\nexport T3_WEBHOOK='{WEBHOOK}'\n"
    )
    root = dockerenv.blueprint_folder(
        tmp_path_factory.mktemp("lifecycle"), secrets, agents=BLUEPRINTS
    )
    cleanup(MAIN_AGENTS, (NETWORK,))
    yield root
    cleanup(MAIN_AGENTS, (NETWORK,))


@pytest.fixture(scope="module")
def plan(workdir: Path) -> Plan:
    return Project(Paths(workdir / "blueprints", workdir / "output")).plan()[0]


@pytest.fixture(scope="module")
def brought_up(workdir: Path) -> subprocess.CompletedProcess[str]:
    """`avrgen up` of a pipeline agent and an STS agent, once for the module."""
    proc = avrgen("up", "t3-pipe", "t3-sts", "--secrets-file", "secrets.env", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    return proc


# -- up of a pipeline agent and an STS agent ---------------------------------------------


def test_up_renders_creates_network_and_reports(
    brought_up: subprocess.CompletedProcess[str],
) -> None:
    assert f"created network {NETWORK} (subnet {SUBNET})" in brought_up.stderr
    assert "[t3-pipe]" in brought_up.stderr and "[t3-sts]" in brought_up.stderr
    lines = brought_up.stdout.splitlines()
    assert lines[0].split() == ["AGENT", "RESULT", "CONTAINERS", "PORTS", "TIME"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows["t3-pipe"][1:3] == ["started", "4/4"]
    assert rows["t3-sts"][1:3] == ["started", "2/2"]
    network = json.loads(docker("network", "inspect", NETWORK).stdout)[0]
    assert [c["Subnet"] for c in network["IPAM"]["Config"]] == [SUBNET]


def test_containers_named_as_the_platform_on_the_shared_network(
    brought_up: subprocess.CompletedProcess[str], plan: Plan
) -> None:
    expected = {
        "t3-pipe": ["avr-asr-t3-pipe", "avr-llm-t3-pipe", "avr-tts-t3-pipe", "avr-core-t3-pipe"],
        "t3-sts": ["avr-sts-t3-sts", "avr-core-t3-sts"],
    }
    for agent, names in expected.items():
        assert [c.name for c in plan.agents[agent].containers] == names
        assert len(agent_containers(agent)) == len(names)
        for name in names:
            info = inspect(name)
            assert info is not None, name
            assert info["State"]["Status"] == "running"
            assert info["State"]["Health"]["Status"] == "healthy"
            assert list(info["NetworkSettings"]["Networks"]) == [NETWORK]
            labels = info["Config"]["Labels"]
            assert labels["avrgen.agent"] == agent
            assert labels["avrgen.managed"] == "true"
            assert labels["com.docker.compose.project"] == f"avr-{agent}"
            assert labels["agentName"] == name


def test_env_exactly_as_planned(brought_up: subprocess.CompletedProcess[str], plan: Plan) -> None:
    secrets = {"T3_LLM_TOKEN": TOKEN, "T3_WEBHOOK": WEBHOOK}
    image_env = {}
    for image in (dockerenv.PROVIDER_IMAGE, dockerenv.CORE_IMAGE):
        data = json.loads(docker("image", "inspect", image).stdout)[0]
        image_env[image] = dict(e.split("=", 1) for e in data["Config"]["Env"] or [])
    for agent in ("t3-pipe", "t3-sts"):
        for container in plan.agents[agent].containers:
            info = inspect(container.name)
            assert info is not None
            actual = dict(e.split("=", 1) for e in info["Config"]["Env"])
            want = expected_env(plan, agent, container.role, secrets)
            for key, value in image_env[container.image].items():
                want.setdefault(key, value)  # the image's own ENV (PATH)
            assert actual == want, container.name
    core = env_of("avr-core-t3-pipe")
    assert core["WEBHOOK_SECRET"] == WEBHOOK
    asr = env_of("avr-asr-t3-pipe")
    assert (asr["ODD"], asr["DOLLAR"], asr["NO"]) == ("0123", "$HOME", "no")


def test_core_reaches_every_provider_by_url(
    brought_up: subprocess.CompletedProcess[str], plan: Plan
) -> None:
    for agent, urls in (("t3-pipe", ("ASR_URL", "LLM_URL", "TTS_URL")), ("t3-sts", ("STS_URL",))):
        core = plan.agents[agent].core
        report_url = f"http://127.0.0.1:{core.http_port}/report"

        def all_ok(url: str = report_url, count: int = len(urls)) -> str | None:
            _, text = http_get(url)
            return text if text.count(" ok") == count else None

        report = wait_for(all_ok, timeout=20)
        assert report, f"{agent}: core did not reach every provider"
        env = dict(core.env)
        for var in urls:
            assert f"{var}={env[var]} ok" in report
        status, _ = http_get(f"http://127.0.0.1:{core.http_port}/ready")
        assert status == 200


def test_published_core_ports_answer_on_the_host(
    brought_up: subprocess.CompletedProcess[str], plan: Plan
) -> None:
    for agent in ("t3-pipe", "t3-sts"):
        core = plan.agents[agent].core
        assert core.published == (core.port, core.http_port)
        status, body = http_get(f"http://127.0.0.1:{core.http_port}/health")
        assert (status, body.strip()) == (200, "ok")
        with socket.create_connection(("127.0.0.1", core.port), timeout=3) as conn:
            conn.sendall(b"\x10\x00\x00")  # AudioSocket: the listener accepts the stream


def test_secrets_from_the_file_reach_only_the_containers(
    brought_up: subprocess.CompletedProcess[str], workdir: Path
) -> None:
    llm = env_of("avr-llm-t3-pipe")
    assert llm["LLM_TOKEN"] == TOKEN
    for path in workdir.rglob("*"):
        if path.is_file() and path.name != "secrets.env":
            text = path.read_text(encoding="utf-8", errors="replace")
            assert TOKEN not in text and "we$ird" not in text, path
    assert TOKEN not in brought_up.stdout + brought_up.stderr
    assert "we$ird" not in brought_up.stdout + brought_up.stderr


def test_up_twice_changes_nothing(
    brought_up: subprocess.CompletedProcess[str], workdir: Path
) -> None:
    names = ["avr-asr-t3-pipe", "avr-core-t3-pipe", "avr-sts-t3-sts", "avr-core-t3-sts"]
    before = {n: (running(n)["Id"], running(n)["State"]["StartedAt"]) for n in names}
    again = avrgen("up", "t3-pipe", "t3-sts", "--secrets-file", "secrets.env", cwd=workdir)
    assert again.returncode == 0, again.stderr
    rows = {line.split()[0]: line.split()[1] for line in again.stdout.splitlines()[1:]}
    assert rows == {"t3-pipe": "unchanged", "t3-sts": "unchanged"}
    assert "created network" not in again.stderr
    after = {n: (running(n)["Id"], running(n)["State"]["StartedAt"]) for n in names}
    assert after == before


def test_no_render_runs_fresh_output(
    brought_up: subprocess.CompletedProcess[str], workdir: Path
) -> None:
    proc = avrgen("up", "t3-sts", "--no-render", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert "unchanged" in proc.stdout


def test_ps_table_and_json(brought_up: subprocess.CompletedProcess[str], workdir: Path) -> None:
    proc = avrgen("ps", "t3-pipe", "t3-sts", "--json", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["agent"], r["role"]) for r in rows] == [
        ("t3-pipe", "asr"),
        ("t3-pipe", "llm"),
        ("t3-pipe", "tts"),
        ("t3-pipe", "core"),
        ("t3-sts", "sts"),
        ("t3-sts", "core"),
    ]
    assert {(r["state"], r["health"], r["orphan"]) for r in rows} == {("running", "healthy", False)}
    core = next(r for r in rows if r["container"] == "avr-core-t3-pipe")
    port = running("avr-core-t3-pipe")["Config"]["Env"]
    http_port = dict(e.split("=", 1) for e in port)["HTTP_PORT"]
    assert f"{http_port}->{http_port}/tcp" in core["ports"]
    table = avrgen("ps", "t3-sts", cwd=workdir)
    assert table.stdout.splitlines()[0].split() == [
        "AGENT",
        "CONTAINER",
        "ROLE",
        "STATE",
        "HEALTH",
        "PORTS",
    ]
    assert ["t3-sts", "avr-sts-t3-sts", "sts", "running", "healthy", "-"] in [
        line.split() for line in table.stdout.splitlines()
    ]


def test_ps_of_an_agent_not_up_lists_it_absent(workdir: Path, engine: None) -> None:
    proc = avrgen("ps", "t3-crash", "--json", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert {(r["container"], r["state"]) for r in json.loads(proc.stdout)} == {
        ("avr-sts-t3-crash", "absent"),
        ("avr-core-t3-crash", "absent"),
    }


def test_logs_of_a_role(
    brought_up: subprocess.CompletedProcess[str], workdir: Path, plan: Plan
) -> None:
    proc = avrgen("logs", "t3-sts", "--role", "sts", "--tail", "5", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    port = plan.agents["t3-sts"].containers[0].port
    assert proc.stdout.endswith(f"serving HTTP on port {port}\n")
    assert proc.stdout.startswith("avr-sts-t3-sts | avrgen-test/provider: ")
    assert "avr-core-t3-sts" not in proc.stdout
    both = avrgen("logs", "t3-sts", cwd=workdir)
    assert "avr-core-t3-sts | avrgen-test/core" in both.stdout
    # -f: lines as they come, until interrupted
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AVRGEN_", "T3_")) or k == "AVRGEN_STATE"
    }
    with subprocess.Popen(
        [sys.executable, "-m", "avrgen", "logs", "t3-sts", "-f", "--tail", "1"],
        cwd=workdir,
        env=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a Ctrl-C reaches it even when this suite runs in the background (where a shell
        # without job control starts every process with SIGINT ignored, which Python keeps)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as follow:
        assert follow.stdout is not None
        first = {follow.stdout.readline().split(" | ")[0] for _ in range(2)}
        assert follow.poll() is None  # still following
        follow.send_signal(signal.SIGINT)  # Ctrl-C: a message, no traceback
        _, err = follow.communicate(timeout=10)
        assert follow.returncode != 0 and "Traceback" not in err
    assert first == {"avr-sts-t3-sts", "avr-core-t3-sts"}
    leftover = subprocess.run(
        ["pgrep", "-f", "logs --follow --tail 1 "], capture_output=True, text=True, check=False
    )
    assert leftover.stdout == "", "docker logs --follow processes left behind"
    bad = avrgen("logs", "t3-sts", "--role", "asr", cwd=workdir)
    assert bad.returncode == 1
    assert "has no container with role 'asr' (roles: core, sts)" in bad.stderr


def test_restart_waits_until_healthy(
    brought_up: subprocess.CompletedProcess[str], workdir: Path
) -> None:
    before = running("avr-sts-t3-sts")["State"]["StartedAt"]
    proc = avrgen("restart", "t3-sts", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert "[t3-sts] restarted" in proc.stderr
    state = running("avr-sts-t3-sts")["State"]
    assert state["StartedAt"] != before
    assert (state["Status"], state["Health"]["Status"]) == ("running", "healthy")


# -- several agents in parallel ----------------------------------------------------------


@pytest.fixture(scope="module")
def par_workdir(engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = dockerenv.blueprint_folder(tmp_path_factory.mktemp("parallel"), agents=PAR_BLUEPRINTS)
    cleanup(PAR_AGENTS, (PAR_NETWORK,))
    yield root
    cleanup(PAR_AGENTS, (PAR_NETWORK,))


def test_up_all_in_parallel_on_an_existing_network(par_workdir: Path) -> None:
    # the network exists already, with another subnet than configured (an earlier avrgen
    # made it, under other settings: its label): used, with a warning, and removed later
    made = docker(
        "network", "create", "--subnet", PAR_OTHER_SUBNET, "--label", "avrgen.managed=true",
        PAR_NETWORK,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    start = time.monotonic()
    proc = avrgen("up", "--all", "--parallel", "3", cwd=par_workdir)
    took = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    assert (
        f"warning: network {PAR_NETWORK} exists with subnet {PAR_OTHER_SUBNET}, "
        f"not {PAR_SUBNET} as configured" in proc.stderr
    )
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[1:]}
    assert sorted(rows) == list(PAR_AGENTS)
    assert {tuple(r[1:3]) for r in rows.values()} == {("started", "2/2")}
    for agent in PAR_AGENTS:
        assert f"[{agent}] started: 2 healthy" in proc.stderr
        for name in (f"avr-sts-{agent}", f"avr-core-{agent}"):
            info = inspect(name)
            assert info is not None and info["State"]["Health"]["Status"] == "healthy"
            assert list(info["NetworkSettings"]["Networks"]) == [PAR_NETWORK]
    # in parallel: the agents' times overlap, so together they add up to more than it took
    seconds = sum(float(r[-1].rstrip("s")) for r in rows.values())
    assert took < seconds


def test_down_all_keeps_a_network_in_use_then_removes_it(par_workdir: Path) -> None:
    helper = "avrgen-t3p-squatter"
    docker("rm", "-f", helper)
    image = dockerenv.PROVIDER_IMAGE
    run = docker("run", "-d", "--name", helper, "--network", PAR_NETWORK, "-e", "PORT=80", image)
    assert run.returncode == 0, run.stderr
    try:
        proc = avrgen("down", "--all", "--network", cwd=par_workdir)
        assert proc.returncode == 0, proc.stderr
        assert f"network {PAR_NETWORK} kept: used by {helper}" in proc.stdout
        for agent in PAR_AGENTS:
            assert f"removed avr-core-{agent} ({agent}, core)" in proc.stdout
            assert agent_containers(agent) == []
    finally:
        docker("rm", "-f", helper)
    proc = avrgen("down", "--network", cwd=par_workdir)
    assert proc.returncode == 0, proc.stderr
    assert f"removed network {PAR_NETWORK}" in proc.stdout
    assert docker("network", "inspect", PAR_NETWORK).returncode != 0


# -- faults ------------------------------------------------------------------------------


def test_missing_secret_fails_before_anything_starts(workdir: Path, engine: None) -> None:
    proc = avrgen("up", "t3-secret", "t3-pipe", cwd=workdir, env={"T3_WEBHOOK": "x"})
    assert proc.returncode == 1
    assert "nothing was started" in proc.stderr
    assert "  T3_LLM_TOKEN (needed by t3-pipe)" in proc.stderr
    assert "  T3_NEVER_SET (needed by t3-secret)" in proc.stderr
    assert "T3_WEBHOOK" not in proc.stderr
    assert agent_containers("t3-secret") == []


def test_crash_during_wait_shows_the_log(workdir: Path, engine: None) -> None:
    try:
        proc = avrgen("up", "t3-crash", "--timeout", "60", cwd=workdir)
        assert proc.returncode == 1
        assert "agent 't3-crash': container(s) failed while `up --wait` waited" in proc.stderr
        assert "avr-sts-t3-crash (sts):" in proc.stderr and "exit code 1" in proc.stderr
        assert "| avrgen-test/provider: CRASH=1 set, exiting with status 1" in proc.stderr
        assert "1 of 1 agent(s) failed" in proc.stderr
        assert "t3-crash  failed" in proc.stdout
    finally:
        down = avrgen("down", "t3-crash", cwd=workdir)
    assert down.returncode == 0, down.stderr
    assert agent_containers("t3-crash") == []


def test_image_missing_and_not_pullable(workdir: Path, engine: None) -> None:
    proc = avrgen("up", "t3-noimg", cwd=workdir)
    assert proc.returncode == 1
    assert (
        "agent 't3-noimg': image avrgen-test/absent:0 (core) is not available locally "
        "and could not be pulled: " in proc.stderr
    )
    assert agent_containers("t3-noimg") == []


def test_host_port_taken(workdir: Path, engine: None) -> None:
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", TAKEN_PORT))
        squatter.listen()
        proc = avrgen("up", "t3-port", cwd=workdir)
    assert proc.returncode == 1
    assert (
        f"host port {TAKEN_PORT} (agent 't3-port', role core, container avr-core-t3-port) "
        "is already taken by another process on this host" in proc.stderr
    )
    assert agent_containers("t3-port") == []


def test_unknown_agent_suggests_the_nearest(workdir: Path, engine: None) -> None:
    for command in (["up"], ["down"], ["ps"], ["restart"], ["logs"]):
        proc = avrgen(*command, "t3-pipf", cwd=workdir)
        assert proc.returncode == 1, command
        assert "no agent named 't3-pipf' (did you mean 't3-pipe'?)" in proc.stderr, command


def test_engine_unreachable(workdir: Path, tmp_path: Path) -> None:
    dead = f"unix://{tmp_path}/no-docker.sock"
    for command in (["up", "t3-sts"], ["ps"], ["down", "t3-sts"]):
        proc = avrgen(*command, cwd=workdir, env={"DOCKER_HOST": dead})
        assert proc.returncode == 1, command
        assert f"error: no Docker Engine reachable at DOCKER_HOST={dead}: " in proc.stderr


def test_docker_cli_missing(workdir: Path) -> None:
    proc = avrgen("ps", cwd=workdir, env={"PATH": "/nonexistent"})
    assert proc.returncode == 1
    assert "error: the docker CLI is not installed (no `docker` on PATH)" in proc.stderr


def test_compose_plugin_missing(workdir: Path, tmp_path: Path) -> None:
    """A real docker CLI that finds no compose plugin: the plugin folders hidden by a
    private mount namespace (root's `unshare -m`)."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare(1) to hide the compose plugin")
    empty, config = tmp_path / "empty", tmp_path / "docker-config"
    empty.mkdir()
    config.mkdir()
    dirs = [
        d
        for d in (
            "/usr/local/lib/docker/cli-plugins",
            "/usr/local/libexec/docker/cli-plugins",
            "/usr/lib/docker/cli-plugins",
            "/usr/libexec/docker/cli-plugins",
        )
        if Path(d).is_dir()
    ]
    mounts = "".join(f"mount --bind {empty} {d} && " for d in dirs)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AVRGEN_", "T3_")) or k == "AVRGEN_STATE"
    }
    env["DOCKER_CONFIG"] = str(config)
    # an agent not running, which compose must start (one in sync needs no compose at all)
    command = f"{mounts}exec {sys.executable} -m avrgen up t3-crash"
    proc = subprocess.run(
        [unshare, "-m", "sh", "-c", command],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "unshare failed" in proc.stderr or "mount:" in proc.stderr:
        pytest.skip(f"cannot hide the compose plugin here: {proc.stderr.strip()}")
    assert proc.returncode == 1, proc.stderr
    assert "error: the Docker Compose v2 plugin is missing" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- down, last: it removes what the tests above brought up -------------------------------


def test_down_leaves_nothing_of_the_agent(
    brought_up: subprocess.CompletedProcess[str], workdir: Path
) -> None:
    proc = avrgen("down", "t3-pipe", cwd=workdir)
    assert proc.returncode == 0, proc.stderr
    assert agent_containers("t3-pipe") == []
    assert "removed avr-core-t3-pipe (t3-pipe, core)" in proc.stdout
    assert inspect("avr-sts-t3-sts") is not None  # the other agent is untouched
    # the shared network stays while t3-sts uses it; --network removes it once unused
    kept = avrgen("down", "t3-pipe", "--network", cwd=workdir)
    assert "no containers to remove" in kept.stdout
    assert f"network {NETWORK} kept: used by avr-core-t3-sts, avr-sts-t3-sts" in kept.stdout
    last = avrgen("down", "t3-sts", "--network", cwd=workdir)
    assert last.returncode == 0, last.stderr
    assert agent_containers("t3-sts") == []
    assert f"removed network {NETWORK}" in last.stdout
    assert docker("network", "inspect", NETWORK).returncode != 0


def test_down_orphans_finds_agents_whose_blueprint_is_gone(
    workdir: Path, tmp_path: Path, engine: None
) -> None:
    """An agent brought up, then deleted from the blueprints: ps marks it, down --orphans
    (or down NAME) still finds its containers by their labels."""
    bp = tmp_path / "blueprints"
    bp.mkdir()
    text = BLUEPRINTS.replace(NETWORK, "avrgen-t3o").replace(SUBNET, "10.213.50.0/24")
    (bp / "agents.yaml").write_text(text, encoding="utf-8")
    try:
        proc = avrgen("up", "t3-sts", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        (bp / "agents.yaml").write_text(text.replace("name: t3-sts", "name: t3-other"))
        ps = avrgen("ps", cwd=tmp_path)
        assert ps.stdout.splitlines()[1].split()[:3] == ["t3-sts", "(orphan)", "avr-sts-t3-sts"]
        down = avrgen("down", "--orphans", "--network", cwd=tmp_path)
        assert down.returncode == 0, down.stderr
        assert "removed avr-sts-t3-sts (t3-sts, sts)" in down.stdout
        assert "removed network avrgen-t3o" in down.stdout
        assert agent_containers("t3-sts") == []
    finally:
        cleanup(("t3-sts",), ("avrgen-t3o",))


# -- the bundled blueprints, images resolved to the local stand-ins ------------------------


def test_bundled_blueprints_all_healthy(engine: None, tmp_path: Path) -> None:
    """What the README shows: tests/local_images.py tags the stand-ins under the bundled
    image names, then `avrgen up --all` on the bundled blueprints, unchanged."""
    import local_images

    repo = REPO
    shutil.copytree(repo / "blueprints", tmp_path / "blueprints")
    shutil.copytree(repo / "output", tmp_path / "output")
    plan = Project(Paths(tmp_path / "blueprints", tmp_path / "output")).plan()[0]
    names = [c.name for a in plan.agents.values() for c in a.containers]
    stack = plan.telephony  # the bundled blueprints may route calls: the stand-in Asterisk
    if stack is not None:
        names += [stack.asterisk, *([stack.ami] if stack.ami else [])]
    taken = [name for name in names if inspect(name)]
    if taken:
        pytest.skip(f"bundled agents already run on this engine: {', '.join(taken)}")
    had_network = docker("network", "inspect", plan.network.name).returncode == 0
    state = ("--state", str(tmp_path / "state"))  # the telephony secrets: not the server's
    secrets = tmp_path / "demo.env"
    secrets.write_text(local_images.placeholder_secrets(tmp_path / "blueprints"))
    tagged = local_images.tag(tmp_path / "blueprints")
    try:
        up = avrgen("up", "--all", "--secrets-file", str(secrets), *state, cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        ps = avrgen("ps", "--json", cwd=tmp_path)
        rows = json.loads(ps.stdout)
        if stack is not None:
            telephony = sorted(r["container"] for r in rows if r["telephony"])
            assert telephony == sorted([stack.asterisk, *([stack.ami] if stack.ami else [])])
            rows = [r for r in rows if not r["telephony"]]
        assert sorted({r["agent"] for r in rows}) == sorted(plan.agents)
        assert len(rows) == sum(len(a.containers) for a in plan.agents.values())
        assert {(r["state"], r["health"]) for r in rows} == {("running", "healthy")}
        billing = plan.agents["billing"].core

        def all_three_ok() -> str | None:
            _, text = http_get(f"http://127.0.0.1:{billing.http_port}/report")
            return text if text.count(" ok") == 3 else None

        report = wait_for(all_three_ok)
        assert report and "ASR_URL=http://avr-asr-billing:" in report
    finally:
        down = avrgen(
            "down", "--all", "--telephony", *state, *([] if had_network else ["--network"]),
            cwd=tmp_path,
        )  # fmt: skip
        cleanup(tuple(plan.agents), ())
        local_images.untag(tmp_path / "blueprints")
    assert down.returncode == 0, down.stderr
    assert tagged and all(local_images.image_id(i) is None for i in tagged)
