"""A hosts inventory without Swarm (issue 18): `hosts:` in the settings, `host:` per agent,
on two real engines that are hosts of their own (network namespaces, tests/cluster.py, with
a prefix and addresses of this module's own: avrh-*, 10.78.0.N): edge-1 over ssh
(ssh://root@10.78.0.1, an sshd of the test's own in edge-1's namespace: tests/ssh_host.py),
edge-2 over TCP with TLS (tcp://10.78.0.2:2376, --tlsverify, the client's files beside the
blueprints). avrgen runs as an operator runs it, with no DOCKER_HOST: the machine's own
engine is not used (no agent is placed on it). The telephony stack runs on edge-1, and a
call to an agent on edge-2 crosses hosts.

The tests run in order and share the agents: up on both hosts, ps/status/logs/restart per
host, the same pinned port on both hosts, edge-2's engine stopped (only its agents fail,
the host named), down on both.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import cluster
import dockerenv
import pytest
import ssh_host
from cluster import Cluster, Node

pytestmark = pytest.mark.docker

LOCK_FILE = Path(tempfile.gettempdir()) / "avrgen-hosts-tests.lock"
PREFIX, NET = "avrh", "10.78.0"
NETWORK, SUBNET = "avrgen-hs", "10.213.79.0/24"
ONE, TWO, THREE = "hs-one", "hs-two", "hs-three"
EDGE_1, EDGE_2 = f"ssh://root@{NET}.1", f"tcp://{NET}.2:2376"
CLIENT_ENV: dict[str, str] = {}  # while the hosts run: the PATH whose `ssh` reaches edge-1
PIN = 35301  # pinned by hs-one on edge-1 and by hs-two on edge-2: unique per host

BLUEPRINTS = f"""\
kind: settings
network: {{name: {NETWORK}, subnet: {SUBNET}}}
ports: {{core: 35300-35349, http: 37300-37349, providers: 36300-36349}}
core: {{image: "{dockerenv.CORE_IMAGE}", env: {{CHECK_INTERVAL: "1"}}}}
hosts:
  edge-1: {{docker: "{EDGE_1}"}}
  edge-2:
    docker: "{EDGE_2}"
    tls: {{ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem}}
telephony:
  host: edge-1
  asterisk: {{image: "{dockerenv.ASTERISK_IMAGE}"}}
---
kind: number
number: "5001"
agent: {ONE}
---
kind: number
number: "5002"
agent: {TWO}
---
kind: provider
name: HS STS
type: STS
config: {{image: "{dockerenv.PROVIDER_IMAGE}"}}
---
kind: provider
name: HS ASR
type: ASR
config: {{image: "{dockerenv.PROVIDER_IMAGE}"}}
---
kind: provider
name: HS LLM
type: LLM
config: {{image: "{dockerenv.PROVIDER_IMAGE}"}}
---
kind: provider
name: HS TTS
type: TTS
config: {{image: "{dockerenv.PROVIDER_IMAGE}"}}
---
kind: agent
name: {ONE}
mode: sts
providers: {{sts: HS STS}}
host: edge-1
ports: {{core: {PIN}}}
core: {{publish: {{host_ip: {NET}.1}}}}
---
kind: agent
name: {TWO}
mode: sts
providers: {{sts: HS STS}}
host: edge-2
ports: {{core: {PIN}}}
core: {{publish: {{host_ip: {NET}.2}}}}
---
kind: agent
name: {THREE}
mode: pipeline
providers: {{asr: HS ASR, llm: HS LLM, tts: HS TTS}}
host: edge-2
"""


def openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=60)


def make_certs(server: Path, client: Path, address: str) -> None:
    """A CA, the engine's certificate for `address` (in `server`) and a client's (in
    `client`, as ca.pem, cert.pem, key.pem)."""
    for folder in (server, client):
        folder.mkdir(parents=True, exist_ok=True)
    key = ("-newkey", "rsa:2048", "-nodes")
    openssl(server, "req", "-x509", *key, "-keyout", "ca-key.pem", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=avrgen-test-ca")  # fmt: skip
    for name, ext in (
        ("server", f"subjectAltName=IP:{address}\nextendedKeyUsage=serverAuth\n"),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ):
        (server / f"{name}.ext").write_text(ext)
        openssl(server, "req", *key, "-keyout", f"{name}-key.pem", "-out", f"{name}.csr",
                "-subj", f"/CN={name}")  # fmt: skip
        openssl(server, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey",
                "ca-key.pem", "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                "-extfile", f"{name}.ext")  # fmt: skip
    (client / "ca.pem").write_bytes((server / "ca.pem").read_bytes())
    (client / "cert.pem").write_bytes((server / "client.pem").read_bytes())
    (client / "key.pem").write_bytes((server / "client-key.pem").read_bytes())


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dockerenv.blueprint_folder(tmp_path_factory.mktemp("hosts"), all=BLUEPRINTS)


@pytest.fixture(scope="module")
def nodes(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """edge-1 (node 1, plain TCP) and edge-2 (node 2, TLS), each with the test images."""
    reason = cluster.why_not() or dockerenv.engine_available()
    if reason is None and subprocess.run(["which", "openssl"], capture_output=True).returncode:
        reason = "no `openssl` on PATH (apt-get install openssl): the TLS host needs it"
    reason = reason or ssh_host.why_not()
    if reason:
        dockerenv.unavailable(reason)
    dockerenv.ensure_test_images()
    server = tmp_path_factory.mktemp("engine-tls")
    make_certs(server, root / "blueprints" / "certs", f"{NET}.2")

    def listen(node: Node) -> list[str]:
        if node.index == 1:  # its own unix socket only: reached over ssh
            return []
        tls = [f"--tlscacert={server / 'ca.pem'}", f"--tlscert={server / 'server.pem'}"]
        return ["-H", EDGE_2, "--tlsverify", *tls, f"--tlskey={server / 'server-key.pem'}"]

    images = (dockerenv.PROVIDER_IMAGE, dockerenv.CORE_IMAGE, dockerenv.ASTERISK_IMAGE)
    with dockerenv.exclusive(LOCK_FILE, minutes=10):
        two = Cluster(2, images=images, prefix=PREFIX, net=NET, dockerd_args=listen)
        try:
            with two.running(), ssh_host.ssh_engine(two.nodes[0], server / "ssh") as env:
                CLIENT_ENV.update(env)
                yield two
        except (RuntimeError, AssertionError) as exc:
            pytest.fail(f"the hosts' engines: {exc}", pytrace=False)
        finally:
            CLIENT_ENV.clear()


def avrgen(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m avrgen ARGS` in `root` with no DOCKER_* setting: the hosts say where."""
    return python(root, "-m", "avrgen", *args)


def python(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python ARGS` in `root`, with avrgen's environment (no DOCKER_* setting)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DOCKER_", "AVRGEN_")) or k == "AVRGEN_STATE"
    } | CLIENT_ENV
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def names_on(node: Node) -> set[str]:
    return set(node.docker("ps", "--format", "{{.Names}}").split())


@pytest.fixture(scope="module")
def started(nodes: Cluster, root: Path) -> Iterator[dict[str, object]]:
    """`up --all --json` once; everything is removed from both hosts at the end."""
    try:
        result = avrgen(root, "up", "--all", "--json", "--timeout", "90")
        assert result.returncode == 0, result.stderr
        yield json.loads(result.stdout)
    finally:  # unless the last test removed everything already
        if any(node.docker("ps", "-aq", check=False) for node in nodes.nodes):
            avrgen(root, "down", "--all", "--network")


def test_up_places_each_agent_on_its_host(nodes: Cluster, started: dict[str, object]) -> None:
    agents = {a["agent"]: a for a in started["agents"]}  # type: ignore[attr-defined]
    assert {n: (a["status"], a["host"]) for n, a in agents.items()} == {
        ONE: ("started", "edge-1"),
        TWO: ("started", "edge-2"),
        THREE: ("started", "edge-2"),
    }
    edge1, edge2 = nodes.nodes
    assert names_on(edge1) == {f"avr-core-{ONE}", f"avr-sts-{ONE}", "avr-asterisk"}
    assert started["telephony"]["status"] == "started"  # type: ignore[index]
    assert names_on(edge2) == {
        f"avr-core-{TWO}",
        f"avr-sts-{TWO}",
        *(f"avr-{role}-{THREE}" for role in ("core", "asr", "llm", "tts")),
    }
    for node in nodes.nodes:  # the network on each host that runs agents
        assert node.docker("network", "inspect", NETWORK, "--format", "{{.Name}}") == NETWORK


def test_the_same_pinned_port_on_each_host(root: Path, started: dict[str, object]) -> None:
    listing = avrgen(root, "ps", "--json")
    assert listing.returncode == 0, listing.stderr
    cores = {c["agent"]: c for c in json.loads(listing.stdout) if c["role"] == "core"}
    for agent, host in ((ONE, "edge-1"), (TWO, "edge-2")):
        assert cores[agent]["host"] == host
        assert any(p.startswith(f"{PIN}->") for p in cores[agent]["ports"]), cores[agent]
    # published where each host's core binds: reachable over the test network
    for address in (f"{NET}.1", f"{NET}.2"):
        with socket.create_connection((address, PIN), timeout=5):
            pass


def test_ps_and_status_per_host(root: Path, started: dict[str, object]) -> None:
    listing = avrgen(root, "ps")
    assert listing.returncode == 0, listing.stderr
    header, *rows = listing.stdout.splitlines()
    assert header.split()[:3] == ["AGENT", "HOST", "CONTAINER"]
    hosts = {row.split()[2]: row.split()[1] for row in rows}
    assert hosts[f"avr-core-{ONE}"] == "edge-1" and hosts[f"avr-tts-{THREE}"] == "edge-2"
    assert hosts["avr-asterisk"] == "edge-1"  # the telephony stack, on its host
    assert len(rows) == 9
    report = avrgen(root, "status", "--exit-code")
    assert report.returncode == 0, report.stdout + report.stderr
    assert report.stdout.splitlines()[0].split()[:3] == ["AGENT", "HOST", "STATE"]
    assert "(telephony)" in report.stdout and "in sync" in report.stdout
    # --all-sets: every avrgen container of every host, of any set, with its set and host
    every = avrgen(root, "ps", "--all-sets")
    assert every.returncode == 0, every.stderr
    header, *rows = every.stdout.splitlines()
    assert header.split()[:4] == ["SET", "AGENT", "HOST", "CONTAINER"]
    set_id = json.loads(avrgen(root, "ps", "--json").stdout)[0]["set"]
    assert {(c[0], c[2], c[3]) for c in (row.split() for row in rows)} >= {
        (set_id, "edge-1", f"avr-core-{ONE}"),
        (set_id, "edge-2", f"avr-tts-{THREE}"),
    }
    assert len([row for row in rows if row.startswith(set_id)]) == 9


def test_ps_from_what_the_last_render_recorded(root: Path, started: dict[str, object]) -> None:
    """Over hosts too, ps of output/ as the last render left it reaches each host from what
    the render cache recorded (endpoints, TLS file paths, each agent's host and containers):
    it lists what planning lists, and the CLI imports none of pydantic, jinja2 or PyYAML.
    The tests after this one (a host down, a moved agent) list from the record too."""
    planned = avrgen(root, "ps", "--json")  # no entry yet: up's first render stored none
    assert planned.returncode == 0, planned.stderr
    assert avrgen(root, "render").returncode == 0
    code = (
        "import sys\nfrom avrgen.cli.main import main\nsys.argv = ['avrgen', 'ps', '--json']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted(m for m in ('pydantic', 'jinja2', 'yaml') if m in sys.modules))\n"
    )
    proc = python(root, "-c", code)
    assert proc.returncode == 0, proc.stderr
    listing, loaded = proc.stdout.rsplit("\n", 2)[0], proc.stdout.splitlines()[-1]
    assert loaded == "[]"
    keys = ("agent", "container", "role", "state", "host", "orphan", "set", "ports")
    assert [{k: c[k] for k in keys} for c in json.loads(listing)] == [
        {k: c[k] for k in keys} for c in json.loads(planned.stdout)
    ]


def test_a_call_crosses_hosts(nodes: Cluster, root: Path, started: dict[str, object]) -> None:
    """Asterisk runs on edge-1: 5001 dials hs-one's core there by name, 5002 dials hs-two's
    core on edge-2 at the address it is published on. A container on edge-1's network does
    what Asterisk does for each (the POST to /call, then the AudioSocket frame); each core
    records its call."""
    extensions = (root / "output" / "_telephony" / "my_extensions.conf").read_text()
    dials = dict(re.findall(r"exten => (\d+),.*?Dial\(AudioSocket/([^/]+)/", extensions, re.S))
    posts = dict(re.findall(r"exten => (\d+),.*?CURL\((http://[^,]+),", extensions, re.S))
    assert dials["5001"].startswith(f"avr-core-{ONE}:")
    assert dials["5002"].startswith(f"{NET}.2:") and posts["5002"].startswith(f"http://{NET}.2:")
    calls = {number: uuid.uuid4() for number in ("5001", "5002")}
    script = ["set -e"]
    for number, call in calls.items():
        host, port = dials[number].split(":")
        frame = "".join(f"\\{b:03o}" for b in b"\x01\x00\x10" + call.bytes)
        body = json.dumps({"uuid": str(call)})
        script.append(f"timeout 5 wget -q -O /dev/null --post-data '{body}' '{posts[number]}'")
        script.append(f"(printf '{frame}'; sleep 1) | timeout 3 nc {host} {port} || true")
    edge1, edge2 = nodes.nodes
    edge1.docker(
        "run", "--rm", "--network", NETWORK, "--entrypoint", "/bin/sh",
        dockerenv.PROVIDER_IMAGE, "-c", "\n".join(script),
    )  # fmt: skip
    for node, agent, number in ((edge1, ONE, "5001"), (edge2, TWO, "5002")):
        core = f"avr-core-{agent}"
        assert node.docker("exec", core, "cat", "/www/audiosocket").split() == [str(calls[number])]
        assert str(calls[number]) in node.docker("exec", core, "cat", "/www/calls")


def test_logs_and_restart_reach_the_agents_host(root: Path, started: dict[str, object]) -> None:
    logs = avrgen(root, "logs", THREE, "--role", "core", "--tail", "5")
    assert logs.returncode == 0, logs.stderr
    assert all(line.startswith(f"avr-core-{THREE} | ") for line in logs.stdout.splitlines())
    restarted = avrgen(root, "restart", ONE, "--timeout", "60")
    assert restarted.returncode == 0, restarted.stderr
    assert f"avr-core-{ONE}" in restarted.stdout and "edge-1" in restarted.stdout


def test_a_host_that_is_down_fails_only_its_agents(
    nodes: Cluster, root: Path, started: dict[str, object]
) -> None:
    edge2 = nodes.nodes[1]
    named = f"host 'edge-2' ({EDGE_2})"
    edge2.kill_dockerd()
    try:
        listing = avrgen(root, "ps")
        assert listing.returncode == 1
        assert named in listing.stderr and "1 host(s) failed" in listing.stderr
        states = {row.split()[2]: row.split()[4] for row in listing.stdout.splitlines()[1:]}
        assert states[f"avr-core-{ONE}"] == "running"
        assert states[f"avr-core-{TWO}"] == states[f"avr-llm-{THREE}"] == "unreachable"

        report = avrgen(root, "status", "--json")
        assert report.returncode == 1
        agents = json.loads(report.stdout)["agents"]
        assert agents[ONE]["state"] == "in sync"
        assert {agents[TWO]["state"], agents[THREE]["state"]} == {"unreachable"}
        assert agents[TWO]["error"].startswith(named)
        assert named in report.stderr

        up = avrgen(root, "up", "--all", "--json", "--timeout", "30")
        assert up.returncode == 1
        outcomes = {a["agent"]: a for a in json.loads(up.stdout)["agents"]}
        assert outcomes[ONE]["status"] == "unchanged"
        for agent in (TWO, THREE):
            assert outcomes[agent]["status"] == "failed"
            assert named in outcomes[agent]["error"]
        assert "Traceback" not in up.stderr and named in up.stderr
    finally:
        edge2.start_dockerd_again()


def test_moving_an_agent_to_another_host(nodes: Cluster, root: Path) -> None:
    """plan shows the move, up starts it on the new host, the old host's containers are
    orphans there (ps; status: the agent drifted) and `down --orphans` removes them; no
    port moves."""
    edge1, edge2 = nodes.nodes
    blueprints = root / "blueprints" / "all.yaml"
    lock_before = (root / "blueprints" / "avrgen.lock").read_text()
    text = blueprints.read_text()
    assert text.endswith("host: edge-2\n")  # hs-three's document is the last
    blueprints.write_text(text.removesuffix("edge-2\n") + "edge-1\n")
    planned = avrgen(root, "plan")
    assert "avrgen.host" in planned.stdout and "edge-1" in planned.stdout, planned.stdout
    moved = avrgen(root, "up", THREE, "--timeout", "60")
    assert moved.returncode == 0, moved.stderr
    assert (root / "blueprints" / "avrgen.lock").read_text() == lock_before
    assert f"avr-core-{THREE}" in names_on(edge1) and f"avr-core-{THREE}" in names_on(edge2)
    listing = avrgen(root, "ps", "--json")
    rows = {(c["container"], c["host"]): c["orphan"] for c in json.loads(listing.stdout)}
    assert rows[f"avr-core-{THREE}", "edge-1"] is False
    assert rows[f"avr-core-{THREE}", "edge-2"] is True
    report = json.loads(avrgen(root, "status", "--json").stdout)["agents"][THREE]
    assert (report["state"], report["host"]) == ("drifted", "edge-1")
    assert {d["kind"] for d in report["differences"]} == {"extra"}
    assert all("still on host edge-2" in d["detail"] for d in report["differences"])
    removed = avrgen(root, "down", "--orphans")
    assert removed.returncode == 0, removed.stderr
    assert f"removed avr-core-{THREE} ({THREE}, core) on host edge-2" in removed.stdout
    assert f"avr-core-{THREE}" not in names_on(edge2)
    assert f"avr-core-{THREE}" in names_on(edge1)


def test_down_removes_everything_on_every_host(nodes: Cluster, root: Path) -> None:
    removed = avrgen(root, "down", "--all", "--network", "--telephony")
    assert removed.returncode == 0, removed.stderr
    assert f"removed avr-core-{ONE} ({ONE}, core) on host edge-1" in removed.stdout
    assert f"removed avr-core-{TWO} ({TWO}, core) on host edge-2" in removed.stdout
    for node in nodes.nodes:
        assert node.docker("ps", "-aq") == ""
        assert NETWORK not in node.docker("network", "ls", "--format", "{{.Name}}").split()
