"""The call path end to end on the real engine (issue 15), with stand-ins: a blueprint set
with two agents, three numbers (two to agents, one to a phone), a phone and a trunk; `up
--all` brings up the network, the telephony stack (avrgen-test/asterisk:1, a stand-in for
avr-asterisk, and the provider stand-in as avr-ami) and the agents (the stand-in core).

A container on the shared network then does what Asterisk does for each number routed to
an agent, with the values read from the RENDERED my_extensions.conf (avrgen.fs.asterisk's
parser): POST the dashboard's JSON body to the CURL URL, then open the AudioSocket
connection of the Dial target and send the UUID frame. The agent's stand-in core records
both. Then one number's route changes and `up` reloads the dialplan in the running
Asterisk (same container, same start), which loads the new bytes. The stack runs the
tls transport: its certificate and key (files whose host paths are secrets' values) are
in avr-asterisk, read-only, where my_pjsip.conf names them, and nowhere in output/.

avr-asterisk and avr-ami are fixed container names: one session at a time (LOCK_FILE).
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dockerenv
import pytest
from dockerenv import docker
from dockerenv import run_avrgen as avrgen

from avrgen.engine.docker import Engine
from avrgen.engine.telephony import reload, wait_booted
from avrgen.errors import ComposeError
from avrgen.fs.asterisk import dialplan_step, parse

pytestmark = pytest.mark.docker

LOCK_FILE = Path("/tmp/avrgen-test-telephony-stack.lock")
NETWORK = "avrt-tel"
SUBNET = "172.30.153.0/24"
AGENTS = ("avrt-tel-one", "avrt-tel-two")
ASTERISK, AMI = "avr-asterisk", "avr-ami"
PROJECT = "avr-telephony"
CONTEXT = "avrt-tel"
# the tls transport's certificate and key: files beside the blueprints, their host paths
# (relative to where avrgen runs) the values of two secrets
TLS_CERT = b"-----BEGIN CERTIFICATE-----\nMIIavrt-tel-cert-5Tq\n-----END CERTIFICATE-----\n"
TLS_KEY = b"-----BEGIN PRIVATE KEY-----\nMIIavrt-tel-key-8Jw\n-----END PRIVATE KEY-----\n"
CERT_PATH, KEY_PATH = "/etc/asterisk/keys/asterisk.crt", "/etc/asterisk/keys/asterisk.key"
SECRETS = {
    "AVRT_TEL_AMI_PASSWORD": "ami-Secret-7Q",
    "AVRT_TEL_PHONE_PASSWORD": "phone-Secret-3K",
    "AVRT_TEL_TRUNK_PASSWORD": "trunk-Secret-9Z",
    "AVRT_TEL_TLS_CERT": "tls-keys/asterisk.crt",
    "AVRT_TEL_TLS_KEY": "tls-keys/asterisk.key",
}
SETTINGS = f"""kind: settings
network: {{name: {NETWORK}, subnet: {SUBNET}}}
ports: {{core: 33300-33349, http: 37300-37349, providers: 36300-36349}}
core: {{image: "{dockerenv.CORE_IMAGE}", env: {{CHECK_INTERVAL: "1"}}}}
telephony:
  context: {CONTEXT}
  asterisk:
    image: "{dockerenv.ASTERISK_IMAGE}"
    sip: {{port: 33560, transports: [udp, tls]}}
    rtp: 33570-33573
    publish: {{host_ip: 127.0.0.1}}
    ami: {{username: avr, password: {{secret: AVRT_TEL_AMI_PASSWORD}}}}
    tls: {{cert: {{secret_file: AVRT_TEL_TLS_CERT}}, key: {{secret_file: AVRT_TEL_TLS_KEY}}}}
  ami: {{image: "{dockerenv.PROVIDER_IMAGE}"}}
"""
AGENT_DOCS = f"""kind: provider
name: Echo
type: STS
config: {{image: "{dockerenv.PROVIDER_IMAGE}"}}
---
kind: agent
name: {AGENTS[0]}
mode: sts
providers: {{sts: Echo}}
---
kind: agent
name: {AGENTS[1]}
mode: sts
providers: {{sts: Echo}}
"""
PHONE_AND_TRUNK = """kind: phone
name: "1000"
display_name: Front desk
password: {secret: AVRT_TEL_PHONE_PASSWORD}
webrtc: false
---
kind: trunk
name: carrier
transport: udp
password: {secret: AVRT_TEL_TRUNK_PASSWORD}
"""


def numbers(second_agent: str) -> str:
    return f"""kind: number
number: "5001"
agent: {AGENTS[0]}
---
kind: number
number: "5002"
agent: {second_agent}
---
kind: number
number: "1000"
phone: "1000"
"""


@dataclass(frozen=True)
class Route:
    """What the rendered dialplan makes Asterisk do for a number routed to an agent."""

    number: str
    body: str  # the Set(JSON_BODY=...) template
    curl_url: str
    audiosocket: tuple[str, int]


def agent_routes(extensions: str) -> dict[str, Route]:
    """The rendered my_extensions.conf's agent routes, read through avrgen's parser."""
    steps: dict[str, list[tuple[str, str]]] = {}
    for section in parse(extensions).named(CONTEXT):
        current = None
        for option in section.options:
            exten, _, app, args = dialplan_step(option)
            current = exten if exten is not None else current
            assert current is not None
            steps.setdefault(current, []).append((app, args))
    routes = {}
    for number, calls in steps.items():
        body = curl = target = None
        for app, args in calls:
            if app == "Set" and args.startswith("JSON_BODY="):
                body = args.removeprefix("JSON_BODY=")
            found = re.fullmatch(r"JSON_RESPONSE=\$\{CURL\(([^,]+),\$\{JSON_BODY\}\)\}", args)
            if app == "Set" and found:
                curl = found.group(1)
            if app == "Dial" and args.startswith("AudioSocket/"):
                host, port = args.removeprefix("AudioSocket/").split("/")[0].split(":")
                target = (host, int(port))
        if body and curl and target:
            routes[number] = Route(number, body, curl, target)
    return routes


def asterisk_body(route: Route, call: uuid.UUID) -> str:
    """The JSON body as Asterisk's substitution makes it for a call from phone 1000."""
    values = {
        "${UUID}": str(call),
        "${CALLERID(num)}": "1000",
        "${EXTEN}": route.number,
        "${UNIQUEID}": "1764590000.7",
        "${CHANNEL}": "PJSIP/1000-00000007",
    }
    body = route.body
    for key, value in values.items():
        body = body.replace(key, value)
    return body


def place_calls(calls: list[tuple[Route, uuid.UUID]]) -> None:
    """One container on the shared network does, for each call, what Asterisk does: the
    CURL POST, then the AudioSocket connection with the UUID frame (kind 0x01, length
    0x0010, the 16 bytes)."""
    script = ["set -e"]
    for route, call in calls:
        body = asterisk_body(route, call).replace("'", "'\\''")
        frame = "".join(f"\\{b:03o}" for b in b"\x01\x00\x10" + call.bytes)
        host, port = route.audiosocket
        script.append(
            f"timeout 5 wget -q -O /dev/null --header 'Content-Type: application/json' "
            f"--post-data '{body}' '{route.curl_url}'"
        )
        # the core reads the frame, then waits for audio: hang up after a moment
        script.append(f"(printf '{frame}'; sleep 1) | timeout 3 nc {host} {port} || true")
    proc = docker(
        "run", "--rm", "--network", NETWORK, "--entrypoint", "/bin/sh",
        dockerenv.PROVIDER_IMAGE, "-c", "\n".join(script),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def recorded(container: str, name: str) -> list[str]:
    proc = docker("exec", container, "cat", f"/www/{name}")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def inspect(name: str) -> dict[str, object]:
    proc = docker("container", "inspect", name)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, object] = json.loads(proc.stdout)[0]
    return data


def standin_log() -> list[str]:
    return docker(
        "exec", ASTERISK, "cat", "/var/log/asterisk/avrgen-standin.log"
    ).stdout.splitlines()


def cleanup() -> None:
    for label in [f"avrgen.agent={a}" for a in AGENTS] + [f"com.docker.compose.project={PROJECT}"]:
        found = docker(
            "ps", "-aq", "--filter", f"label={label}", "--filter", "label=avrgen.managed=true"
        )
        if found.stdout.split():
            docker("rm", "-f", *found.stdout.split())
    docker("network", "rm", NETWORK)
    docker("volume", "rm", "avr-telephony-recordings")


@dataclass
class Session:
    root: Path
    state: Path
    outputs: list[str]  # every stdout and stderr of avrgen

    def avrgen(self, *args: str) -> tuple[int, str, str]:
        proc = avrgen(*args, "--state", str(self.state), cwd=self.root)
        self.outputs += [proc.stdout, proc.stderr]
        return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    with dockerenv.exclusive(LOCK_FILE, minutes=10):
        cleanup()
        root = dockerenv.blueprint_folder(
            tmp_path_factory.mktemp("telephony"),
            secrets="".join(f"{k}={v}\n" for k, v in SECRETS.items()),
            settings=SETTINGS,
            agents=AGENT_DOCS,
            phones=PHONE_AND_TRUNK,
            numbers=numbers(AGENTS[1]),
        )
        keys = root / "tls-keys"
        keys.mkdir()
        (keys / "asterisk.crt").write_bytes(TLS_CERT)
        (keys / "asterisk.key").write_bytes(TLS_KEY)
        (keys / "asterisk.key").chmod(0o600)
        ready = Session(root, root / "state", [])
        try:
            yield ready
        finally:
            cleanup()  # the test ends with `down --telephony`; this, when it failed earlier


def test_calls_reach_their_agents_and_a_route_change_reloads_in_place(session: Session) -> None:
    code, out, err = session.avrgen("up", "--all", "--secrets-file", "secrets.env")
    assert code == 0, err
    assert re.search(r"^telephony: started \(avr-asterisk running, avr-ami running\)", out, re.M)
    output = session.root / "output"
    extensions = (output / "_telephony" / "my_extensions.conf").read_text()
    routes = agent_routes(extensions)
    assert sorted(routes) == ["5001", "5002"]  # 1000 rings the phone: no agent route
    cores = {f"avr-core-{a}" for a in AGENTS}
    assert {r.audiosocket[0] for r in routes.values()} == cores

    calls = [(routes[n], uuid.uuid4()) for n in ("5001", "5002")]
    place_calls(calls)
    for route, call in calls:
        core = route.audiosocket[0]
        assert recorded(core, "audiosocket") == [str(call)]
        (body,) = recorded(core, "calls")
        assert json.loads(body) == {
            "uuid": str(call),
            "payload": {
                "from": "1000",
                "to": route.number,
                "uniqueid": "1764590000.7",
                "channel": "PJSIP/1000-00000007",
                "recording": False,
            },
        }

    # the stand-in loaded the rendered files and the secrets files at boot, and every
    # [section](+) of those adds to a section of the committed file
    secrets_folder = session.state / "telephony" / PROJECT / "secrets"
    pjsip_secrets = secrets_folder / "pjsip.conf"
    assert stat.S_IMODE(pjsip_secrets.stat().st_mode) == 0o600
    boot = {
        line.split("|")[1].split("=")[0]: line for line in standin_log() if line.startswith("boot|")
    }
    sha = hashlib.sha256(pjsip_secrets.read_bytes()).hexdigest()
    assert f"/etc/asterisk/avrgen-secrets/pjsip.conf={sha}" in boot["my_pjsip.conf"]
    errors = docker("exec", ASTERISK, "cat", "/var/log/asterisk/avrgen-standin.errors")
    assert errors.stdout == ""

    assert_tls_files_mounted(session)

    code, out, err = session.avrgen("ps")
    assert code == 0, err
    assert re.search(r"^telephony\s+avr-asterisk\s+asterisk\s+running", out, re.M), out
    code, out, err = session.avrgen("logs", "telephony", "--role", "asterisk")
    assert code == 0, err
    assert "avr-asterisk | avrgen-test/asterisk: fully booted" in out

    # 5002 moves to the first agent: `up` of that agent alone brings the stack in line too
    # (as compose starts a service's dependencies): the dialplan is reloaded, in place
    before = inspect(ASTERISK)
    (session.root / "blueprints" / "numbers.yaml").write_text(numbers(AGENTS[0]))
    code, out, err = session.avrgen("up", AGENTS[0], "--secrets-file", "secrets.env")
    assert code == 0, err
    assert "reloaded in place: dialplan reload" in out
    after = inspect(ASTERISK)
    assert after["Id"] == before["Id"]
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"]  # type: ignore[index]
    new = (output / "_telephony" / "my_extensions.conf").read_bytes()
    last = standin_log()[-1]
    assert last == f"dialplan reload|my_extensions.conf={hashlib.sha256(new).hexdigest()}"
    moved = agent_routes(new.decode())["5002"]
    assert moved.audiosocket[0] == f"avr-core-{AGENTS[0]}"
    call = uuid.uuid4()
    place_calls([(moved, call)])
    assert recorded(f"avr-core-{AGENTS[0]}", "audiosocket")[-1] == str(call)

    # what runs is what the blueprints say, the reloaded dialplan included
    code, out, err = session.avrgen("status", "--secrets-file", "secrets.env")
    assert code == 0, err
    assert re.search(r"^\(telephony\)\s+in sync", out, re.M), out
    # the certificate's secret naming another file: the running Asterisk has drifted
    moved = session.root / "moved.env"
    moved.write_text((session.root / "secrets.env").read_text().replace("asterisk.crt", "x.crt"))
    (session.root / "tls-keys" / "x.crt").write_bytes(TLS_CERT)
    code, out, err = session.avrgen("status", "--secrets-file", "moved.env")
    assert code == 0, err
    assert re.search(r"^\(telephony\)\s+drifted", out, re.M), out
    assert (
        "avr-asterisk: telephony.asterisk.tls.cert is mounted from another file than secret "
        "AVRT_TEL_TLS_CERT names (`avrgen up` recreates it)"
    ) in out

    # back to the second agent: only the stack drifted, and `up --changed` reloads it alone
    (session.root / "blueprints" / "numbers.yaml").write_text(numbers(AGENTS[1]))
    code, out, err = session.avrgen("up", "--changed", "--secrets-file", "secrets.env")
    assert code == 0, err
    assert "bringing up: (telephony) (drifted)" in out
    assert "reloaded in place: dialplan reload" in out
    assert inspect(ASTERISK)["Id"] == before["Id"]
    back = agent_routes((output / "_telephony" / "my_extensions.conf").read_text())["5002"]
    assert back.audiosocket[0] == f"avr-core-{AGENTS[1]}"

    # down --all leaves the stack running; --telephony removes it and its secrets
    code, out, err = session.avrgen("down", "--all")
    assert code == 0, err
    assert inspect(ASTERISK)["Id"] == before["Id"]
    code, out, err = session.avrgen("down", "--all", "--telephony")
    assert code == 0, err
    assert "removed avr-asterisk (telephony, asterisk)" in out
    assert "removed the telephony secrets files" in out
    assert docker("container", "inspect", ASTERISK).returncode != 0
    assert not (session.state / "telephony" / PROJECT).exists()

    # no secret value in output/ or in anything avrgen printed: nor the key's bytes or its
    # host path (as written, or absolute); nothing of it left in the state folder
    keys = session.root / "tls-keys"
    hidden = [*SECRETS.values(), str(keys), TLS_KEY.decode(), "MIIavrt-tel-key"]
    for path in [*output.rglob("*"), *session.state.rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            for value in hidden:
                assert value.encode() not in data, path
    for printed in session.outputs:
        for value in hidden:
            assert value not in printed
    assert (keys / "asterisk.key").read_bytes() == TLS_KEY  # the operator's file, untouched


def assert_tls_files_mounted(session: Session) -> None:
    """The tls transport's certificate and key, in avr-asterisk at the paths my_pjsip.conf
    names, read-only, with the host files' bytes; the rendered files name neither path."""
    pjsip = (session.root / "output" / "_telephony" / "my_pjsip.conf").read_text()
    (transport,) = parse(pjsip).named("transport-tls")
    options = {o.name: o.value for o in transport.options}
    assert (options["cert_file"], options["priv_key_file"]) == (CERT_PATH, KEY_PATH)
    keys = (session.root / "tls-keys").resolve()
    mounts = {m["Destination"]: m for m in inspect(ASTERISK)["Mounts"]}  # type: ignore[attr-defined]
    for target, name, data in (
        (CERT_PATH, "asterisk.crt", TLS_CERT),
        (KEY_PATH, "asterisk.key", TLS_KEY),
    ):
        assert (mounts[target]["Source"], mounts[target]["RW"]) == (str(keys / name), False)
        inside = docker("exec", ASTERISK, "cat", target)
        assert inside.returncode == 0 and inside.stdout.encode() == data, inside.stderr
        write = docker("exec", ASTERISK, "sh", "-c", f": >> {target}")
        assert write.returncode != 0 and "Read-only file system" in write.stderr, write
    compose = (session.root / "output" / "_telephony" / "docker-compose.yml").read_text()
    assert '"${AVRT_TEL_TLS_KEY:?secret AVRT_TEL_TLS_KEY is not set}"' in compose


def test_an_asterisk_that_does_not_boot_in_time_and_a_failed_reload_are_named() -> None:
    dockerenv.require_engine(compose=False)
    dockerenv.ensure_test_images()
    name = f"avrt-tel-slow-{uuid.uuid4().hex[:8]}"
    run = docker("run", "-d", "--name", name, "-e", "BOOT_DELAY=60", dockerenv.ASTERISK_IMAGE)
    assert run.returncode == 0, run.stderr
    try:
        engine = Engine()
        with pytest.raises(ComposeError) as slow:
            wait_booted(engine, name, 1.5)
        assert str(slow.value).startswith(
            f'telephony: {name} did not answer `asterisk -rx "core waitfullybooted"` within 2s'
        )
        assert f"{name} last log lines:" in str(slow.value)
        with pytest.raises(ComposeError) as failed:
            reload(engine, name, "module reload res_nothing.so")
        assert str(failed.value).startswith(
            f'telephony: `asterisk -rx "module reload res_nothing.so"` in {name} failed: '
            "No such command"
        )
    finally:
        docker("rm", "-f", name)
