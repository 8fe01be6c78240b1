"""Every `--json` document: the use cases' result dataclasses as JSON, in one place.

A dataclass becomes an object of its fields in their order (tuples as lists), so a field
added to a result appears in the JSON; a document that is not one dataclass (a report
with its summary, the agents by name) is spelled out below.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import click

from avrgen.errors import AvrgenError, BlueprintError, Problem

if TYPE_CHECKING:
    from avrgen.app.history import HistoryEntry, RollbackResult
    from avrgen.app.results import (
        ContainerStatus,
        ImportResult,
        PlanDiff,
        RenderResult,
        StatusReport,
        TaskStatus,
        TelephonyUp,
        UpResult,
    )
    from avrgen.model.catalog import ProviderTemplate


def emit(document: object) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


def record(obj: Any, rename: Mapping[str, str] | None = None) -> dict[str, object]:
    """A dataclass as a JSON object: its fields in order, some renamed."""
    names = rename or {}
    return {
        names.get(f.name, f.name): _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)
    }


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return record(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def problems(found: Iterable[Problem]) -> list[dict[str, object]]:
    return [record(p) for p in found]


def error(exc: AvrgenError) -> dict[str, object]:
    """A user error for `--json` readers: the message, and each problem of invalid blueprints."""
    found = exc.problems if isinstance(exc, BlueprintError) else []
    return {"error": str(exc), "problems": problems(found)}


def containers(statuses: Iterable[ContainerStatus]) -> list[dict[str, object]]:
    return [record(s, {"name": "container", "set_id": "set"}) for s in statuses]


def tasks(found: Iterable[TaskStatus]) -> list[dict[str, object]]:
    return [record(t, {"set_id": "set"}) for t in found]


def up_result(result: UpResult) -> dict[str, object]:
    """`up --json`: what was rendered first, the network, each agent's outcome."""
    return {
        "rendered": [{"path": c.path, "action": c.action} for c in result.rendered],
        "network": result.network,
        "agents": [
            {
                "agent": a.agent,
                "status": a.status,
                "seconds": round(a.seconds, 3),
                "containers": containers(a.containers),
                "error": a.error,
                "host": a.host,
            }
            for a in result.agents
        ],
        "interrupted": _signal_name(result.interrupted),
        "telephony": telephony_up(result.telephony),
        "releases": dict(result.releases),
    }


def telephony_up(stack: TelephonyUp | None) -> dict[str, object] | None:
    if stack is None:
        return None
    return {
        "status": stack.status,
        "seconds": round(stack.seconds, 3),
        "containers": containers(stack.containers),
        "reloads": stack.reloads,
    }


def _signal_name(number: int | None) -> str | None:
    import signal  # here: only `up` and `deploy` report one

    return signal.Signals(number).name if number else None


def render_result(result: RenderResult) -> dict[str, object]:
    return {
        "stale": False,
        "checked": result.checked,
        "changes": [{"path": c.path, "action": c.action} for c in result.changes],
        "warnings": problems(result.warnings),
        "agents": {
            name: {
                "mode": agent.mode,
                "project": agent.project,
                "containers": {
                    c.name: {
                        "role": c.role,
                        "image": c.image,
                        "port": c.port,
                        "http_port": c.http_port,
                        "published": list(c.published),
                    }
                    for c in agent.containers
                },
            }
            for name, agent in result.plan.agents.items()
        },
    }


def plan_diff(result: PlanDiff) -> dict[str, object]:
    return {
        "changed": result.changed,
        "summary": result.summary(),
        "agents": {
            name: {"action": action, "files": [f.path for f in result.files_of(name)]}
            for name, action in result.agents.items()
        },
        "files": [record(f) for f in result.files],
        "ports": [record(p) for p in result.ports],
        "warnings": problems(result.warnings),
    }


def status_report(report: StatusReport) -> dict[str, object]:
    return {
        "in_sync": report.in_sync,
        "summary": report.summary(),
        "network": report.network,
        "agents": {
            a.agent: {
                "state": a.state,
                "differences": [record(d) for d in a.differences],
                "containers": containers(a.containers),
                "host": a.host,
                "error": a.error,
            }
            for a in report.agents
        },
        "unchecked_secrets": report.unchecked_secrets,
        "telephony": None
        if report.telephony is None
        else {
            "state": report.telephony.state,
            "differences": report.telephony.differences,
            "containers": containers(report.telephony.containers),
            "host": report.telephony_host,
        },
    }


def import_result(result: ImportResult) -> dict[str, object]:
    return {
        "written": result.written,
        "files": [str(p) for p in result.files],
        "secrets_file": str(result.secrets_file),
        "secrets": result.secret_names,
        "notes": result.notes,
        "warnings": problems(result.warnings),
    }


def template(t: ProviderTemplate) -> dict[str, object]:
    return {
        "name": t.name,
        "title": t.title,
        "type": t.type,
        "image": t.image_ref,
        "tag": t.tag,
        "platform": t.platform,
        "source": t.source.model_dump(exclude_defaults=True) if t.source else None,
        "description": t.description,
        "required": list(t.required),
        "optional": dict(t.optional),
        "secrets": list(t.secrets),
        "help": dict(t.help),
        "needs": [
            {"any_of": [list(keys) for keys in need.any_of], "unless": dict(need.unless)}
            for need in t.needs
        ],
        "url_path": t.url_path,
        "ami": t.takes_ami,
        "tools_mounts": tools_mounts(t),
        "port": t.port,
    }


def tools_mounts(t: ProviderTemplate) -> list[str]:
    """Where the image reads function-calling tools from (none when it takes no tools)."""
    from avrgen.model.catalog import TOOLS_MOUNTS  # pydantic: not for every command

    return list(TOOLS_MOUNTS) if t.tools else []


def history_entry(entry: HistoryEntry) -> dict[str, object]:
    """`history --json`: a release as recorded, and what it changed since `previous`."""
    changes = entry.changes
    return {
        **entry.release.model_dump(mode="json"),
        "previous": entry.previous,
        "changes": {
            "files_added": list(changes.files_added),
            "files_removed": list(changes.files_removed),
            "files_changed": list(changes.files_changed),
            "images": {
                role: {"from": old, "to": new} for role, (old, new) in changes.images.items()
            },
            "env_keys_added": {role: list(keys) for role, keys in changes.env_added.items()},
            "env_keys_removed": {role: list(keys) for role, keys in changes.env_removed.items()},
        },
    }


def rollback_result(result: RollbackResult) -> dict[str, object]:
    from avrgen.app.results import AgentDeploy  # a release of `deploy`: swarm tasks

    return {
        "agent": result.agent,
        "to": result.to.number,
        "recorded": result.recorded.number if result.recorded is not None else None,
        "status": result.up.status,
        **(
            {"tasks": tasks(result.up.tasks)}
            if isinstance(result.up, AgentDeploy)
            else {"containers": containers(result.up.containers)}
        ),
    }
