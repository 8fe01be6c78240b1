"""The render cache's entries: one per output folder, recording what a render produced and
printed; a lookup answers only when every output file still holds the recorded bytes."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avrgen.errors import Problem
from avrgen.fs.atomic import TEMP_SUFFIX, write_atomic
from avrgen.fs.files import read_regular
from avrgen.model.output import GENERATED_MARK
from avrgen.pipeline.cache.key import FORMAT, Doubt, catalog_hash, folder, folder_name, read_input

if TYPE_CHECKING:
    from avrgen.model.plan import AgentPlan
    from avrgen.pipeline.cache.agents import AgentReuse

CACHE_MODE = 0o600  # entries describe the user's blueprints (paths, warnings): theirs alone


# -- what a hit gives back: the parts of the plan the CLI prints ------------------------------


@dataclass(frozen=True)
class ContainerView:
    role: str
    name: str
    image: str
    port: int
    http_port: int | None
    published: tuple[int, ...]


@dataclass(frozen=True)
class AgentView:
    mode: str
    project: str
    containers: tuple[ContainerView, ...]


@dataclass(frozen=True)
class PlanView:
    """What `render` prints of a plan (the table and --json), read back from the cache."""

    agents: dict[str, AgentView]


@dataclass(frozen=True)
class Hit:
    plan: PlanView
    warnings: list[Problem]


_CONTAINER_VIEW = tuple(f.name for f in dataclasses.fields(ContainerView))


def view_entry(agent: AgentPlan) -> dict[str, Any]:
    """The parts of an agent's plan a hit gives back (an AgentView's fields, by the same
    names as on the plan), as the entry's JSON holds them. Built directly, not through
    dataclasses.asdict(), which copies every value deeply (1,000s of agents)."""
    containers = [{name: getattr(c, name) for name in _CONTAINER_VIEW} for c in agent.containers]
    return {"mode": agent.mode, "project": agent.project, "containers": containers}


def entry_path(output: Path) -> Path:
    return folder() / f"{folder_name(output)}.json"


def lookup(the_key: str, output: Path, lock: Path) -> Hit | None:
    """The recorded result when the entry for `output` has `the_key` and every output file
    (and the lock) still holds exactly the recorded bytes; else None."""
    try:
        with open(entry_path(output), "rb") as handle:
            raw = handle.read()
        if not raw.startswith(b'{"format":%d,"key":"%s"' % (FORMAT, the_key.encode())):
            return None  # another key (as store() writes it): no need to parse the rest
        entry = json.loads(raw)
        if entry.get("format") != FORMAT or entry.get("key") != the_key:
            return None
        own = entry["catalog"]
        if catalog_hash(Path(own) if own else None) != entry["catalog_hash"]:
            return None
        if hashlib.sha256(read_input(lock)).hexdigest() != entry["lock"]:
            return None
        if not _outputs_match(output, entry["files"]):
            return None
        return _hit(entry)
    except (Doubt, OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def _outputs_match(root: Path, recorded: dict[str, str]) -> bool:
    """Every recorded file holds its bytes (read and hashed), is a plain file (env files
    private), and no other generated or temporary file lies in the agent folders."""
    if not isinstance(recorded, dict):
        return False
    seen = 0
    parents = {rel.partition("/")[0] for rel in recorded}
    with os.scandir(root) as folders:
        for agent in folders:
            if agent.is_symlink():
                if agent.name in parents:
                    return False  # the full render refuses it, with its message
                continue
            if not agent.is_dir():
                continue
            with os.scandir(agent.path) as entries:
                for entry in entries:
                    name = entry.name
                    if name.startswith("."):
                        if name.endswith(TEMP_SUFFIX):
                            return False  # a killed render's leftover: the full one tidies
                        continue
                    rel = f"{agent.name}/{name}"
                    expected = recorded.get(rel)
                    if expected is None:
                        if entry.is_symlink() or not entry.is_file():
                            continue
                        with open(entry.path, "rb") as handle:
                            if handle.read(len(GENERATED_MARK)) == GENERATED_MARK:
                                return False  # a generated file the render would remove
                        continue
                    info = entry.stat(follow_symlinks=False)
                    if not stat.S_ISREG(info.st_mode):
                        return False
                    if name.endswith(".env") and info.st_mode & 0o777 & ~0o600:
                        return False  # the full render takes the extra bits off
                    data = read_regular(entry.path)
                    if data is None or hashlib.sha256(data).hexdigest() != expected:
                        return False
                    seen += 1
    return seen == len(recorded)


def _hit(entry: dict[str, Any]) -> Hit:
    """The entry's plan and warnings, each value checked for its type (a corrupt entry
    raises, and the lookup is a miss)."""
    agents = {
        str(name): AgentView(
            mode=str(agent["mode"]),
            project=str(agent["project"]),
            containers=tuple(
                ContainerView(
                    role=str(c["role"]),
                    name=str(c["name"]),
                    image=str(c["image"]),
                    port=int(c["port"]),
                    http_port=None if c["http_port"] is None else int(c["http_port"]),
                    published=tuple(int(p) for p in c["published"]),
                )
                for c in agent["containers"]
            ),
        )
        for name, agent in entry["agents"].items()
    }
    warnings = []
    for p in entry["warnings"]:
        severity = p["severity"]
        if severity not in ("error", "warning"):
            raise ValueError("bad severity")
        warnings.append(
            Problem(str(p["file"]), int(p["line"]), str(p["path"]), str(p["message"]), severity)
        )
    return Hit(PlanView(agents), warnings)


def store(
    the_key: str,
    output: Path,
    catalog: Path | None,
    files: Mapping[str, bytes],
    lock: bytes,
    agents: Mapping[str, AgentPlan],
    warnings: list[Problem],
    reuse: AgentReuse | None = None,
) -> None:
    """Record a render's result for `output` (atomically; a failure is silently skipped).

    `files`: the output folder's files by relative path (all one level deep, as rendered);
    `agents`: the plan's agents by name; `reuse`: the render's per-agent keys.
    """
    if any(rel.count("/") != 1 for rel in files):
        return  # not the shape _outputs_match() checks: do not cache
    known = reuse.digests if reuse is not None else {}  # of the bytes reused: hashed already
    entry = {
        "format": FORMAT,
        "key": the_key,
        "catalog": str(catalog) if catalog is not None else "",
        "catalog_hash": "",
        "lock": hashlib.sha256(lock).hexdigest(),
        "files": {
            rel: known.get(rel) or hashlib.sha256(data).hexdigest() for rel, data in files.items()
        },
        "warnings": [dataclasses.asdict(p) for p in warnings],
        "code": reuse.code if reuse is not None else "",
        "agent_keys": reuse.keys(agents.values()) if reuse is not None else {},
        "agents": {name: view_entry(agent) for name, agent in agents.items()},
    }
    try:
        entry["catalog_hash"] = catalog_hash(catalog)
    except (Doubt, OSError):
        return
    write_entry(entry_path(output), json.dumps(entry, separators=(",", ":")).encode())


def write_entry(path: Path, data: bytes) -> None:
    """A cache file, replaced atomically; not synced (lost in a crash, it is only a miss),
    and a failure is ignored (the next render runs the pipeline)."""
    with contextlib.suppress(OSError):
        write_atomic(path, data, mode=CACHE_MODE, sync=False)
