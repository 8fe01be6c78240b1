"""Render cache: a render whose inputs and outputs are exactly as the last one left them
skips the pipeline (load, validate, plan, render, parse-back), and prints the same.

Sound by construction. The key is a sha256 over everything a render reads: avrgen's own
files (code, bundled catalog), the versions of the libraries that shape the bytes, the
templates folder, every --catalog folder, every blueprint file (relative path and bytes),
the lock, the paths as given (they appear in what is printed), the working folder and the
options. The settings' `catalog:` folder is named inside a blueprint, so its files are
hashed on a lookup and compared with what the entry recorded. The value is the sha256 of
every file the render produced (output files and the lock) and what the CLI prints after
a render (warnings, and the plan's agents and containers for the table and --json).

A hit still reads every output file and compares its hash, and refuses any extra file
avrgen generated, a leftover temporary file, a symlink or an env file with loose
permissions: a hand-edited or deleted output is found and repaired by the full pipeline.
On any doubt (unreadable input, corrupt entry, version change) the answer is a miss.
An entry is stored only when the inputs hashed after the render equal those before it.

When the pipeline does run (one agent changed), two finer layers save most of its work:
DocumentCache gives the parsed documents of a blueprint file whose name and text hash as
before (so only edited files are parsed), and AgentReuse gives the files of an agent whose
plan hashes as before and whose files on disk still hold the recorded bytes (so only
changed agents go through the templates).

Where: `$XDG_CACHE_HOME/avrgen/` (default `~/.cache/avrgen/`): per output folder one JSON
file, per blueprint folder one `docs-` file, each named by a hash of the folder's absolute
path and written atomically; never in output/ (which is committed). `AVRGEN_NO_CACHE=1` (or
`render --no-cache`) turns all of it off.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import marshal
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avrgen.errors import AvrgenError, Problem
from avrgen.fs.atomic import TEMP_SUFFIX
from avrgen.fs.files import read_regular
from avrgen.fs.lock import LOCK_NAME
from avrgen.fs.package import PACKAGE, default_templates
from avrgen.model.output import GENERATED_MARK
from avrgen.pipeline.load import Document, blueprint_files

FORMAT = 1
# the libraries whose behaviour shapes the output bytes or the checks (yaml_rs reads the
# rendered files back): their entry files, version files and installed versions are hashed
LIBRARIES = ("jinja2", "markupsafe", "yaml", "pydantic", "pydantic_core", "yaml_rs")


def enabled() -> bool:
    """Off when AVRGEN_NO_CACHE is set to anything but empty or 0."""
    return os.environ.get("AVRGEN_NO_CACHE", "") in ("", "0")


def folder() -> Path:
    """`$XDG_CACHE_HOME/avrgen` (an absolute XDG_CACHE_HOME only), else ~/.cache/avrgen."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "avrgen"


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


# -- the key --------------------------------------------------------------------------------


class _Doubt(Exception):
    """Anything that makes the cache unsure: the answer is a miss."""


class _Hasher:
    def __init__(self) -> None:
        self.sha = hashlib.sha256()

    def add(self, label: str, data: bytes) -> None:
        """Length-prefixed, so no two different sequences of parts hash alike."""
        tag = label.encode("utf-8", "surrogateescape")
        for part in (tag, data):
            self.sha.update(len(part).to_bytes(8, "big"))
            self.sha.update(part)

    def tree(self, label: str, root: Path) -> None:
        """Every file below `root` (relative path and bytes), in sorted order."""
        if not root.is_dir():
            raise _Doubt(f"{root}: not a folder")
        self.add(label, str(root.resolve()).encode("utf-8", "surrogateescape"))
        for rel, path in sorted(_files(root)):
            self.add(f"{label}/{rel}", _read(path))

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


def _files(root: Path) -> Iterable[tuple[str, Path]]:
    for base, dirs, names in os.walk(root, followlinks=True):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in names:
            if name.endswith(".pyc"):
                continue
            path = Path(base, name)
            yield path.relative_to(root).as_posix(), path


def _read(path: Path) -> bytes:
    try:
        data = read_regular(os.fspath(path), follow_symlinks=True)
    except OSError as exc:
        raise _Doubt(str(exc)) from None
    if data is None:  # a FIFO where the lock should be: never block on it
        raise _Doubt(f"{path}: not a regular file")
    return data


def key(
    blueprints: Path,
    output: Path,
    templates: Path | None,
    catalogs: tuple[Path, ...],
    options: Mapping[str, object],
) -> str | None:
    """The key of a render with these inputs; None when something cannot be read."""
    try:
        return _key(blueprints, output, templates, catalogs, options)
    except (_Doubt, AvrgenError, OSError, ValueError):
        return None


def _key(
    blueprints: Path,
    output: Path,
    templates: Path | None,
    catalogs: tuple[Path, ...],
    options: Mapping[str, object],
) -> str:
    h = _Hasher()
    h.add("code", _code(templates).encode())
    for index, catalog in enumerate(catalogs):
        h.add(f"catalog:{index}", str(catalog).encode("utf-8", "surrogateescape"))
        h.tree(f"catalog:{index}", catalog)
    h.add("cwd", os.getcwd().encode("utf-8", "surrogateescape"))
    h.add("blueprints", str(blueprints).encode("utf-8", "surrogateescape"))
    h.add("output", str(output).encode("utf-8", "surrogateescape"))
    h.add("output:abs", str(output.resolve()).encode("utf-8", "surrogateescape"))
    h.add("options", json.dumps(dict(options), sort_keys=True).encode())
    for path in blueprint_files(blueprints):
        h.add("blueprint:" + path.relative_to(blueprints).as_posix(), _read(path))
    lock = blueprints / LOCK_NAME
    h.add("lock", _read(lock) if lock.exists() or lock.is_symlink() else b"\x00absent")
    return h.hexdigest()


def _code(templates: Path | None) -> str:
    """The hash of what turns a plan into bytes: avrgen's files, the libraries' versions,
    Python's, and the templates folder."""
    h = _Hasher()
    h.add("format", str(FORMAT).encode())
    h.add("python", sys.version.encode())
    h.tree("avrgen", PACKAGE)
    sites: set[Path] = set()
    for name in LIBRARIES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise _Doubt(f"{name}: not found")
        origin = Path(spec.origin)
        h.add(f"lib:{name}", _read(origin))
        version = origin.parent / "version.py"
        if version.is_file():
            h.add(f"lib:{name}:version", _read(version))
        sites.add(origin.parent.parent)
    for site in sorted(sites):  # some keep their version in a compiled file (yaml_rs)
        installed = sorted(n for n in os.listdir(site) if n.endswith(".dist-info"))
        h.add(f"site:{site}", "\n".join(installed).encode())
    h.tree("templates", templates if templates is not None else default_templates())
    return h.hexdigest()


def catalog_hash(catalog: Path | None) -> str:
    """The hash of the settings' `catalog:` folder (its path and files); '' for none."""
    if catalog is None:
        return ""
    h = _Hasher()
    h.tree("settings-catalog", catalog)
    return h.hexdigest()


# -- lookup and store -----------------------------------------------------------------------


def _entry_path(output: Path) -> Path:
    return folder() / f"{_name(output)}.json"


def lookup(the_key: str, output: Path, lock: Path) -> Hit | None:
    """The recorded result when the entry for `output` has `the_key` and every output file
    (and the lock) still holds exactly the recorded bytes; else None."""
    try:
        with open(_entry_path(output), "rb") as handle:
            raw = handle.read()
        if not raw.startswith(b'{"format":%d,"key":"%s"' % (FORMAT, the_key.encode())):
            return None  # another key (as store() writes it): no need to parse the rest
        entry = json.loads(raw)
        if entry.get("format") != FORMAT or entry.get("key") != the_key:
            return None
        own = entry["catalog"]
        if catalog_hash(Path(own) if own else None) != entry["catalog_hash"]:
            return None
        if hashlib.sha256(_read(lock)).hexdigest() != entry["lock"]:
            return None
        if not _outputs_match(output, entry["files"]):
            return None
        return _hit(entry)
    except (_Doubt, OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
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
    warnings = [
        Problem(str(p["file"]), int(p["line"]), str(p["path"]), str(p["message"]), p["severity"])
        for p in entry["warnings"]
    ]
    if any(p.severity not in ("error", "warning") for p in warnings):
        raise ValueError("bad severity")
    return Hit(PlanView(agents), warnings)


def store(
    the_key: str,
    output: Path,
    catalog: Path | None,
    files: Mapping[str, bytes],
    lock: bytes,
    agents: Mapping[str, Any],
    warnings: list[Problem],
    reuse: AgentReuse | None = None,
) -> None:
    """Record a render's result for `output` (atomically; a failure is silently skipped).

    `files`: the output folder's files by relative path (all one level deep, as rendered);
    `agents`: the plan's AgentPlan objects by name; `reuse`: the render's per-agent keys.
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
        "warnings": [p.as_dict() for p in warnings],
        "code": reuse.code if reuse is not None else "",
        "agent_keys": reuse.keys if reuse is not None else {},
        "agents": {
            name: {
                "mode": agent.mode,
                "project": agent.project,
                "containers": [
                    {
                        "role": c.role,
                        "name": c.name,
                        "image": c.image,
                        "port": c.port,
                        "http_port": c.http_port,
                        "published": list(c.published),
                    }
                    for c in agent.containers
                ],
            }
            for name, agent in agents.items()
        },
    }
    try:
        entry["catalog_hash"] = catalog_hash(catalog)
    except (_Doubt, OSError):
        return
    _write(_entry_path(output), json.dumps(entry, separators=(",", ":")).encode())


# -- per agent: the files of an agent whose plan is as the last render's, read from disk -----


# Every field of AgentPlan and Container, in order; _agent_bytes() lists them by hand (2x
# faster than the dataclasses' repr) and falls back to repr() if the classes ever differ.
_AGENT_FIELDS = ("name", "id", "mode", "tenant", "containers", "constraints")
_CONTAINER_FIELDS = (
    "role", "name", "image", "env", "port", "labels", "http_port", "provider", "published",
)  # fmt: skip
_fields_match: bool | None = None


def _agent_bytes(agent: Any) -> bytes:
    """Bytes that differ whenever anything of the agent's plan differs: its fields as plain
    tuples (a Secret as a 1-tuple of its name) in marshal's version 0 format, which has
    neither back-references nor interning flags (the same value, the same bytes); anything
    unusual: its repr."""
    global _fields_match
    if _fields_match is None:
        import dataclasses

        from avrgen.model.plan import AgentPlan, Container

        _fields_match = (
            tuple(f.name for f in dataclasses.fields(AgentPlan)) == _AGENT_FIELDS
            and tuple(f.name for f in dataclasses.fields(Container)) == _CONTAINER_FIELDS
        )
    if _fields_match and type(agent).__name__ == "AgentPlan":
        try:
            containers = tuple(
                (
                    c.role,
                    c.name,
                    c.image,
                    tuple(
                        (key, value) if value.__class__ is str else (key, (value.secret,))
                        for key, value in c.env
                    ),
                    c.port,
                    c.labels,
                    c.http_port,
                    c.provider,
                    c.published,
                )
                for c in agent.containers
            )
            fields = (agent.name, agent.id, agent.mode, agent.tenant, containers)
            return b"m" + marshal.dumps((*fields, agent.constraints), 0)
        except (ValueError, AttributeError):  # a value marshal cannot write
            pass
    return b"r" + repr(agent).encode("utf-8", "surrogateescape")


class AgentReuse:
    """For a render that runs the pipeline: an agent whose plan (and everything else that
    shapes its files: target, network, swarm settings, avrgen's code, libraries, templates)
    hashes as in the last render, and whose files on disk still hold the bytes that render
    produced, is not rendered again: its files are those bytes (read, hashed, compared).
    """

    def __init__(
        self, output: Path, templates: Path | None, target: str, shared: tuple[object, ...]
    ) -> None:
        self.output = output
        self.keys: dict[str, str] = {}
        self.reused = 0
        self.same: set[str] = set()  # the files given from disk (write.Target.same)
        self.digests: dict[str, str] = {}  # their sha256
        self.code = ""
        self._known: dict[str, str] = {}
        self._files: dict[str, dict[str, str]] = {}
        try:
            self.code = _code(templates)
        except (_Doubt, OSError, ValueError):
            return
        self._shared = repr((FORMAT, self.code, target, *shared)).encode()
        try:
            with open(_entry_path(output), "rb") as handle:
                entry = json.loads(handle.read())
            if entry.get("format") != FORMAT or entry.get("code") != self.code:
                return
            known, files = entry["agent_keys"], entry["files"]
            if not isinstance(known, dict) or not isinstance(files, dict):
                return
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return
        self._known = known
        for rel, digest in files.items():
            agent, _, _ = str(rel).partition("/")
            self._files.setdefault(agent, {})[str(rel)] = str(digest)

    def __call__(self, agent: Any) -> dict[str, bytes] | None:
        """The agent's files as on disk, when they are what its plan renders to; else None."""
        if not self.code:
            return None
        sha = hashlib.sha256(self._shared)
        sha.update(_agent_bytes(agent))
        key = self.keys[agent.name] = sha.hexdigest()
        expected = self._files.get(agent.name)
        if self._known.get(agent.name) != key or not expected:
            return None
        found: dict[str, bytes] = {}
        try:
            for rel, digest in sorted(expected.items()):
                data = read_regular(os.path.join(self.output, rel))
                if data is None or hashlib.sha256(data).hexdigest() != digest:
                    return None
                found[rel] = data
        except OSError:
            return None
        self.reused += 1
        self.same.update(found)
        self.digests.update(expected)
        return found


# -- per blueprint file: its parsed documents, by a hash of its text -------------------------


class DocumentCache:
    """parse_documents() for load_blueprints(), answered from the last run's documents of a
    file whose name and text (and avrgen's code, libraries) hash the same. Only files that
    parsed without error are kept; save() writes the documents of this run's files only.

    The file: a JSON header line (format, code hash), then one line per blueprint file:
    its digest, a space, its documents as JSON (kept as text: save() copies it unparsed).
    """

    def __init__(self, blueprints: Path) -> None:
        self.path = folder() / f"docs-{_name(blueprints)}.json"
        self.code = ""
        self.known: dict[str, bytes] = {}
        self.used: dict[str, bytes] = {}
        self.parsed = 0
        try:
            self.code = _code(None)
            with open(self.path, "rb") as handle:
                header, *lines = handle.read().split(b"\n")
            if json.loads(header) == {"format": FORMAT, "code": self.code}:
                for line in lines:
                    digest, _, text = line.partition(b" ")
                    if len(digest) == 64 and text:
                        self.known[digest.decode("ascii")] = text
        except (_Doubt, OSError, ValueError, TypeError):
            self.known = {}

    def __call__(self, text: str, name: str) -> list[Document]:
        from avrgen.pipeline.load import parse_documents

        sha = hashlib.sha256()
        for part in (self.code, name, text):
            data = part.encode("utf-8", "surrogatepass")
            sha.update(len(data).to_bytes(8, "big") + data)
        digest = sha.hexdigest()
        stored = self.known.get(digest)
        if stored is not None:
            try:
                documents = [_document(d) for d in json.loads(stored)]
                if all(d.file == name for d in documents):
                    self.used[digest] = stored
                    return documents
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                pass
        documents = parse_documents(text, name)
        self.parsed += 1
        self.used[digest] = json.dumps(
            [
                {
                    "file": d.file,
                    "line": d.line,
                    "data": d.data,
                    "lines": [[list(path), line] for path, line in d.lines.items()],
                }
                for d in documents
            ],
            separators=(",", ":"),
        ).encode()  # ASCII, one line: json escapes every control character
        return documents

    def save(self) -> None:
        """Write this run's files' documents, when any was parsed (atomic; errors ignored)."""
        if not self.code or (not self.parsed and len(self.used) == len(self.known)):
            return
        header = json.dumps({"format": FORMAT, "code": self.code}).encode()
        lines = [header, *(digest.encode() + b" " + text for digest, text in self.used.items())]
        _write(self.path, b"\n".join(lines) + b"\n")


def _document(stored: dict[str, Any]) -> Document:
    data = stored["data"]
    if not isinstance(data, dict):
        raise TypeError("not a mapping")
    lines = {tuple(path): int(line) for path, line in stored["lines"]}
    return Document(str(stored["file"]), int(stored["line"]), data, lines)


def _name(path: Path) -> str:
    return hashlib.sha256(str(path.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _write(path: Path, data: bytes) -> None:
    """`data` into `path` atomically (a temporary file and a rename); errors ignored."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError:
        return
