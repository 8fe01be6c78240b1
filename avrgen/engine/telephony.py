"""The telephony stack on a Docker Engine: avr-asterisk and avr-ami in their own compose
project (Plan.telephony), brought up, waited for, and reloaded in place.

- Only what carries avrgen's labels is touched: a container avrgen did not create in the
  project, or holding `avr-asterisk` / `avr-ami`, stops `up` and `down` before anything
  changes (ownership.py).
- `up` is `docker compose up --wait` of `output/_telephony/docker-compose.yml`, with the
  secrets folder (AVRGEN_ASTERISK_SECRETS) and avr-ami's secrets in compose's environment
  only; then `asterisk -rx "core waitfullybooted"` through `docker exec` until Asterisk
  answers (bounded by `--timeout`).
- A change of the mounted files is loaded with `asterisk -rx "<reload>"` (`dialplan
  reload`, `module reload res_pjsip.so`, `manager reload`, ...) in the running container:
  never a restart, so calls in progress keep going. Which files changed is the caller's
  (telephony_state.py); what Asterisk answered is checked here.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from avrgen.engine import ownership
from avrgen.engine.containers import (
    ContainerStatus,
    ListFilter,
    inspect,
    is_managed,
    log_tail,
    matching,
    remove,
    status_of,
)
from avrgen.engine.docker import Engine, Redact, quoted_log, tail
from avrgen.engine.up import changed, run_compose_up
from avrgen.errors import ComposeError
from avrgen.model.labels import PROJECT_LABEL
from avrgen.model.plan import Telephony

BOOTED = "core waitfullybooted"
# what `asterisk -rx` prints when its command did not run (it may still exit 0)
_FAILED = ("Unable to connect", "No such command", "Failed", "failed", "Error", "ERROR")
_EXEC_TIMEOUT = 30.0  # one `docker exec ... asterisk -rx`


@dataclass
class StackUp:
    """What `docker compose up` did to the stack, and the Asterisk container now."""

    changed: bool  # compose created, recreated or started a container
    asterisk_id: str
    containers: list[ContainerStatus]


def stack_containers(engine: Engine, project: str) -> list[ContainerStatus]:
    """The stack's containers (avrgen's, of its compose project), running or not."""
    filters: list[list[ListFilter]] = [[("label", f"{PROJECT_LABEL}={project}")]]
    found = [status_of(data) for data in matching(engine, filters) if is_managed(data)]
    order = {"asterisk": 0, "ami": 1}
    return sorted(found, key=lambda s: (order.get(s.role, 2), s.name))


def container_names(telephony: Telephony) -> list[str]:
    return [telephony.asterisk, *([telephony.ami] if telephony.ami else [])]


def refuse_foreign(engine: Engine, project: str, names: Sequence[str], what: str) -> None:
    """Fail when a container avrgen did not create is in the stack's compose project or
    holds one of its container names."""
    ownership.refuse(
        f"{what} the telephony stack", ownership.foreign_containers(engine, [project], names)
    )


def compose_up(
    engine: Engine,
    telephony: Telephony,
    compose_file: Path,
    environment: Mapping[str, str],
    redact: Redact,
    timeout: int,
) -> StackUp:
    """`docker compose up --wait` of the stack; fails with a ComposeError naming it."""
    if not compose_file.is_file():
        raise ComposeError(f"telephony: {compose_file} not found; run avrgen render")
    engine.say("telephony", "docker compose up --wait")
    code, lines = run_compose_up(
        engine, "telephony", telephony.project, compose_file, environment, redact, timeout
    )
    found = stack_containers(engine, telephony.project)
    if code != 0:
        parts = [f"telephony: docker compose up failed:\n{tail(lines, 12)}"]
        for status in found:
            if not status.ok:
                parts.append(f"  {status.name} ({status.role}): {status.state}; last log lines:")
                parts.extend(quoted_log(log_tail(engine, status.name), redact))
        raise ComposeError("\n".join(parts))
    asterisk = next((s for s in found if s.name == telephony.asterisk), None)
    if asterisk is None or asterisk.state != "running":
        state = asterisk.state if asterisk is not None else "absent"
        raise ComposeError(f"telephony: {telephony.asterisk} is {state} after docker compose up")
    return StackUp(any(changed(line) for line in lines), asterisk.id, found)


def mount_sources(engine: Engine, container: str) -> dict[str, str]:
    """The host path each of the container's mounts comes from, by its path inside."""
    found = inspect(engine, [container])
    mounts = (found[0].get("Mounts") or []) if found else []
    return {str(m.get("Destination")): str(m.get("Source")) for m in mounts}


def asterisk_rx(engine: Engine, container: str, command: str, timeout: float) -> tuple[bool, str]:
    """`docker exec <container> asterisk -rx <command>`: (it ran, its output)."""
    try:
        proc = subprocess.run(
            engine.command("exec", container, "asterisk", "-rx", command),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=max(timeout, 0.1),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"no answer within {timeout:.0f}s"
    output = (proc.stdout + proc.stderr).strip()
    ok = proc.returncode == 0 and not any(word in output for word in _FAILED)
    return ok, output or f"exit status {proc.returncode}"


def wait_booted(
    engine: Engine, container: str, timeout: float, redact: Redact = lambda s: s
) -> float:
    """Ask `asterisk -rx "core waitfullybooted"` until Asterisk answers (it fails at once
    while Asterisk's control socket is not there yet); the seconds it took."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        ok, output = asterisk_rx(engine, container, BOOTED, deadline - time.monotonic())
        if ok:
            return time.monotonic() - start
        if time.monotonic() >= deadline:
            lines = quoted_log(log_tail(engine, container), redact)
            raise ComposeError(
                f'telephony: {container} did not answer `asterisk -rx "{BOOTED}"` within '
                f"{timeout:.0f}s (`--timeout` sets how long `up` waits); its last answer: "
                f"{redact(output.splitlines()[-1])}\n  {container} last log lines:\n"
                + "\n".join(lines)
            )
        time.sleep(0.2)


def reload(engine: Engine, container: str, command: str, redact: Redact = lambda s: s) -> None:
    """Run one reload command in the running Asterisk; fail naming it when it did not run."""
    engine.say("telephony", f'asterisk -rx "{command}"')
    ok, output = asterisk_rx(engine, container, command, _EXEC_TIMEOUT)
    if not ok:
        raise ComposeError(
            f'telephony: `asterisk -rx "{command}"` in {container} failed: {redact(output)}; '
            "Asterisk keeps running with what it loaded before"
        )


def remove_stack(engine: Engine, project: str, names: Sequence[str]) -> list[ContainerStatus]:
    """Stop and remove the stack's containers (after refusing next to a foreign one)."""
    refuse_foreign(engine, project, names, "remove")
    found = stack_containers(engine, project)
    remove(engine, found)
    return found
