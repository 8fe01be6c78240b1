"""Secrets never leak: known secret values are set (in the environment and in a secrets
file), every avrgen command is run, and not one byte it prints nor one file it writes may
hold them. The lifecycle part (up/ps/logs/status/restart/down) runs on a real engine.

Every command of the CLI must be listed here, run or exempt with a reason, so a new command
cannot slip past this test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import dockerenv
import pytest

from avrgen.cli.main import cli
from avrgen.pipeline.validate import SECRET_LOOKING
from tests.conftest import REPO, Avrgen

ENV_SECRET = "t5-env-secret-8f2c1d9a"  # given in the environment as T5_ENV_KEY
FILE_SECRET = "t5-file-secret-41b7e3c0"  # given in secrets.env as T5_FILE_KEY
SECRETS = (ENV_SECRET, FILE_SECRET)
NETWORK, SUBNET, AGENT = "avrgen-t5", "10.213.55.0/24", "t5-leak"

BLUEPRINTS = f"""\
kind: settings
network: {{name: {NETWORK}, subnet: {SUBNET}}}
ports: {{core: 28100-28149, http: 28200-28249, providers: 28300-28349}}
core: {{image: "{dockerenv.CORE_IMAGE}", env: {{CHECK_INTERVAL: "1"}}}}
---
kind: provider
name: T5 STS
type: STS
config:
  image: "{dockerenv.PROVIDER_IMAGE}"
  env:
    API_KEY: {{secret: T5_ENV_KEY}}
    GREETING: hi
---
kind: agent
name: {AGENT}
mode: sts
providers: {{sts: T5 STS}}
core:
  env:
    WEBHOOK_SECRET: {{secret: T5_FILE_KEY}}
"""

# Commands that are not run here, and why. Everything else in `avrgen --help` must be run.
EXEMPT = {
    "deploy": "swarm target: needs a swarm-mode engine (tests/docker/test_swarm.py); secrets go "
    "through the same resolver as `up`",
    "undeploy": "swarm target: removes stacks, handles no secret value",
}


class Runs:
    """Runs avrgen in one project folder and keeps every byte it printed: in-process through
    the real entry point (fast), or with `process`, as `python -m avrgen`."""

    def __init__(self, root: Path, env: dict[str, str], inline: Avrgen | None = None) -> None:
        self.root, self.env, self.inline = root, env, inline
        self.printed: list[tuple[str, str]] = []  # (command line, stdout + stderr)
        self.commands: set[str] = set()

    def __call__(self, *args: str, ok: bool | None = True) -> tuple[int, str, str]:
        if self.inline is not None:  # the caller has put self.env in os.environ
            result = self.inline(*args, cwd=self.root)
            code, stdout, stderr = result.exit_code, result.stdout, result.stderr
        else:
            base = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("AVRGEN_", "T5_")) or k == "AVRGEN_STATE"
            }
            proc = subprocess.run(
                [sys.executable, "-m", "avrgen", *args],
                cwd=self.root,
                env={**base, "PYTHONPATH": str(REPO), **self.env},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        self.commands.add(args[0])
        self.printed.append((" ".join(args), stdout + stderr))
        assert "Traceback" not in stderr, stderr
        if ok is not None:
            assert (code == 0) == ok, f"avrgen {' '.join(args)}: {stderr}"
        return code, stdout, stderr

    def assert_no_secret(self) -> None:
        for command, text in self.printed:
            for secret in SECRETS:
                assert secret not in text, f"`avrgen {command}` printed a secret"
                assert secret[-8:] not in text, f"`avrgen {command}` printed part of a secret"
        assert_no_secret_in_files(self.root)


def assert_no_secret_in_files(root: Path) -> None:
    """No file below `root` but the secrets file holds a secret (bytes, any encoding)."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name == "secrets.env":
            continue
        data = path.read_bytes()
        for secret in SECRETS:
            for encoded in (secret.encode(), secret.encode("utf-16-le"), secret[-8:].encode()):
                assert encoded not in data, f"{path} holds a secret"


def make_project(root: Path) -> None:
    dockerenv.blueprint_folder(
        root, f"# test secrets\nT5_FILE_KEY={FILE_SECRET}\n", agents=BLUEPRINTS
    )


def run_offline_commands(avrgen: Runs) -> None:
    """Every command that needs no engine, in its plain, --json and failing forms."""
    avrgen("validate")
    avrgen("validate", "--json")
    avrgen("render", "--check", ok=False)
    avrgen("render", "--check", "--json", ok=False)
    avrgen("plan")
    avrgen("diff", "--json")
    avrgen("render")
    avrgen("render", "--json")
    avrgen("render", "--check")
    avrgen("render", "--check", "--json")
    avrgen("render", "--target", "swarm", "-o", "swarm-out")
    # a change, seen through every view of it
    agents = avrgen.root / "blueprints" / "agents.yaml"
    agents.write_text(agents.read_text().replace("GREETING: hi", "GREETING: hello"))
    avrgen("plan", ok=None)
    avrgen("plan", "--json", ok=None)
    avrgen("diff", ok=None)
    avrgen("diff", "--stat", "--exit-code", ok=False)
    avrgen("render", "--check", ok=False)
    avrgen("render")
    avrgen("templates")
    avrgen("templates", "--json")
    avrgen("templates", "show", "sts-openai")
    avrgen("schema")
    avrgen("new", "provider", "sts-openai", "--help")
    avrgen("explain", AGENT)
    avrgen("explain", AGENT, "--json")
    # failures: a secret missing (the other one is set), an unknown agent
    avrgen("up", AGENT, ok=False)
    avrgen("up", "t5-leek", "--secrets-file", "secrets.env", ok=False)
    avrgen("logs", "t5-leek", ok=False)


def test_offline_commands_never_print_or_write_a_secret(
    tmp_path: Path, avrgen: Avrgen, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(tmp_path)
    monkeypatch.setenv("T5_ENV_KEY", ENV_SECRET)
    project = Runs(tmp_path, {"T5_ENV_KEY": ENV_SECRET}, inline=avrgen)
    run_offline_commands(project)
    missing = next(text for command, text in project.printed if command == f"up {AGENT}")
    assert "T5_FILE_KEY" in missing  # the error names the secret, not its value
    assert "T5_ENV_KEY" not in missing
    project.assert_no_secret()


def test_import_keeps_secrets_in_the_secrets_file_only(tmp_path: Path, avrgen: Avrgen) -> None:
    source = REPO / "tests" / "fixtures" / "dashboard" / "agents.json"
    values = sorted(set(_secret_looking(json.loads(source.read_text()))))
    assert values, "the fixture has secret-looking values"
    avrgen = Runs(tmp_path, {}, inline=avrgen)
    avrgen("import", str(source), "--dry-run", ok=None)
    avrgen("import", str(source), "--dry-run", "--json", ok=None)
    avrgen("import", str(source), "--secrets-file", "secrets.env", ok=None)
    avrgen("validate", ok=None)
    avrgen("render", ok=None)
    secrets_file = (tmp_path / "secrets.env").read_text()
    for value in values:
        assert value in secrets_file
        for command, text in avrgen.printed:
            assert value not in text, f"`avrgen {command}` printed {value!r}"
        for path in tmp_path.rglob("*"):
            if path.is_file() and path.name != "secrets.env":
                assert value.encode() not in path.read_bytes(), path


def _secret_looking(node: object, key: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _secret_looking(v, str(k))
    elif isinstance(node, list):
        for item in node:
            yield from _secret_looking(item, key)
    elif isinstance(node, str) and SECRET_LOOKING.search(key) and node:
        yield node


def test_errors_never_echo_env_values(tmp_path: Path, avrgen: Avrgen) -> None:
    """A malformed or misplaced value under an env key is reported by key, never by value."""
    literal = "sk-live-literal-5e5e0c11"
    text = BLUEPRINTS.replace(
        "GREETING: hi",
        f"GREETING: [{literal}]\n    OTHER_TOKEN: {{secret: {literal}}}\n"
        f"    3BAD: {literal}\n    PORT: {literal}\n    X_API_KEY: {literal}",
    )
    dockerenv.blueprint_folder(tmp_path, agents=text)
    avrgen = Runs(tmp_path, {}, inline=avrgen)
    avrgen("validate", ok=False)
    avrgen("validate", "--json", ok=False)
    avrgen("render", ok=False)
    avrgen("plan", ok=False)
    for command, printed in avrgen.printed:
        assert literal not in printed, f"`avrgen {command}` echoed an env value"
        assert "GREETING" in printed


# -- the lifecycle, on a real engine ---------------------------------------------------------


def _cleanup() -> None:
    def docker(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)

    ids = docker("ps", "-aq", "--filter", f"label=avrgen.agent={AGENT}").stdout.split()
    ids += docker(
        "ps", "-aq", "--filter", f"label=com.docker.compose.project=avr-{AGENT}"
    ).stdout.split()
    if ids:
        docker("rm", "-f", *sorted(set(ids)))
    docker("network", "rm", NETWORK)


@pytest.fixture
def engine() -> Iterator[None]:
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    _cleanup()
    try:
        yield
    finally:
        _cleanup()


@pytest.mark.docker
def test_lifecycle_never_prints_or_writes_a_secret(tmp_path: Path, engine: None) -> None:
    """As a user runs it: separate processes, the secret in their environment."""
    make_project(tmp_path)
    avrgen = Runs(tmp_path, {"T5_ENV_KEY": ENV_SECRET})  # offline commands: the test above
    # its release in ./state, so the files checked at the end include the state folder's
    avrgen("up", "--all", "--secrets-file", "secrets.env", "--state", "state")
    avrgen("history", "--state", "state")
    avrgen("history", AGENT, "--json", "--state", "state")
    # release 1 again: its compose files run with the secrets, nothing new is recorded
    avrgen("rollback", AGENT, "--to", "1", "--secrets-file", "secrets.env", "--state", "state")
    assert list((tmp_path / "state" / "releases").glob(f"*/{AGENT}/1/release.json"))
    avrgen("ps")
    avrgen("ps", "--json")
    avrgen("logs", AGENT, "--tail", "50")
    avrgen("status", "--secrets-file", "secrets.env", ok=None)
    avrgen("status", "--json", ok=None)
    avrgen("restart", AGENT)
    # the secrets did reach the containers, and only their environment
    inspected = json.loads(
        subprocess.run(
            ["docker", "container", "inspect", f"avr-sts-{AGENT}", f"avr-core-{AGENT}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    env = {e.split("=", 1)[0]: e.split("=", 1)[1] for c in inspected for e in c["Config"]["Env"]}
    assert env["API_KEY"] == ENV_SECRET and env["WEBHOOK_SECRET"] == FILE_SECRET
    for container in inspected:
        labels = json.dumps(container["Config"]["Labels"])
        assert not any(secret in labels for secret in SECRETS), "a secret in a label"
    avrgen("down", AGENT)
    avrgen("down", "--all", "--network", ok=None)
    avrgen.assert_no_secret()


def test_every_command_is_covered() -> None:
    """A command added to the CLI fails this until it is run above (or exempt, with why)."""
    source = Path(__file__).read_text()
    run = set(re.findall(r'avrgen\("([a-z]+)"', source))
    missing = set(cli.list_commands(click.Context(cli))) - run - set(EXEMPT)
    assert not missing, f"commands this test does not run: {sorted(missing)}"
