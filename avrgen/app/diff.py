"""Plan stage for operators: what `render` would change, as unified diffs, before it does.

Pure with respect to the outside world except for reading the current files: it reuses
Project.targets() (what render would write) and write.changes() (which files differ), then
builds one unified diff per changed file, groups the files by agent, and compares the old
lock with the new plan's ports. Nothing is printed here; the CLI prints.

Secrets: output files never hold `{secret: ...}` values (they stay `${NAME:?...}`
references), but a literal the user wrote under a secret-looking key (`*_API_KEY`,
`*_SECRET`, `*_TOKEN`, `*_PASSWORD`, the keys `validate` warns about) does reach an env file,
and a hand-edited output file may hold anything under such a key. So in diff text the value
of every line whose key looks secret is shown as `***`: the line still appears as removed
and added, so the change is visible, but not its value. The diff is computed on the real
bytes first and masked afterwards, so a changed secret-looking value is never hidden.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from avrgen.app.project import Project
from avrgen.errors import Problem
from avrgen.model.blueprint import Blueprint
from avrgen.model.plan import Lock, Plan
from avrgen.pipeline.validate import SECRET_LOOKING
from avrgen.pipeline.write import Action, Change, Target, changes, generated_files

AgentAction = Literal["added", "changed", "removed"]
PortKind = Literal["new", "moved", "renumbered", "freed"]
MASK = "***"

# `KEY=value` (env files), `KEY: value` / `"KEY": value` (YAML, JSON); indentation kept.
_ASSIGNMENT = re.compile(
    r'^(?P<head>\s*"?(?P<key>[A-Za-z_][A-Za-z0-9_]*)"?\s*[=:]\s*)(?P<value>.*)$'
)
# A compose reference to a secret (`"${NAME:?message}"`): a name, not a value; shown as is.
_SECRET_REF = re.compile(r'^"?\$\{[A-Za-z_][A-Za-z0-9_]*(?::?[?-][^}]*)?\}"?$')


@dataclass(frozen=True)
class FileDiff:
    """One file render would create, update or delete, with its masked unified diff."""

    path: str  # as shown to the user, e.g. output/billing/llm.env or blueprints/avrgen.lock
    action: Action
    agent: str | None  # None for the lock
    diff: str  # unified diff text, secret-looking values masked; "" when identical text


@dataclass(frozen=True, order=True)
class PortChange:
    """A port of one agent's container: newly assigned, moved (its pin changed),
    renumbered (its locked port no longer fits the settings' ranges), or given back."""

    agent: str
    role: str
    kind: PortKind
    old: int | None
    new: int | None

    def __str__(self) -> str:
        where = f"{self.agent}.{self.role}"
        if self.kind in ("moved", "renumbered"):
            return f"{self.kind.ljust(6)} {where} {self.old} -> {self.new}"
        if self.kind == "new":
            return f"new    {where} {self.new}"
        return f"freed  {where} {self.old}"


@dataclass
class PlanDiff:
    """Everything `render` would change, by file, by agent and by port."""

    plan: Plan
    files: list[FileDiff]
    agents: dict[str, AgentAction]  # only agents with a change, sorted by name
    ports: list[PortChange]
    warnings: list[Problem] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.files)

    def files_of(self, agent: str) -> list[FileDiff]:
        return [f for f in self.files if f.agent == agent]

    def summary(self) -> str:
        """`1 agent added, 2 changed, 1 removed; ports unchanged` (or `no changes`)."""
        if not self.changed:
            return "no changes: output/ and the lock match the blueprints"
        counts = {a: sum(1 for v in self.agents.values() if v == a) for a in _AGENT_ORDER}
        parts = [f"{n} {a}" for a, n in counts.items() if n]
        if parts:
            noun = "agent" if parts[0].startswith("1 ") else "agents"
            parts[0] = parts[0].replace(" ", f" {noun} ", 1)
            agents_text = ", ".join(parts)
        else:
            agents_text = "agents unchanged"
        kinds = {k: sum(1 for p in self.ports if p.kind == k) for k in get_args(PortKind)}
        port_parts = [f"{n} {k}" for k, n in kinds.items() if n]
        ports_text = f"ports: {', '.join(port_parts)}" if port_parts else "ports unchanged"
        lock = [f for f in self.files if f.agent is None]
        lock_text = "; lock updated" if lock and not port_parts else ""
        return f"{agents_text}; {ports_text}{lock_text}"


_AGENT_ORDER: tuple[AgentAction, ...] = ("added", "changed", "removed")


def plan_diff(project: Project, agents: Sequence[str] = ()) -> PlanDiff:
    """What `render(project, agents=agents)` would change; reads files, writes nothing."""
    the_plan, validated = project.plan()
    old_lock = project.port_lock()
    files: list[FileDiff] = []
    for target in project.targets(the_plan, agents):
        is_output = target.root == project.paths.output
        for change in changes(target):
            agent = _agent_of(change, target.root) if is_output else None
            files.append(_file_diff(target, change, agent))
    return PlanDiff(
        plan=the_plan,
        files=files,
        agents=_agent_actions(files, the_plan, project.paths.output),
        ports=port_changes(old_lock, the_plan.lock, _pins(validated.blueprint)),
        warnings=validated.warnings,
    )


def _pins(blueprint: Blueprint) -> Lock:
    """Each agent's pinned ports (role -> port)."""
    return {
        name: {role: port for role, port in agent.ports.model_dump().items() if port is not None}
        for name, agent in blueprint.agents.items()
    }


def port_changes(old: Lock, new: Lock, pins: Lock | None = None) -> list[PortChange]:
    """Ports of the new lock that are new, moved to a pin or renumbered, and ports of the
    old one given back. A changed port that is not its pin was renumbered: the locked one
    no longer fits the settings' port range (or another container's pin took it)."""
    found: list[PortChange] = []
    for agent in sorted(set(old) | set(new)):
        before, after = old.get(agent, {}), new.get(agent, {})
        for role in sorted(set(before) | set(after)):
            was, now = before.get(role), after.get(role)
            if was == now:
                continue
            kind: PortKind = "new" if was is None else "freed" if now is None else "moved"
            if kind == "moved" and (pins or {}).get(agent, {}).get(role) != now:
                kind = "renumbered"
            found.append(PortChange(agent, role, kind, was, now))
    return found


def mask_secrets(line: str) -> str:
    """The line with the value of a secret-looking key replaced by `***`."""
    match = _ASSIGNMENT.match(line)
    if match is None or not SECRET_LOOKING.search(match["key"]):
        return line
    value = match["value"].rstrip()
    trailer = "," if value.endswith(",") else ""
    if not value or _SECRET_REF.match(value.removesuffix(",")):
        return line
    return f"{match['head']}{MASK}{trailer}"


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """A unified diff of two texts, secret-looking values masked after diffing."""
    lines = difflib.unified_diff(_lines(old), _lines(new), old_name, new_name, lineterm="")
    out: list[str] = []
    for index, line in enumerate(lines):
        if index < 2 or line.startswith("@@"):  # the ---/+++ header and hunk headers
            out.append(line)
        else:
            out.append(line[:1] + mask_secrets(line[1:]))
    return "\n".join(out) + "\n" if out else ""


def _lines(text: str) -> list[str]:
    """Lines split at \\n only: str.splitlines() would also split at \\x85, \\u2028 and
    friends, which env values may hold, and leave the rest of a value unmasked."""
    return text.removesuffix("\n").split("\n") if text else []


def _file_diff(target: Target, change: Change, agent: str | None) -> FileDiff:
    path = Path(change.path)
    old = "" if change.action == "create" else _read_text(path)
    if change.action == "delete":
        new = ""
    else:
        new = target.files[path.relative_to(target.root).as_posix()].decode("utf-8", "replace")
    old_name = "/dev/null" if change.action == "create" else change.path
    new_name = "/dev/null" if change.action == "delete" else change.path
    return FileDiff(change.path, change.action, agent, unified_diff(old, new, old_name, new_name))


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


def _agent_of(change: Change, root: Path) -> str:
    return Path(change.path).relative_to(root).parts[0]


def _agent_actions(files: list[FileDiff], the_plan: Plan, output: Path) -> dict[str, AgentAction]:
    """An agent is added when its folder holds no generated file yet, removed when it left
    the plan, changed otherwise."""
    actions: dict[str, AgentAction] = {}
    existing = {rel.split("/", 1)[0] for rel in generated_files(output)}
    for name in sorted({f.agent for f in files if f.agent is not None}):
        mine = [f for f in files if f.agent == name]
        if name not in the_plan.agents:
            actions[name] = "removed"
        elif all(f.action == "create" for f in mine) and name not in existing:
            actions[name] = "added"
        else:
            actions[name] = "changed"
    return actions
