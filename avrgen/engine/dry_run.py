"""Compose's own comparison of an agent with its containers: `docker compose --dry-run up`
of its rendered files, which compares its config hash (env files resolved, secrets
interpolated) and image with every container's `com.docker.compose.*` labels, exactly as
a real `up` would. Drift asks it about containers without avrgen's content hash (made by
an older avrgen), and the tests ask it about every container (the cross-check).

The files are given in memory and written to a private temporary folder, so a stale
output/ does not matter and nothing in output/ is touched. Compose needs a value for every
`${NAME:?}` to read the file at all: a secret not set here is given as the running
container's own value (held in memory only, never shown), so every other difference is
still found.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from avrgen.engine.compose import ContainerStatus, Docker
from avrgen.engine.differences import Difference, parse_env
from avrgen.engine.secrets import redact
from avrgen.errors import ComposeError
from avrgen.model.output import COMPOSE_FILE
from avrgen.model.plan import AgentPlan

_DRY_RUN_LINE = re.compile(r"Container\s+(\S+)\s+(\w+)")
_RECREATE = frozenset({"Recreate", "Recreated"})
_DRY_RUN_TIMEOUT = 60

Inspect = Callable[[list[str]], Mapping[str, Mapping[str, Any]]]  # ids -> inspect data


def parse_dry_run(text: str) -> dict[str, set[str]]:
    """Container name -> the actions `docker compose --dry-run up` printed for it."""
    actions: dict[str, set[str]] = {}
    for line in text.splitlines():
        match = _DRY_RUN_LINE.search(line)
        if match:
            actions.setdefault(match.group(1), set()).add(match.group(2))
    return actions


def compose_verdict(
    docker: Docker,
    agent: AgentPlan,
    files: Mapping[str, bytes],
    env: Mapping[str, str],
    explained: Collection[str],
) -> list[Difference]:
    """Which of the agent's containers compose itself would recreate (those in `explained`
    have a difference named already); `env`: compose_env()."""
    with tempfile.TemporaryDirectory(prefix="avrgen-status-") as tmp:
        root = Path(tmp)
        for rel, data in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            path.chmod(0o600)
        client = docker.compose_client(root / agent.name / COMPOSE_FILE, agent.project)
        command = [
            *map(str, client.compose.docker_compose_cmd),
            *("--ansi", "never", "--progress", "plain", "--dry-run"),
            *("up", "--detach", "--remove-orphans"),
        ]
        try:
            proc = subprocess.run(
                command,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=_DRY_RUN_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ComposeError(f"agent {agent.name!r}: docker compose --dry-run: {exc}") from None
    output = redact(proc.stdout + proc.stderr, env.values())
    if proc.returncode != 0:
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        detail = lines[-1] if lines else f"exit status {proc.returncode}"
        return [Difference(agent.project, "-", "compose", f"docker compose: {detail}")]
    actions = parse_dry_run(output)
    return [
        Difference(
            container.name,
            container.role,
            "config",
            "configuration differs (compose would recreate it)",
        )
        for container in agent.containers
        if actions.get(container.name, set()) & _RECREATE and container.name not in explained
    ]


def compose_env(
    agent: AgentPlan,
    statuses: list[ContainerStatus],
    secrets: Mapping[str, str],
    inspect: Inspect,
) -> dict[str, str]:
    """Secrets for compose: the real ones where set, else the running container's own."""
    env = {name: secrets[name] for name in agent.secrets if name in secrets}
    missing = agent.secrets - set(env)
    if not missing:
        return env
    by_name = {s.name: s.id for s in statuses}
    inspected = inspect([by_name[c.name] for c in agent.containers if c.name in by_name])
    for container in agent.containers:
        found = inspected.get(by_name.get(container.name, ""))
        current = parse_env((found.get("Config") or {}).get("Env")) if found else {}
        for key, secret in container.secret_env:
            if secret in missing and key in current and secret not in env:
                env[secret] = current[key]
        # a key file's host path: where the running container's mount comes from
        mounts = (found.get("Mounts") or []) if found else []
        sources = {m.get("Destination"): m.get("Source") for m in mounts}
        for mount in container.key_files:
            if mount.secret in missing and mount.secret not in env:
                source = sources.get(mount.target)
                if source is not None:
                    env[mount.secret] = str(source)
    for secret in missing - set(env):
        env[secret] = "avrgen-status-secret-not-set"  # its container is gone anyway
    return env
