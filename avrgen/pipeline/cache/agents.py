"""Per agent: the files of an agent whose plan is as the last render's, read from disk."""

from __future__ import annotations

import dataclasses
import hashlib
import marshal
import operator
import os
from collections.abc import Iterable
from pathlib import Path

from avrgen.fs.files import read_regular
from avrgen.model.plan import AgentPlan, Container, EnvItems
from avrgen.pipeline.cache.key import FORMAT, Doubt, code_hash
from avrgen.pipeline.cache.store import AGENT_KEYS, FILES, read_entry

# every field of the plan's dataclasses, in order: a field added to them is in the key too
_AGENT_FIELDS = tuple(f.name for f in dataclasses.fields(AgentPlan))
_CONTAINER_FIELDS = tuple(f.name for f in dataclasses.fields(Container))
_agent_values = operator.attrgetter(*_AGENT_FIELDS)
_container_values = operator.attrgetter(*_CONTAINER_FIELDS)
_CONTAINERS = _AGENT_FIELDS.index("containers")
_ENV = _CONTAINER_FIELDS.index("env")
_MOUNTS = _CONTAINER_FIELDS.index("mounts")

EnvKey = tuple[tuple[str, str | tuple[str]], ...]


def _plain_env(env: EnvItems) -> EnvKey:
    """The env as plain tuples: a Secret as a 1-tuple of its name (not its text). A value
    is text or a Secret, told apart as Container.literal_env does (the faster check)."""
    return tuple(
        (key, value) if isinstance(value, str) else (key, (value.secret,)) for key, value in env
    )


def agent_bytes(agent: AgentPlan) -> bytes:
    """Bytes that differ whenever anything of the agent's plan differs: its fields as plain
    tuples in marshal's version 0 format, which has neither back-references nor interning
    flags (the same value, the same bytes); a value marshal cannot write: its repr."""
    try:
        containers = []
        for c in agent.containers:
            values = list(_container_values(c))
            values[_ENV] = _plain_env(c.env)
            values[_MOUNTS] = tuple(dataclasses.astuple(m) for m in c.mounts)
            containers.append(tuple(values))
        fields = list(_agent_values(agent))
        fields[_CONTAINERS] = tuple(containers)
        return b"m" + marshal.dumps(tuple(fields), 0)
    except ValueError:  # a value marshal cannot write
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
        self._keys: dict[str, str] = {}  # by agent name, made when first needed (key())
        self.reused = 0
        self.same: set[str] = set()  # the files given from disk (write.Target.same)
        self.digests: dict[str, str] = {}  # their sha256
        self.code = ""
        self._known: dict[str, str] = {}
        self._files: dict[str, dict[str, str]] = {}
        try:
            self.code = code_hash(templates)
        except (Doubt, OSError, ValueError):
            return
        self._shared = repr((FORMAT, self.code, target, *shared)).encode()
        try:
            entry = read_entry(output)
            if entry is None or entry.header.get("code") != self.code:
                return
            known, files = entry.section(AGENT_KEYS), entry.section(FILES)
            if not isinstance(known, dict) or not isinstance(files, dict):
                return
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return
        self._known = known
        for rel, digest in files.items():
            agent, _, _ = str(rel).partition("/")
            self._files.setdefault(agent, {})[str(rel)] = str(digest)

    def __call__(self, agent: AgentPlan) -> dict[str, bytes] | None:
        """The agent's files as on disk, when they are what its plan renders to; else None."""
        if not self.code:
            return None
        expected, known = self._files.get(agent.name), self._known.get(agent.name)
        if not expected or known is None:
            return None  # not in the last render (its key is made if an entry is stored)
        if self.key(agent) != known:
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

    def key(self, agent: AgentPlan) -> str:
        """The agent's key: a hash of its plan and of everything shared that shapes its files."""
        key = self._keys.get(agent.name)
        if key is None:
            sha = hashlib.sha256(self._shared)
            sha.update(agent_bytes(agent))
            key = self._keys[agent.name] = sha.hexdigest()
        return key

    def keys(self, agents: Iterable[AgentPlan]) -> dict[str, str]:
        """Every agent's key, for the entry store() writes (none without the code's hash).
        Made here, not on every render: a first render stores no entry (the lock it
        writes changes its inputs), so its agents' keys would be made for nothing."""
        return {agent.name: self.key(agent) for agent in agents} if self.code else {}
