"""The port lock (blueprints/avrgen.lock): its one format, read and written here.

It also records the blueprint set's id (`"set"`): the settings' `set:`, else one made up
once, at the first render, by new_set_id(), and read from the lock ever after (committed
with it, so every machine renders the same labels).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from avrgen.errors import BlueprintError, Problem
from avrgen.model.names import SET_ID_RE

if TYPE_CHECKING:  # pydantic's models: not for `--help`
    from avrgen.model.plan import Lock

LOCK_NAME = "avrgen.lock"
T = TypeVar("T")


MAX_LOCK_BYTES = 16 * 1024 * 1024  # a lock is ~110 bytes an agent: 10,000 agents need 1.1 MB


def read_lock(folder: Path) -> dict[str, dict[str, int]]:
    """The port assignments recorded in `folder/avrgen.lock` (empty when there is none)."""
    return _read(folder, _parse_lock)


def read_set_id(folder: Path) -> str | None:
    """The set id recorded in `folder/avrgen.lock` (None when there is none, or no lock)."""
    return _read(folder, _parse_set_id)


def new_set_id(folder: Path) -> str:
    """A new set id for the blueprint folder `folder`: the name of the folder holding it
    (what an operator recognises in a message) and 8 random hex digits (two checkouts of
    one repository still differ)."""
    stem = re.sub(r"[^a-z0-9]+", "-", folder.resolve().parent.name.lower()).strip("-")[:31]
    import secrets  # here: its imports (hmac, random) are for a new set only

    suffix = secrets.token_hex(4)
    return f"{stem.rstrip('-')}-{suffix}" if stem else f"set-{suffix}"


def _read(folder: Path, parse: Callable[[Any], T]) -> T:
    """`parse` of the lock's JSON data (of None without a lock); unreadable: an error
    naming the file."""
    path = folder / LOCK_NAME
    if not path.is_file():
        return parse(None)
    try:
        return parse(_load(path))
    except (ValueError, OSError) as exc:
        message = f"unreadable lock file ({exc}); delete it to start afresh"
        raise BlueprintError([Problem(path.as_posix(), 0, "", message)]) from None


def _parse_set_id(data: Any) -> str | None:
    found = data.get("set") if isinstance(data, dict) else None
    if found is not None and not (isinstance(found, str) and SET_ID_RE.match(found)):
        raise ValueError(f'"set" must be a set id (a-z, 0-9 and -), not {found!r}')
    return found


def _parse_lock(data: Any) -> dict[str, dict[str, int]]:
    """The lock's agents and ports; a ValueError in avrgen's words names what is wrong."""
    if data is None:
        return {}
    agents = data.get("agents") if isinstance(data, dict) else None
    if not isinstance(agents, dict):
        raise ValueError('"agents" must be a mapping of agent names to their ports')
    locked = {}
    for agent, ports in agents.items():
        if not isinstance(ports, dict):
            raise ValueError(f"the ports of agent {agent!r} must be a mapping of role to port")
        locked[agent] = {role: _lock_port(port) for role, port in ports.items()}
    return locked


def _load(path: Path) -> Any:
    """The lock file as JSON data; a ValueError in avrgen's words names what is wrong."""
    with path.open("rb") as handle:
        raw = handle.read(MAX_LOCK_BYTES + 1)
    if len(raw) > MAX_LOCK_BYTES:
        raise ValueError(f"larger than {MAX_LOCK_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    return data


def _lock_port(port: Any) -> int:
    if not isinstance(port, int) or isinstance(port, bool):
        raise ValueError(f"port {port!r} is not a whole number")
    return port


def render_lock(lock: Lock, set_id: str) -> bytes:
    """The lock file: JSON (which is also YAML), sorted, one agent a block."""
    agents = {a: dict(sorted(p.items())) for a, p in sorted(lock.items())}
    body = {"version": 1, "set": set_id, "agents": agents}
    header = '{\n  "//": "avrgen.lock: the set id and port assignments, kept stable; commit it",\n'
    return (header + json.dumps(body, indent=2)[2:] + "\n").encode()
