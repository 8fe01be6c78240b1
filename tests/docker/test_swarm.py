"""The swarm target on a real engine: `avrgen deploy/ps/undeploy` on a single-node swarm.

The engine is this module's own: a one-node cluster of tests/cluster.py (a network
namespace `avrs-n1` with the address 10.76.0.1 on the bridge `avrs-br`, a prefix and
addresses no other user of tests/cluster.py has, and its own `dockerd`) with the test
images loaded from the machine's engine. For the module, DOCKER_HOST points at that engine,
so every `docker` and `avrgen` process the tests start talks to it alone, and the published
ports are read at the node's address. The module's fixture makes the node a one-node swarm
(`docker swarm init --advertise-addr 10.76.0.1`) and labels it; at the end the cluster is
taken down (`Cluster.stop`: swarm leave, its dockerd, namespace, veth, bridge, iptables
rule and data), also on failure. The machine's engine never enters swarm mode, so the
module runs beside the other docker modules (`DOCKER_ON_OWN_ENGINES` in the Makefile).

Agents, network and port ranges are this module's own (t7-*, avrgen-t7, 35xxx-37xxx). The
local test images stand in for AVR: `avrgen-test/core:1` reports at $HTTP_PORT/report
whether every provider URL it was given answers, which here means over the overlay network,
by the services' network aliases, with `endpoint_mode: dnsrr`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import cluster
import dockerenv
import pytest
from cluster import Cluster, Node

from avrgen.app.project import Paths, Project

pytestmark = pytest.mark.docker
T = TypeVar("T")

NETWORK, SUBNET = "avrgen-t7", "10.213.77.0/24"
LOCK_FILE = Path(tempfile.gettempdir()) / "avrgen-swarm-tests.lock"
# the node's names and addresses: not test_multinode's avrt/10.77.0, test_hosts' avrh/10.78.0
# nor benchmarks/hosts_bench.py's avrb/10.79.0 (Cluster.start removes its prefix's leftovers)
PREFIX, NET = "avrs", "10.76.0"
IMAGES = (dockerenv.PROVIDER_IMAGE, dockerenv.CORE_IMAGE, dockerenv.ASTERISK_IMAGE)
NODE_LABEL = "avrgen-t7"
SECRET = "t7-secret-8d41c07e5b"  # a value found nowhere but in the secrets file
KEY = '{"private_key": "t7-key-5f0c2a9d"}'  # a key file's bytes: only in key.json
# the telephony stack: with docker compose on this manager node, on the overlay network
TELEPHONY = """\
telephony:
  asterisk: {{image: "{asterisk}"}}
---
kind: number
number: "5001"
agent: t7-sts
"""

BLUEPRINTS = """\
kind: settings
set: t7-swarm
target: swarm
network: {{name: {network}, subnet: {subnet}}}
ports: {{core: 35100-35149, http: 37100-37149, providers: 36100-36149}}
core: {{image: "{core}", env: {{CHECK_INTERVAL: "1"}}}}
swarm:
  placement: {{labels: {{{label}: "yes"}}}}
  restart: {{condition: any, delay: 1s}}
  resources: {{limits: {{memory: 64M}}, reservations: {{cpus: "0.01"}}}}
{telephony}---
kind: provider
name: T7 ASR
type: ASR
config:
  image: "{provider}"
  env:
    KEY: {{secret: T7_SECRET}}
    ODD: "0123 $HOME"
    GOOGLE_APPLICATION_CREDENTIALS: /app/key.json
  files: {{/app/key.json: {{secret_file: T7_KEY_FILE}}}}
  volumes: ["./t7-data:/data:ro"]
---
kind: provider
name: T7 LLM
type: LLM
config: {{image: "{provider}"}}
---
kind: provider
name: T7 TTS
type: TTS
config: {{image: "{provider}"}}
---
kind: provider
name: T7 STS
type: STS
config: {{image: "{provider}"}}
---
kind: provider
name: T7 STS crashing
type: STS
config: {{image: "{provider}", env: {{CRASH: "1"}}}}
---
kind: agent
name: t7-pipe
mode: pipeline
providers: {{asr: T7 ASR, llm: T7 LLM, tts: T7 TTS}}
core: {{publish: true, env: {{WEBHOOK_SECRET: {{secret: T7_SECRET}}}}}}
---
kind: agent
name: t7-sts
mode: sts
providers: {{sts: T7 STS}}
placement: {{node: {node}}}
---
kind: agent
name: t7-crash
mode: sts
providers: {{sts: T7 STS crashing}}
---
kind: agent
name: t7-noimg
mode: sts
providers: {{sts: T7 STS}}
core: {{image: "avrgen-test/absent:0"}}
---
kind: agent
name: t7-nowhere
mode: sts
providers: {{sts: T7 STS}}
placement: {{labels: {{zone: nowhere}}}}
"""


def docker(*args: str, check: bool = True, timeout: float = 60) -> str:
    proc = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def swarm_state() -> str:
    return docker("info", "--format", "{{.Swarm.LocalNodeState}}", check=False) or "unknown"


def eventually(probe: Callable[[], T | None], timeout: float = 45, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def engine() -> Iterator[Node]:
    """The node's engine, with DOCKER_HOST (and no other DOCKER_* setting) naming it for the
    module. Its names are fixed, so a second test session running this module waits here for
    the first (Cluster.start would remove the first one's node as a leftover)."""
    reason = cluster.why_not() or dockerenv.engine_available()
    if reason:
        dockerenv.unavailable(reason)
    dockerenv.ensure_test_images()  # on the machine's engine, before DOCKER_HOST changes
    with dockerenv.exclusive(LOCK_FILE, minutes=15):
        one = Cluster(1, images=IMAGES, prefix=PREFIX, net=NET)
        try:
            with one.running(), pytest.MonkeyPatch.context() as env:
                for name in [n for n in os.environ if n.startswith("DOCKER_")]:
                    env.delenv(name)
                env.setenv("DOCKER_HOST", one.manager.host)
                yield one.manager
        except (RuntimeError, AssertionError) as exc:
            pytest.fail(f"the swarm tests' engine: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def blueprints(engine: Node, tmp_path_factory: pytest.TempPathFactory) -> Path:
    node = docker("info", "--format", "{{.Name}}", check=False) or "no-engine"
    text = BLUEPRINTS.format(
        telephony=TELEPHONY.format(asterisk=dockerenv.ASTERISK_IMAGE),
        network=NETWORK,
        subnet=SUBNET,
        label=NODE_LABEL,
        node=node,
        core=dockerenv.CORE_IMAGE,
        provider=dockerenv.PROVIDER_IMAGE,
    )
    root = dockerenv.blueprint_folder(
        tmp_path_factory.mktemp("swarm"),
        f"T7_SECRET={SECRET}\nT7_KEY_FILE=key.json\n",  # relative: to where avrgen runs
        all=text,
    )
    (root / "key.json").write_text(KEY, encoding="utf-8")
    (root / "blueprints" / "t7-data").mkdir()
    (root / "blueprints" / "t7-data" / "marker").write_text("t7 data folder\n", encoding="utf-8")
    return root


def avrgen(root: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """`python -m avrgen ARGS` with this module's blueprints and output, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "avrgen", *args, "-b", "blueprints", "-o", "output"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def swarm(engine: Node) -> str:
    """The node a one-node swarm, advertised at the node's address, whose node carries the
    label the blueprints' default placement asks for; returns the node's hostname. What the
    tests leave goes with the node (the `engine` fixture's teardown)."""
    docker("swarm", "init", "--advertise-addr", engine.address)
    node = docker("node", "inspect", "self", "--format", "{{.Description.Hostname}}")
    docker("node", "update", "--label-add", f"{NODE_LABEL}=yes", node)
    return node


def service(name: str, template: str) -> object:
    return json.loads(docker("service", "inspect", name, "--format", f"{{{{json {template}}}}}"))


def task_container(service_name: str) -> str:
    ids = docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service_name}")
    return ids.splitlines()[0] if ids else ""


def core_report(container: str) -> str:
    return docker("exec", container, "cat", "/www/report", check=False)


def all_ok(report: str, count: int) -> bool:
    lines = [line for line in report.splitlines() if not line.startswith("#")]
    return len(lines) == count and all(line.endswith(" ok") for line in lines)


# -- before the swarm exists (the first test: the module's swarm fixture is not set up yet) --


def test_deploy_needs_a_swarm(engine: Node, blueprints: Path) -> None:
    assert swarm_state() == "inactive"  # the node's engine is new
    result = avrgen(blueprints, "deploy", "t7-sts", "--secrets-file", "secrets.env")
    assert result.returncode == 1, result.stderr
    assert "not part of a swarm" in result.stderr and "docker swarm init" in result.stderr
    assert "Traceback" not in result.stderr


# -- on a single-node swarm ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def deployed(swarm: str, blueprints: Path) -> subprocess.CompletedProcess[str]:
    """t7-pipe and t7-sts deployed, from the images only this engine has."""
    return avrgen(
        blueprints,
        "deploy",
        "t7-pipe",
        "t7-sts",
        "--secrets-file",
        "secrets.env",
        "--resolve-image",
        "never",
        "--timeout",
        "90",
    )


def test_deploy_runs_every_service(deployed: subprocess.CompletedProcess[str], swarm: str) -> None:
    assert deployed.returncode == 0, deployed.stderr
    rows = {line.split()[0]: line for line in deployed.stdout.splitlines()[1:]}
    assert "deployed" in rows["t7-pipe"] and "4/4 running" in rows["t7-pipe"]
    assert "deployed" in rows["t7-sts"] and "2/2 running" in rows["t7-sts"]
    assert swarm in rows["t7-pipe"]
    assert f"created overlay network {NETWORK} (subnet {SUBNET})" in deployed.stderr
    network = json.loads(docker("network", "inspect", NETWORK))[0]
    assert (network["Driver"], network["Scope"], network["Attachable"]) == (
        "overlay",
        "swarm",
        True,
    )
    assert network["IPAM"]["Config"][0]["Subnet"] == SUBNET
    assert network["Labels"] == {"avrgen.managed": "true", "avrgen.set": "t7-swarm"}


def test_core_reaches_every_provider_over_the_overlay(
    deployed: subprocess.CompletedProcess[str], blueprints: Path, engine: Node
) -> None:
    """Pipeline: ASR, LLM and TTS by their aliases; read through the published HTTP port
    (at the node's address: host mode publishes on the node's interfaces).
    STS: not published, read inside its container."""
    assert deployed.returncode == 0, deployed.stderr
    the_plan = Project(Paths(blueprints / "blueprints", blueprints / "output")).plan()[0]
    http = the_plan.agents["t7-pipe"].core.http_port
    url = f"http://{engine.address}:{http}/report"

    def pipe_report() -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=3) as answer:
                text = answer.read().decode()
        except OSError:
            return None
        return text if all_ok(text, 3) else None

    report = eventually(pipe_report, what="the pipeline core's report over its host port")
    assert (
        "ASR_URL=http://avr-asr-t7-pipe:" in report and "TTS_URL=http://avr-tts-t7-pipe:" in report
    )

    container = eventually(lambda: task_container("avr-t7-sts_core"), what="the sts core")
    report = eventually(
        lambda: (r := core_report(container)) and all_ok(r, 1) and r, what="the sts core's report"
    )
    assert "STS_URL=ws://avr-sts-t7-sts:" in report


def test_a_call_reaches_a_core_on_the_swarm(
    deployed: subprocess.CompletedProcess[str], blueprints: Path
) -> None:
    """deploy started the telephony stack with docker compose on this node, on the overlay;
    5001 dials t7-sts's core by its alias. A container on the overlay does what Asterisk
    does (the POST to /call, then the AudioSocket frame), and the core's task records it."""
    assert deployed.returncode == 0, deployed.stderr
    assert re.search(r"^telephony: started \(avr-asterisk running\)", deployed.stdout, re.M)
    extensions = (blueprints / "output" / "_telephony" / "my_extensions.conf").read_text()
    dial = re.search(r"Dial\(AudioSocket/([^:]+):(\d+)/", extensions)
    post = re.search(r"CURL\((http://[^,]+),", extensions)
    assert dial is not None and post is not None
    assert dial.group(1) == "avr-core-t7-sts"
    call = uuid.uuid4()
    frame = "".join(f"\\{b:03o}" for b in b"\x01\x00\x10" + call.bytes)
    script = (
        f"timeout 5 wget -q -O /dev/null --post-data '{{\"uuid\": \"{call}\"}}' '{post.group(1)}'\n"
        f"(printf '{frame}'; sleep 1) | timeout 3 nc {dial.group(1)} {dial.group(2)} || true"
    )
    docker(
        "run", "--rm", "--network", NETWORK, "--entrypoint", "/bin/sh",
        dockerenv.PROVIDER_IMAGE, "-c", script,
    )  # fmt: skip
    core = task_container("avr-t7-sts_core")
    assert docker("exec", core, "cat", "/www/audiosocket").split() == [str(call)]
    assert str(call) in docker("exec", core, "cat", "/www/calls")


def test_services_are_what_the_stack_file_says(
    deployed: subprocess.CompletedProcess[str], swarm: str, blueprints: Path
) -> None:
    assert deployed.returncode == 0, deployed.stderr
    for role in ("asr", "llm", "tts", "core"):
        name = f"avr-t7-pipe_{role}"
        assert service(name, ".Spec.EndpointSpec.Mode") == "dnsrr"
        placement = service(name, ".Spec.TaskTemplate.Placement.Constraints")
        assert placement == [f"node.labels.{NODE_LABEL} == yes"]
        assert service(name, ".Spec.TaskTemplate.RestartPolicy.Condition") == "any"
        assert service(name, ".Spec.TaskTemplate.Resources.Limits.MemoryBytes") == 64 * 2**20
        labels = service(name, ".Spec.Labels")
        assert isinstance(labels, dict) and labels["avrgen.agent"] == "t7-pipe"
    for role in ("sts", "core"):
        placement = service(f"avr-t7-sts_{role}", ".Spec.TaskTemplate.Placement.Constraints")
        assert placement == [f"node.hostname == {swarm}"]
    ports = service("avr-t7-pipe_core", ".Spec.EndpointSpec.Ports")
    assert isinstance(ports, list) and {p["PublishMode"] for p in ports} == {"host"}
    # the secret reached the containers, and nothing avrgen wrote or printed
    core = task_container("avr-t7-pipe_core")
    assert f"WEBHOOK_SECRET={SECRET}" in docker("exec", core, "cat", "/www/env")
    assert "ODD=0123 $HOME" in docker("exec", task_container("avr-t7-pipe_asr"), "env")
    written = [p.read_text() for p in (blueprints / "output").rglob("*") if p.is_file()]
    assert written and not any(SECRET in text or KEY in text for text in written)
    assert SECRET not in deployed.stdout + deployed.stderr
    assert KEY not in deployed.stdout + deployed.stderr


def test_key_files_and_folders_reach_the_tasks(
    deployed: subprocess.CompletedProcess[str], blueprints: Path
) -> None:
    """A key file is a docker secret of the stack, mounted at its container path; a folder
    is a bind of the node's path (here: this machine's blueprint folder)."""
    assert deployed.returncode == 0, deployed.stderr
    asr = task_container("avr-t7-pipe_asr")
    assert docker("exec", asr, "cat", "/app/key.json") == KEY
    assert docker("exec", asr, "cat", "/data/marker") == "t7 data folder"
    names = docker("secret", "ls", "--format", "{{.Name}}").split()
    assert "avr-t7-pipe_T7_KEY_FILE" in names
    labels = json.loads(docker("secret", "inspect", "avr-t7-pipe_T7_KEY_FILE", "--format",
                               "{{json .Spec.Labels}}"))  # fmt: skip
    assert labels["com.docker.stack.namespace"] == "avr-t7-pipe"


def test_ps_shows_the_tasks(
    deployed: subprocess.CompletedProcess[str], swarm: str, blueprints: Path
) -> None:
    assert deployed.returncode == 0, deployed.stderr
    result = avrgen(blueprints, "ps")
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["AGENT", "SERVICE", "NODE", "DESIRED", "STATE", "ERROR"]
    running = {r.split()[1] for r in rows if r.split()[2:5] == [swarm, "running", "running"]}
    assert running == {
        "avr-t7-pipe_asr",
        "avr-t7-pipe_llm",
        "avr-t7-pipe_tts",
        "avr-t7-pipe_core",
        "avr-t7-sts_sts",
        "avr-t7-sts_core",
    }
    absent = {r.split()[1] for r in rows if r.split()[3] == "absent"}
    assert "avr-t7-crash_sts" in absent
    as_json = json.loads(avrgen(blueprints, "ps", "t7-sts", "--json").stdout)
    assert {(t["role"], t["node"], t["state"]) for t in as_json} == {
        ("sts", swarm, "running"),
        ("core", swarm, "running"),
    }


def test_deploy_again_changes_nothing(
    deployed: subprocess.CompletedProcess[str], blueprints: Path
) -> None:
    assert deployed.returncode == 0, deployed.stderr
    result = avrgen(
        blueprints, "deploy", "t7-sts", "--secrets-file", "secrets.env", "--resolve-image", "never"
    )
    assert result.returncode == 0, result.stderr
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("t7-sts ")]
    assert "unchanged" in row


def test_a_deploy_whose_release_cannot_be_recorded_exits_1_and_says_why(
    deployed: subprocess.CompletedProcess[str], blueprints: Path
) -> None:
    """The agent runs (deploy changed nothing), but no way back to it could be written."""
    assert deployed.returncode == 0, deployed.stderr
    state = blueprints / "state-without-releases"
    state.mkdir()
    (state / "releases").write_text("", encoding="utf-8")  # a file where its folder goes
    result = avrgen(
        blueprints, "deploy", "t7-sts", "--resolve-image", "never", "--state", str(state)
    )
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    assert "agent 't7-sts' runs, but its release was not recorded in " in result.stderr
    assert "(`--state` names another folder)" in result.stderr


def history(root: Path, agent: str) -> list[dict[str, object]]:
    done = avrgen(root, "history", agent, "--json")
    assert done.returncode == 0, done.stderr
    found: list[dict[str, object]] = json.loads(done.stdout)
    return found


def test_deploy_records_releases_and_rollback_brings_one_back(
    deployed: subprocess.CompletedProcess[str], blueprints: Path
) -> None:
    """A deploy that changes an agent records a release (its stack file, the image each
    service runs by id, target swarm); a deploy that changes nothing records none;
    `rollback --to 1` deploys release 1's own stack file again, images pinned, and
    records that as a new release."""
    assert deployed.returncode == 0, deployed.stderr
    assert "[t7-sts] recorded release 1" in deployed.stderr
    (first,) = history(blueprints, "t7-sts")
    assert (first["number"], first["origin"], first["target"]) == (1, "deploy", "swarm")
    local_id = docker("image", "inspect", "--format", "{{.Id}}", dockerenv.PROVIDER_IMAGE)
    images = {c["role"]: c["image_id"] for c in first["containers"]}  # type: ignore[attr-defined]
    assert images["sts"] == local_id
    assert first["changes"]["files_added"] == ["stack.yml"]  # type: ignore[index]

    path = blueprints / "blueprints" / "all.yaml"
    text = path.read_text(encoding="utf-8")
    changed = text.replace(
        'name: T7 STS\ntype: STS\nconfig: {image: "avrgen-test/provider:1"}',
        'name: T7 STS\ntype: STS\nconfig: {image: "avrgen-test/provider:1", env: {T7_V: "2"}}',
    )
    assert changed != text
    try:
        path.write_text(changed, encoding="utf-8")
        again = avrgen(blueprints, "deploy", "t7-sts", "--resolve-image", "never")
        assert again.returncode == 0, again.stderr
        assert "[t7-sts] recorded release 2" in again.stderr
        sts = lambda: docker("exec", task_container("avr-t7-sts_sts"), "env")  # noqa: E731
        eventually(lambda: "T7_V=2" in sts(), what="release 2's env in the sts task")

        back = avrgen(blueprints, "rollback", "t7-sts", "--to", "1", "--timeout", "90")
        assert back.returncode == 0, back.stderr
        assert back.stdout.startswith("rolled back t7-sts to release 1 (")
        assert "recorded as release 3" in back.stdout
        assert "`avrgen deploy t7-sts` brings back the blueprints' version" in back.stdout
        env = service("avr-t7-sts_sts", ".Spec.TaskTemplate.ContainerSpec.Env")
        assert isinstance(env, list) and not any(e.startswith("T7_V=") for e in env)
        assert service("avr-t7-sts_sts", ".Spec.TaskTemplate.ContainerSpec.Image") == local_id
        third = history(blueprints, "t7-sts")[2]
        assert (third["origin"], third["target"]) == ("rollback to 1", "swarm")
    finally:
        path.write_text(text, encoding="utf-8")


FAULTS = {
    "t7-crash": ["avr-t7-crash_sts: task failed on node", "non-zero exit (1)", "CRASH=1"],
    "t7-noimg": ["image avrgen-test/absent:0 is missing on node", "No such image"],
    "t7-nowhere": ["avr-t7-nowhere_sts: no node can take it", "node.labels.zone == nowhere"],
}


def test_a_foreign_service_in_an_agents_stack_stops_deploy_and_undeploy(
    deployed: subprocess.CompletedProcess[str], blueprints: Path
) -> None:
    """`docker stack deploy` would update, and `docker stack rm` remove, every service of the
    namespace avr-<agent>: one avrgen did not create makes both refuse, changing nothing."""
    assert deployed.returncode == 0, deployed.stderr
    intruder = "avr-t7-sts_intruder"
    docker(
        "service", "create", "--detach", "--name", intruder,
        "--label", "com.docker.stack.namespace=avr-t7-sts", "--env", "PORT=6999",
        dockerenv.PROVIDER_IMAGE,
    )  # fmt: skip
    try:
        for command in ("deploy", "undeploy"):
            result = avrgen(blueprints, command, "t7-sts")
            assert result.returncode == 1, result.stdout
            assert "Traceback" not in result.stderr
            what = "deploy into" if command == "deploy" else "remove"
            assert f"refusing to {what} stack(s) avr-t7-sts" in result.stderr, result.stderr
            assert f"service {intruder} (stack avr-t7-sts" in result.stderr
            assert docker("service", "ls", "-q", "--filter", f"name={intruder}")
            assert docker("service", "ls", "-q", "--filter", "name=avr-t7-sts_core")
    finally:
        docker("service", "rm", intruder, check=False)


def test_faults_name_the_service_and_the_reason(swarm: str, blueprints: Path) -> None:
    """A container that exits, an image missing on the node, a task no node can take."""
    result = avrgen(blueprints, "deploy", *FAULTS, "--resolve-image", "never", "--timeout", "60")
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    assert "3 of 3 agent(s) failed" in result.stderr
    for agent, expected in FAULTS.items():
        for part in expected:
            assert part in result.stderr, result.stderr
        assert f"`avrgen undeploy {agent}` removes it" in result.stderr
    rows = avrgen(blueprints, "ps", *FAULTS).stdout.splitlines()
    errors = {row.split()[1]: row for row in rows[1:]}
    assert "No such image" in errors["avr-t7-noimg_core"]
    assert "no suitable node" in errors["avr-t7-nowhere_sts"]
    removed = avrgen(blueprints, "undeploy", *FAULTS)
    assert removed.returncode == 0, removed.stderr
    for agent in FAULTS:
        assert not docker("service", "ls", "-q", "--filter", f"label=avrgen.agent={agent}")


def test_another_blueprint_set_neither_sees_nor_touches_this_sets_stacks(
    deployed: subprocess.CompletedProcess[str], blueprints: Path, tmp_path: Path
) -> None:
    """A second set with an agent of the same name: its ps does not list this set's
    services, its deploy and undeploy refuse naming this set and change nothing, ps
    --all-sets shows each service with its set, and deploy --take-over makes the stack
    the second set's (which then undeploys it)."""
    assert deployed.returncode == 0, deployed.stderr
    text = (blueprints / "blueprints" / "all.yaml").read_text(encoding="utf-8")
    text = text.replace("set: t7-swarm", "set: t7-other")
    other = dockerenv.blueprint_folder(tmp_path, "T7_KEY_FILE=key.json\n", all=text)
    (other / "key.json").write_text("{}", encoding="utf-8")
    (other / "blueprints" / "t7-data").mkdir()
    core_before = docker("service", "inspect", "avr-t7-sts_core", "--format", "{{.Version.Index}}")

    listed = avrgen(other, "ps")
    assert listed.returncode == 0, listed.stderr
    assert "running" not in listed.stdout  # every planned service absent: none is this set's
    for command, what in (("deploy", "deploy into"), ("undeploy", "remove")):
        options = ("--resolve-image", "never") if command == "deploy" else ()
        refused = avrgen(other, command, "t7-sts", *options)
        assert refused.returncode == 1, refused.stdout
        assert "Traceback" not in refused.stderr
        assert f"refusing to {what} stack(s) avr-t7-sts: another blueprint set's services" in (
            refused.stderr
        ), refused.stderr
        assert "avr-t7-sts_core, avr-t7-sts_sts belong to blueprint set 't7-swarm'" in (
            refused.stderr
        )
    after = docker("service", "inspect", "avr-t7-sts_core", "--format", "{{.Version.Index}}")
    assert after == core_before  # nothing was changed

    every = avrgen(other, "ps", "--all-sets")
    assert every.returncode == 0, every.stderr
    header, *rows = every.stdout.splitlines()
    assert header.split()[:3] == ["SET", "AGENT", "SERVICE"]
    assert {tuple(r.split()[:3]) for r in rows} >= {
        ("t7-swarm", "t7-sts", "avr-t7-sts_core"),
        ("t7-swarm", "t7-pipe", "avr-t7-pipe_asr"),
    }

    # the first set's telephony stack runs on this engine: the second's may not replace it
    stack_held = avrgen(other, "deploy", "t7-sts", "--take-over", "--resolve-image", "never")
    assert stack_held.returncode == 1, stack_held.stdout
    assert (
        "refusing to start the telephony stack: avr-asterisk belong to blueprint set "
        "'t7-swarm'" in stack_held.stderr
    ), stack_held.stderr
    assert docker("service", "inspect", "avr-t7-sts_core", "--format", "{{.Version.Index}}") == (
        core_before
    )
    without_stack = text.replace(TELEPHONY.format(asterisk=dockerenv.ASTERISK_IMAGE), "")
    (other / "blueprints" / "all.yaml").write_text(without_stack, encoding="utf-8")
    taken = avrgen(other, "deploy", "t7-sts", "--take-over", "--resolve-image", "never")
    assert taken.returncode == 0, taken.stderr
    assert "taking over 2 service(s) of blueprint set 't7-swarm'" in taken.stderr
    labels = service("avr-t7-sts_core", ".Spec.Labels")
    assert isinstance(labels, dict) and labels["avrgen.set"] == "t7-other"
    mine = [r.split() for r in avrgen(blueprints, "ps").stdout.splitlines()[1:]]
    assert {r[3] for r in mine if r[0] == "t7-sts"} == {"absent"}  # the first set's no more
    removed = avrgen(other, "undeploy", "t7-sts")
    assert removed.returncode == 0, removed.stderr
    assert "removed service avr-t7-sts_core" in removed.stdout


def test_undeploy_leaves_nothing(
    deployed: subprocess.CompletedProcess[str], blueprints: Path
) -> None:
    assert deployed.returncode == 0, deployed.stderr
    result = avrgen(blueprints, "undeploy", "--all", "--network", "--telephony")
    assert result.returncode == 0, result.stderr
    assert "removed service avr-t7-pipe_core" in result.stdout
    assert "removed avr-asterisk (telephony, asterisk)" in result.stdout
    assert "removed the telephony secrets files" in result.stdout  # as `down --telephony` says
    assert docker("ps", "-aq", "--filter", "name=^avr-asterisk$") == ""
    assert f"removed network {NETWORK}" in result.stdout
    assert not docker("service", "ls", "-q", "--filter", "label=avrgen.managed=true")
    for agent in ("t7-pipe", "t7-sts"):
        namespace = f"label=com.docker.stack.namespace=avr-{agent}"
        assert not docker("ps", "-aq", "--filter", namespace)
    assert not docker("network", "ls", "-q", "--filter", f"name=^{NETWORK}$")
    assert not docker("secret", "ls", "-q", "--filter", "name=avr-t7-pipe_")  # the key file's
    assert "no services to remove" in avrgen(blueprints, "undeploy", "--all").stdout
