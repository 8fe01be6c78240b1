"""Tools, volumes and key files on the real engine (issue 16, part 1): a provider with a key
file (its path through --secrets-file), a tools folder and a prompts folder, and an agent
whose core mounts a sounds folder, brought up once on the stand-in images; each file is
seen inside its container, read-only, and the key's bytes are nowhere in output/, in what
avrgen printed, or in `avrgen plan`. A host path that is missing fails `up` before anything
starts, naming the agent, the role and the path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dockerenv
import pytest
from dockerenv import docker
from dockerenv import run_avrgen as avrgen

pytestmark = pytest.mark.docker

LOCK_FILE = Path("/tmp/avrgen-test-volumes.lock")
NETWORK, SUBNET = "avrgen-vol", "10.213.91.0/24"
AGENT, BROKEN = "vol-voice", "vol-broken"
KEY_BYTES = '{"type": "service_account", "private_key": "vol-key-5d0c93e1a7"}\n'
SOUND = bytes(range(256)) * 8  # 2 KB

BLUEPRINTS = {
    "settings.yaml": f"""\
kind: settings
network: {{name: {NETWORK}, subnet: {SUBNET}}}
ports: {{core: 29100-29119, http: 29120-29139, providers: 29140-29169}}
core: {{image: "{dockerenv.CORE_IMAGE}", env: {{CHECK_INTERVAL: "1"}}}}
""",
    "providers.yaml": f"""\
kind: provider
name: Vol Google STS
type: STS
config:
  image: "{dockerenv.PROVIDER_IMAGE}"
  env: {{GOOGLE_APPLICATION_CREDENTIALS: /usr/src/app/google.json}}
  tools: ./tools
  volumes: ["./prompts:/usr/src/app/prompts:ro"]
  files:
    /usr/src/app/google.json: {{secret_file: VOL_GOOGLE_KEY}}
""",
    "agents/voice.yaml": f"""\
kind: agent
name: {AGENT}
mode: sts
providers: {{sts: Vol Google STS}}
core:
  env: {{AMBIENT_NOISE_FILE: ambient_sounds/office.raw}}
  volumes: ["../ambient_sounds:/usr/src/app/ambient_sounds:ro"]
---
kind: agent
name: {BROKEN}
mode: sts
providers: {{sts: Vol Google STS}}
core:
  volumes: ["../no-such-folder:/usr/src/app/ambient_sounds:ro"]
""",
    "tools/vol_transfer.js": "module.exports = {name: 'vol_transfer'};\n",
    "prompts/greeting.txt": "Hello from the prompts folder\n",
}


@dataclass
class Brought:
    root: Path
    printed: list[str]  # everything avrgen printed: up (failed, then ok), plan, logs
    broken: str  # stderr of the failed `up` of the agent with a missing folder


def exec_in(container: str, *command: str) -> str:
    proc = docker("exec", container, *command)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def cleanup() -> None:
    for agent in (AGENT, BROKEN):
        ids = docker("ps", "-aq", "--filter", f"label=avrgen.agent={agent}").stdout.split()
        if ids:
            docker("rm", "-f", *ids)
    docker("network", "rm", NETWORK)


@pytest.fixture(scope="module")
def brought(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Brought]:
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    with dockerenv.exclusive(LOCK_FILE, minutes=10):
        cleanup()
        root = tmp_path_factory.mktemp("volumes")
        dockerenv.blueprint_folder(root, "VOL_GOOGLE_KEY=keys/google.json\n")
        for name, text in BLUEPRINTS.items():
            path = root / "blueprints" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        (root / "blueprints" / "ambient_sounds").mkdir()
        (root / "blueprints" / "ambient_sounds" / "office.raw").write_bytes(SOUND)
        (root / "keys").mkdir()
        (root / "keys" / "google.json").write_text(KEY_BYTES)
        try:
            # first the agent whose folder is missing: nothing may start, not even the network
            broken = avrgen("up", BROKEN, "--secrets-file", "secrets.env", cwd=root)
            assert broken.returncode == 1, broken.stderr
            assert docker("network", "inspect", NETWORK).returncode != 0
            up = avrgen("up", AGENT, "--secrets-file", "secrets.env", cwd=root)
            assert up.returncode == 0, up.stderr
            printed = [broken.stdout + broken.stderr, up.stdout + up.stderr]
            for args in (("plan",), ("logs", AGENT)):
                proc = avrgen(*args, cwd=root)
                assert proc.returncode == 0, proc.stderr
                printed.append(proc.stdout + proc.stderr)
            yield Brought(root, printed, broken.stderr)
        finally:
            avrgen("down", AGENT, BROKEN, "--network", cwd=root)
            cleanup()


def test_each_file_is_in_its_container(brought: Brought) -> None:
    sts, core = f"avr-sts-{AGENT}", f"avr-core-{AGENT}"
    assert exec_in(sts, "cat", "/usr/src/app/google.json") == KEY_BYTES
    assert exec_in(sts, "ls", "/usr/src/app/tools").split() == ["vol_transfer.js"]
    assert exec_in(sts, "cat", "/usr/src/app/prompts/greeting.txt") == (
        "Hello from the prompts folder\n"
    )
    size = exec_in(core, "wc", "-c", "/usr/src/app/ambient_sounds/office.raw").split()[0]
    assert int(size) == len(SOUND)
    env = exec_in(core, "sh", "-c", "echo $AMBIENT_NOISE_FILE").strip()
    assert env == "ambient_sounds/office.raw"


def test_every_mount_is_read_only_and_avr_tools_is_left_alone(brought: Brought) -> None:
    sts = f"avr-sts-{AGENT}"
    wrote = docker("exec", sts, "sh", "-c", "echo x > /usr/src/app/tools/new.js")
    assert wrote.returncode != 0
    mounts = json.loads(docker("inspect", "--format", "{{json .Mounts}}", sts).stdout)
    by_target = {m["Destination"]: m for m in mounts}
    assert set(by_target) == {
        "/usr/src/app/tools",
        "/usr/src/app/prompts",
        "/usr/src/app/google.json",
    }
    assert not any(m["RW"] for m in mounts)
    # the stand-in has no built-in tools: nothing is mounted at or above their path
    assert not any("/usr/src/app/avr_tools".startswith(t) for t in by_target)
    assert by_target["/usr/src/app/tools"]["Source"] == str(brought.root / "blueprints/tools")


def test_the_keys_bytes_are_nowhere_in_output_or_printed(brought: Brought) -> None:
    key_path = str(brought.root / "keys" / "google.json")
    marker = KEY_BYTES.split('"')[-2]  # the private key's text alone
    for text in brought.printed:
        assert marker not in text
        assert KEY_BYTES not in text
    for path in sorted((brought.root / "output").rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            assert marker.encode() not in data, path
            assert key_path.encode() not in data, path  # nor where the key lives
    compose = (brought.root / "output" / AGENT / "docker-compose.yml").read_text()
    assert '"${VOL_GOOGLE_KEY:?secret VOL_GOOGLE_KEY is not set}:/usr/src/app/google.json:ro"' in (
        compose
    )


def test_a_missing_folder_fails_up_before_anything_starts(brought: Brought) -> None:
    assert (
        f"agent '{BROKEN}', core, core.volumes[0]: blueprints/no-such-folder does not exist "
        "(expected a file or folder)"
    ) in brought.broken
    assert "nothing was started" in brought.broken
    assert docker("ps", "-aq", "--filter", f"label=avrgen.agent={BROKEN}").stdout.strip() == ""
