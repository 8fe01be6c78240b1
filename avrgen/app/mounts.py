"""Before `up` or `deploy` starts anything: every host path an agent mounts exists and is
what its field says (a tools folder a folder, a key file a file, a volume either), and a
relative one still lies inside the blueprint folder once symlinks are followed.

A key file's host path is a secret's value: it is made absolute here (docker compose would
resolve a relative one against output/<agent>/) and never printed; a problem with it names
the secret. No file is ever opened or read. An agent on another host (settings.hosts)
mounts that machine's paths, which are not checked here; so does the telephony stack's
(the tls transport's certificate and key) when it runs on one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from avrgen.engine.secrets import Secrets
from avrgen.errors import HostPathError
from avrgen.model.mounts import Mount
from avrgen.model.plan import AgentPlan, Container, Telephony


def check_host_paths(
    agents: Sequence[AgentPlan],
    blueprints: Path,
    secrets: Secrets,
    cwd: Path | None = None,
    telephony: Telephony | None = None,
) -> Secrets:
    """The secrets with key files' host paths made absolute (relative ones: to `cwd`, the
    current folder by default), or one error naming every host path that is not right.
    With `telephony`, the stack's key files too (the tls transport's certificate and key)."""
    root = blueprints.resolve()
    values = absolute_key_paths(agents, secrets.values, cwd, telephony)
    problems: list[str] = []
    # the stack on a host of settings.hosts mounts that machine's files: not seen here
    if telephony is not None and telephony.host is None:
        for mount in telephony.key_files:
            assert mount.secret is not None  # the stack's key files are all secrets' values
            what = f"the host path in secret {mount.secret}"
            problem = _problem(mount, Path(values[mount.secret]), root, what)
            if problem is not None:
                where = f"telephony, {telephony.asterisk}, {mount.field}"
                problems.append(f"  {where}: {problem}")
    for agent in agents:
        for container in agent.containers:
            for mount in container.mounts:
                where = f"agent {agent.name!r}, {_role(container)}, {mount.field}"
                if mount.secret is not None:
                    path = Path(values[mount.secret])
                    what = f"the host path in secret {mount.secret}"
                else:
                    path = blueprints / mount.source
                    what = path.as_posix()
                # on a host of settings.hosts, host paths are that machine's: not seen here
                problem = None if agent.host is not None else _problem(mount, path, root, what)
                if problem is not None:
                    problems.append(f"  {where}: {problem}")
    if problems:
        raise HostPathError(
            f"{len(problems)} host path(s) not as the blueprints need them; nothing was "
            "started:\n" + "\n".join(problems)
        )
    return Secrets(values)


def absolute_key_paths(
    agents: Iterable[AgentPlan],
    values: Mapping[str, str],
    cwd: Path | None = None,
    telephony: Telephony | None = None,
) -> dict[str, str]:
    """`values` with each key file's host path (a secret's value) absolute, as `up` gives it
    to docker compose (relative ones: to `cwd`, the current folder by default); the
    telephony stack's too, with `telephony`."""
    base = Path.cwd() if cwd is None else cwd
    found = dict(values)
    names = {n for agent in agents for n in agent.key_secrets}
    if telephony is not None:
        names |= {m.secret for m in telephony.key_files if m.secret is not None}
    for name in names:
        if name in found:
            found[name] = Path(os.path.abspath(base / found[name])).as_posix()
    return found


def _role(container: Container) -> str:
    if container.provider is None:
        return "core"
    return f"{container.role.upper()} provider {container.provider!r}"


def _problem(mount: Mount, path: Path, root: Path, what: str) -> str | None:
    if mount.secret is not None and ":" in str(path):
        return f"{what} holds a ':', which docker's volume syntax cannot take"
    if not path.exists():
        return f"{what} does not exist (expected a {mount.kind})"
    if mount.kind == "folder" and not path.is_dir():
        return f"{what} is not a folder"
    if mount.kind == "file" and not path.is_file():
        return f"{what} is not a file" + (" (it is a folder)" if path.is_dir() else "")
    if mount.secret is None and mount.source and not mount.source.startswith("/"):
        real = path.resolve()
        if not real.is_relative_to(root):
            return f"{what} leads outside the blueprint folder (a symlink to {real})"
    return None
