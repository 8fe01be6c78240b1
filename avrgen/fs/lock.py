"""The port lock (blueprints/avrgen.lock): its one format, read and written here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from avrgen.errors import BlueprintError, Problem
from avrgen.model.plan import Lock

LOCK_NAME = "avrgen.lock"


MAX_LOCK_BYTES = 16 * 1024 * 1024  # a lock is ~110 bytes an agent: 10,000 agents need 1.1 MB


def read_lock(folder: Path) -> dict[str, dict[str, int]]:
    """The port assignments recorded in `folder/avrgen.lock` (empty when there is none)."""
    path = folder / LOCK_NAME
    if not path.is_file():
        return {}
    name = path.as_posix()
    try:
        return _parse_lock(path)
    except (ValueError, OSError) as exc:
        problem = Problem(name, 0, "", f"unreadable lock file ({exc}); delete it to start afresh")
        raise BlueprintError([problem]) from None


def _parse_lock(path: Path) -> dict[str, dict[str, int]]:
    """The lock's agents and ports; a ValueError in avrgen's words names what is wrong."""
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
    agents = data.get("agents") if isinstance(data, dict) else None
    if not isinstance(agents, dict):
        raise ValueError('"agents" must be a mapping of agent names to their ports')
    locked = {}
    for agent, ports in agents.items():
        if not isinstance(ports, dict):
            raise ValueError(f"the ports of agent {agent!r} must be a mapping of role to port")
        locked[agent] = {role: _lock_port(port) for role, port in ports.items()}
    return locked


def _lock_port(port: Any) -> int:
    if not isinstance(port, int) or isinstance(port, bool):
        raise ValueError(f"port {port!r} is not a whole number")
    return port


def render_lock(lock: Lock) -> bytes:
    """The lock file: JSON (which is also YAML), sorted, one agent a block."""
    body = {"version": 1, "agents": {a: dict(sorted(p.items())) for a, p in sorted(lock.items())}}
    header = '{\n  "//": "avrgen.lock: port assignments kept stable across renders; commit it",\n'
    return (header + json.dumps(body, indent=2)[2:] + "\n").encode()
