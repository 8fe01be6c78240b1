"""The render cache's entries: one per output folder, recording what a render produced and
printed; a lookup answers only when every output file still holds the recorded bytes.

Whether a file still holds them is told as git's index tells it: by its stat (size, mtime,
ctime, inode, mode), recorded beside its sha256, and by reading and hashing the file only
when its stat differs or was not recorded as settled (see `settled`). What stat sees and
what it cannot is written in docs/render-cache.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avrgen.errors import Problem
from avrgen.fs.atomic import TEMP_SUFFIX, write_atomic
from avrgen.fs.files import generated_file, read_regular
from avrgen.pipeline.cache.key import FORMAT, Doubt, catalog_hash, folder, folder_name, read_input
from avrgen.pipeline.cache.stats import clock, settled, stat_text
from avrgen.pipeline.cache.views import Hit, PlanView, SetView, set_view_of, view_entry

if TYPE_CHECKING:
    from avrgen.model.plan import AgentPlan
    from avrgen.pipeline.cache.agents import AgentReuse

CACHE_MODE = 0o600  # entries describe the user's blueprints (paths, warnings): theirs alone

# The entry: a JSON header line, then one JSON line per section, in this order. A lookup
# parses only the sections it needs; the header holds the sha256 of the rest ("body"), so
# a section parsed later (the plan's views, for --json) is exactly what store() wrote.
STATS, FILES, AGENT_KEYS, VIEWS, SUMMARY = range(5)


def entry_path(output: Path) -> Path:
    return folder() / f"{folder_name(output)}.json"


# -- the entry's file -------------------------------------------------------------------------


class Entry:
    """An entry as read: its header, and its sections parsed when first asked for."""

    def __init__(self, header: dict[str, Any], sections: list[bytes]) -> None:
        self.header = header
        self.sections = sections
        self._parsed: dict[int, Any] = {}

    def section(self, index: int) -> Any:
        if index not in self._parsed:
            self._parsed[index] = json.loads(self.sections[index])
        return self._parsed[index]

    def encode(self) -> bytes:
        body = b"\n".join(self.sections)
        header = {**self.header, "body": hashlib.sha256(body).hexdigest()}
        return json.dumps(header, separators=(",", ":")).encode() + b"\n" + body


def read_entry(output: Path, the_key: str | None = None) -> Entry | None:
    """The entry of `output` (with `the_key`, when given); None when absent, of another
    format or key, or not exactly as store() wrote it."""
    with open(entry_path(output), "rb") as handle:
        raw = handle.read()
    prefix = b'{"format":%d,"key":"' % FORMAT  # as store() writes it: no need to parse
    if not raw.startswith(prefix + (b'%s"' % the_key.encode() if the_key else b"")):
        return None
    head, _, body = raw.partition(b"\n")
    header = json.loads(head)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return None
    if the_key is not None and header.get("key") != the_key:
        return None
    if header.get("body") != hashlib.sha256(body).hexdigest():
        return None
    sections = body.split(b"\n")
    return Entry(header, sections) if len(sections) == SUMMARY + 1 else None


def last_set_view(output: Path) -> SetView | None:
    """What the last render into `output` recorded of its set, from its entry's header line
    alone: neither the key nor any output file is checked, so it says what the blueprints
    said then (a hint, never an answer); None without a readable entry of this format."""
    try:
        with open(entry_path(output), "rb") as handle:
            header = json.loads(handle.readline())
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            return None
        return set_view_of(header.get("set"))
    except (OSError, ValueError, TypeError, KeyError):
        return None


# -- lookup and store -------------------------------------------------------------------------


def lookup(the_key: str, output: Path, lock: Path) -> Hit | None:
    """The recorded result when the entry for `output` has `the_key` and every output file
    (and the lock) still holds exactly the recorded bytes; else None.

    A file whose stat is as recorded is not read; any other is read and hashed, and when
    its bytes are the recorded ones and its stat is now settled, the entry is written again
    with that stat (once: later lookups need not read it)."""
    since = clock()  # before any output file is read: what settled() measures against
    try:
        entry = read_entry(output, the_key)
        if entry is None:
            return None
        header = entry.header
        own = header["catalog"]
        if catalog_hash(Path(own) if own else None) != header["catalog_hash"]:
            return None
        if hashlib.sha256(read_input(lock)).hexdigest() != header["lock"]:
            return None
        fresh: dict[tuple[str, str], str] = {}
        if not _outputs_match(output, entry, since, fresh):
            return None
        warnings = _warnings(header["warnings"])
        summary = entry.section(SUMMARY)
        if summary is not None and not isinstance(summary, str):
            return None
        if fresh:
            stats = entry.section(STATS)
            for (agent, name), text in fresh.items():
                if agent:
                    stats[agent][name] = text
                else:
                    stats[""] = text
            entry.sections[STATS] = _dumps(stats)
            write_entry(entry_path(output), entry.encode())
        set_view = set_view_of(header.get("set"))
        return Hit(PlanView(entry.sections[VIEWS]), warnings, summary, set_view)
    except (Doubt, OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def with_summary(hit: Hit, the_key: str, output: Path, summary: str) -> Hit:
    """The hit with `summary`, which the entry (stored without one) keeps from now on."""
    with contextlib.suppress(OSError, ValueError, TypeError):
        entry = read_entry(output, the_key)
        if entry is not None:
            entry.sections[SUMMARY] = _dumps(summary)
            write_entry(entry_path(output), entry.encode())
    return dataclasses.replace(hit, summary=summary)


def _outputs_match(root: Path, entry: Entry, since: int, fresh: dict[tuple[str, str], str]) -> bool:
    """Every recorded file holds its bytes (by its recorded stat, else read and hashed), is
    a plain file (env files private), and no other generated or temporary file lies in the
    agent folders. `fresh` gets the settled stat of each file or folder that had to be read.

    A folder's mtime and ctime change whenever a name in it is added, removed or renamed:
    a folder whose stat is as recorded (and settled) holds the recorded names, so it is not
    listed, and only its recorded files are stat'ed."""
    # "": the output folder's stat; by agent folder: "" its stat, by file name the file's
    stats = entry.section(STATS)
    if not isinstance(stats, dict):
        return False
    agents = {name: names for name, names in stats.items() if name}
    root_info = os.stat(root)
    root_text = stat_text(root_info)
    if root_text == stats.get(""):
        folders = list(agents)  # no folder came or went
    else:
        folders = []
        with os.scandir(root) as found:
            for agent in found:
                if agent.is_symlink():
                    if agent.name in agents:
                        return False  # the full render refuses it, with its message
                    continue
                if agent.is_dir():
                    folders.append(agent.name)
        if settled(root_info, since):
            fresh[("", "")] = root_text
    seen = 0
    top = os.fspath(root) + os.sep  # joined by hand: os.path.join costs more than the lstat
    for name in folders:
        path = top + name
        recorded = agents.get(name)
        if recorded is None:  # not an agent folder of the last render
            if any(_generated(e) for e in _listing(path)):
                return False  # a generated file the render would remove
            continue
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode):
            return False  # a symlink or a file in an agent folder's place
        if stat_text(info) == recorded.get(""):
            inside = path + os.sep
            for file_name, known in recorded.items():
                if file_name:
                    full = inside + file_name
                    if not _file_holds(entry, name, file_name, full, known, since, fresh):
                        return False
                    seen += 1
            continue
        if settled(info, since):
            fresh[(name, "")] = stat_text(info)
        for dir_entry in _listing(path):
            file_name = dir_entry.name
            if file_name.startswith("."):
                if file_name.endswith(TEMP_SUFFIX):
                    return False  # a killed render's leftover: the full one tidies
                continue
            known = recorded.get(file_name)
            if known is None:
                if _generated(dir_entry):
                    return False  # a generated file the render would remove
                continue
            if not _file_holds(entry, name, file_name, dir_entry.path, known, since, fresh):
                return False
            seen += 1
    return seen == sum(len(names) - ("" in names) for names in agents.values())


def _listing(path: str) -> list[os.DirEntry[str]]:
    with os.scandir(path) as entries:
        return list(entries)


def _file_holds(
    entry: Entry,
    agent: str,
    name: str,
    path: str,
    known: str,
    since: int,
    fresh: dict[tuple[str, str], str],
) -> bool:
    """The recorded file holds its bytes: its stat is `known` (the recorded one), or it is
    read and hashed (and its stat goes to `fresh` when settled). A plain file; an env file
    private."""
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        return False
    if name.endswith(".env") and info.st_mode & 0o777 & ~0o600:
        return False  # the full render takes the extra bits off
    text = stat_text(info)
    if text == known:
        return True
    data = read_regular(path)
    if data is None or hashlib.sha256(data).hexdigest() != entry.section(FILES).get(
        f"{agent}/{name}"
    ):
        return False
    if settled(info, since):
        fresh[(agent, name)] = text
    return True


def _generated(dir_entry: os.DirEntry[str]) -> bool:
    return not dir_entry.is_symlink() and dir_entry.is_file() and generated_file(dir_entry.path)


def _warnings(stored: list[dict[str, Any]]) -> list[Problem]:
    """The entry's warnings, each value checked for its type (a corrupt entry raises, and
    the lookup is a miss)."""
    warnings = []
    for p in stored:
        severity = p["severity"]
        if severity not in ("error", "warning"):
            raise ValueError("bad severity")
        warnings.append(
            Problem(str(p["file"]), int(p["line"]), str(p["path"]), str(p["message"]), severity)
        )
    return warnings


def _dumps(value: object) -> bytes:
    """One line of JSON (ASCII: json escapes every control character, so no newline)."""
    return json.dumps(value, separators=(",", ":")).encode()


def store(
    the_key: str,
    output: Path,
    catalog: Path | None,
    files: Mapping[str, bytes],
    lock: bytes,
    agents: Mapping[str, AgentPlan],
    warnings: list[Problem],
    reuse: AgentReuse | None = None,
    since: int | None = None,
    summary: str | None = None,
    set_view: SetView | None = None,
) -> None:
    """Record a render's result for `output` (atomically; a failure is silently skipped).

    `files`: the output folder's files by relative path (all one level deep, as rendered);
    `agents`: the plan's agents by name; `reuse`: the render's per-agent keys; `since`: a
    clock() reading from before the render read or wrote any output file (each file's stat
    is recorded when settled against it; without it, none is and a lookup reads them all);
    `summary`: the caller's text of this plan, given back by a hit, as is `set_view`.
    """
    if any(rel.count("/") != 1 for rel in files):
        return  # not the shape _outputs_match() checks: do not cache
    known = reuse.digests if reuse is not None else {}  # of the bytes reused: hashed already

    def recorded(info: os.stat_result) -> str:
        return stat_text(info) if since is not None and settled(info, since) else ""

    # as _outputs_match() reads them: "" the output folder's stat, then by agent folder ""
    # its stat and each file's; "" where not settled (read at the next lookup)
    stats: dict[str, Any] = {}
    try:
        stats[""] = recorded(os.stat(output))
        for rel in files:
            agent, _, name = rel.partition("/")
            if agent not in stats:
                stats[agent] = {"": recorded(os.lstat(os.path.join(output, agent)))}
            stats[agent][name] = recorded(os.lstat(os.path.join(output, rel)))
        header = {
            "format": FORMAT,
            "key": the_key,
            "catalog": str(catalog) if catalog is not None else "",
            "catalog_hash": catalog_hash(catalog),
            "lock": hashlib.sha256(lock).hexdigest(),
            "warnings": [dataclasses.asdict(p) for p in warnings],
            "code": reuse.code if reuse is not None else "",
            "set": dataclasses.asdict(set_view) if set_view is not None else None,
        }
    except (Doubt, OSError):
        return
    sections = [b""] * (SUMMARY + 1)
    sections[STATS] = _dumps(stats)
    sections[FILES] = _dumps(
        {rel: known.get(rel) or hashlib.sha256(data).hexdigest() for rel, data in files.items()}
    )
    sections[AGENT_KEYS] = _dumps(reuse.keys(agents.values()) if reuse is not None else {})
    sections[VIEWS] = _dumps({name: view_entry(agent) for name, agent in agents.items()})
    sections[SUMMARY] = _dumps(summary)
    write_entry(entry_path(output), Entry(header, sections).encode())


def write_entry(path: Path, data: bytes) -> None:
    """A cache file, replaced atomically; not synced (lost in a crash, it is only a miss),
    and a failure is ignored (the next render runs the pipeline)."""
    with contextlib.suppress(OSError):
        write_atomic(path, data, mode=CACHE_MODE, sync=False)
