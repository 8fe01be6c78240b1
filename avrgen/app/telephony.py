"""The telephony stack in `up`, `down --telephony` and `status` (the compose target; the
engine's side: avrgen/engine/telephony.py, the state folder's files:
avrgen/engine/telephony_state.py).

`up`: network, then this, then the agents. Its secrets are resolved with the agents' (a
missing one fails before anything starts, naming it) and the secrets include files are made
from them before the engine is touched (a value Asterisk cannot read fails naming the
secret). Then the stack's compose project comes up, Asterisk is waited for (`core
waitfullybooted`), and each mounted file whose bytes, or whose included secrets file's
bytes, differ from what this Asterisk container last loaded is reloaded in place. The
record of what it loaded lives in the state folder (`loaded.json`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from avrgen.engine.telephony_state import (
    LoadedConfig,
    config_inputs,
    read_confs,
    read_record,
    remove_stack_state,
    secret_files,
    secrets_dir,
    write_record,
    write_secrets,
)
from avrgen.errors import SecretsError
from avrgen.model.output import COMPOSE_FILE
from avrgen.model.plan import TELEPHONY_PROJECT, Telephony

if TYPE_CHECKING:
    from avrgen.engine.compose import ContainerStatus, Docker
    from avrgen.engine.secrets import Secrets

USER = "telephony"  # who needs the stack's secrets, in a missing-secret message


@dataclass
class TelephonyUp:
    """What `up` did to the telephony stack."""

    status: str  # started (a container was created or started) | reloaded | unchanged
    containers: list[ContainerStatus]
    reloads: list[str]  # the `asterisk -rx` commands run, in order
    seconds: float
    secrets_folder: Path


@dataclass
class TelephonyStatus:
    """The stack's containers and whether the running Asterisk loaded what the blueprints
    render now: `in sync`, `drifted` (`differences` names the files), `not running`."""

    state: str
    containers: list[ContainerStatus]
    differences: list[str] = field(default_factory=list)
    unchecked_secrets: list[str] = field(default_factory=list)  # not set here


def needed_secrets(telephony: Telephony | None) -> dict[str, list[str]]:
    """The stack's secret names, each needed by `telephony` (for resolve_secrets)."""
    if telephony is None:
        return {}
    return {name: [USER] for name in sorted(telephony.secrets)}


@dataclass
class TelephonyStart:
    """The stack's part of one `up`: `prepare` once the secrets are resolved (before the
    engine), `run` once the network exists (before the agents)."""

    telephony: Telephony
    output: Path  # the output folder
    state_dir: Path
    timeout: int
    files: dict[str, bytes] = field(default_factory=dict, repr=False)
    result: TelephonyUp | None = None  # after start()

    @property
    def folder(self) -> Path:
        return self.output / self.telephony.folder

    @property
    def needs(self) -> dict[str, list[str]]:
        return needed_secrets(self.telephony)

    def prepare(self, secrets: Secrets) -> None:
        """The secrets include files, in memory (fails naming a secret that cannot be
        written); nothing is written yet."""
        values = {name: secrets.values[name] for name in self.telephony.secrets}
        self.files = secret_files(self.telephony, values)

    def start(self, docker: Docker, secrets: Secrets) -> None:
        self.result = self._start(docker, secrets)

    def _start(self, docker: Docker, secrets: Secrets) -> TelephonyUp:
        from avrgen.engine import telephony as engine
        from avrgen.engine.sets import refuse_stack_held

        start = time.monotonic()
        telephony = self.telephony
        engine.refuse_foreign(docker, telephony.project, engine.container_names(telephony), "start")
        running = engine.stack_containers(docker, telephony.project)
        refuse_stack_held(docker.scope, running)  # another blueprint set's stack
        before = {s.name: s.id for s in running}
        folder = secrets_dir(self.state_dir, telephony)
        write_secrets(folder, self.files)
        # key files' host paths (made absolute by check_host_paths): compose's environment
        # only, as every secret (the rendered file holds `${NAME:?...}`)
        keys = [m.secret for m in telephony.key_files if m.secret is not None]
        environment = {
            telephony.secrets_variable: str(folder.resolve()),
            **{item.secret: secrets.values[item.secret] for item in telephony.env_secrets},
            **{name: secrets.values[name] for name in keys},
        }
        stack = engine.compose_up(
            docker,
            telephony,
            self.folder / COMPOSE_FILE,
            environment,
            secrets.redact,
            self.timeout,
        )
        left = max(1.0, self.timeout - (time.monotonic() - start))
        docker.say("telephony", f'waiting for asterisk -rx "{engine.BOOTED}"')
        engine.wait_booted(docker, telephony.asterisk, left, secrets.redact)
        inputs = config_inputs(telephony, read_confs(telephony, self.folder), self.files)
        fresh = before.get(telephony.asterisk) != stack.asterisk_id  # booted with these files
        todo = (
            []
            if fresh
            else inputs.changed(read_record(self.state_dir, telephony), stack.asterisk_id)
        )
        commands = [telephony.reloads[name] for name in todo if name in telephony.reloads]
        for command in dict.fromkeys(commands):
            engine.reload(docker, telephony.asterisk, command, secrets.redact)
        write_record(self.state_dir, telephony, LoadedConfig(stack.asterisk_id, inputs.digests))
        status = "started" if stack.changed or fresh else "reloaded" if commands else "unchanged"
        docker.say("telephony", status + (f": {', '.join(commands)}" if commands else ""))
        return TelephonyUp(
            status,
            engine.stack_containers(docker, telephony.project),
            list(dict.fromkeys(commands)),
            time.monotonic() - start,
            folder,
        )


def remove(docker: Docker, telephony: Telephony | None, state_dir: Path) -> list[ContainerStatus]:
    """`down --telephony`: the stack's containers, then its state (secrets files, record).
    Without telephony in the blueprints, the stack of the default project is removed."""
    from avrgen.engine import telephony as engine

    project = telephony.project if telephony is not None else TELEPHONY_PROJECT
    names: Sequence[str] = engine.container_names(telephony) if telephony is not None else ()
    removed = engine.remove_stack(docker, project, names)
    remove_stack_state(state_dir, project)
    return removed


def status(
    docker: Docker,
    telephony: Telephony,
    confs: Mapping[str, bytes],
    state_dir: Path,
    available: Mapping[str, str],
) -> TelephonyStatus:
    """The stack against the blueprints: its containers run, and its Asterisk loaded the
    files rendered now (`confs`) and the secrets files made of the secrets set here
    (`available`; for those not set, the files `up` last wrote are taken as they are)."""
    from avrgen.engine import telephony as engine

    found = engine.stack_containers(docker, telephony.project)
    running = {s.name: s for s in found if s.state == "running"}
    if telephony.asterisk not in running:
        return TelephonyStatus("not running", found)
    differences: list[str] = []
    for name in engine.container_names(telephony):
        status_of = next((c for c in found if c.name == name), None)
        if status_of is None:
            differences.append(f"{name}: missing")
        elif not status_of.ok:
            differences.append(f"{name}: {status_of.state}, {status_of.health or '-'}")
    unchecked = sorted(name for name in telephony.secrets if name not in available)
    folder = secrets_dir(state_dir, telephony)
    if telephony.conf_secrets - set(available):
        written = {p.name: p.read_bytes() for p in folder.glob("*") if p.is_file()}
    else:
        try:
            written = secret_files(telephony, dict(available))
        except SecretsError as exc:  # a value `up` would refuse (the message names no value)
            differences.append(str(exc).split(";")[0])
            written = {}
    inputs = config_inputs(telephony, confs, written)
    asterisk = running[telephony.asterisk]
    differences += _key_files_moved(docker, telephony, asterisk.id, available)
    record = read_record(state_dir, telephony)
    if record is None or record.container != asterisk.id:
        differences.append(
            f"{telephony.asterisk}: no record of what it loaded (`avrgen up` reloads it)"
        )
    else:
        for name in inputs.changed(record, asterisk.id):
            differences.append(f"{name}: changed since Asterisk loaded it (`avrgen up` reloads it)")
    return TelephonyStatus("drifted" if differences else "in sync", found, differences, unchecked)


def _key_files_moved(
    docker: Docker, telephony: Telephony, container: str, available: Mapping[str, str]
) -> list[str]:
    """The key files (the tls transport's certificate and key) whose secret, set here,
    names another host file than the running Asterisk mounts (`up` recreates it then)."""
    from avrgen.app.mounts import absolute_key_paths
    from avrgen.engine import telephony as engine

    keys = [m for m in telephony.key_files if m.secret is not None and m.secret in available]
    if not keys:
        return []
    given = absolute_key_paths((), available, telephony=telephony)
    sources = engine.mount_sources(docker, container)
    return [
        f"{telephony.asterisk}: {mount.field} is mounted from another file than secret "
        f"{mount.secret} names (`avrgen up` recreates it)"
        for mount in keys
        if mount.secret is not None and sources.get(mount.target) != given[mount.secret]
    ]
