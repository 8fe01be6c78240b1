"""The AVR dashboard's REST API JSON, whatever its shape (see avrgen/app/importer.py), read
and split into provider and agent objects."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from avrgen.errors import AvrgenError

TYPES = ("ASR", "LLM", "TTS", "STS")
LIST_KEYS = ("data", "items", "results")
EXPORT_KEYS = ("providers", "agents", "numbers", "phones", "trunks")
# an agent's reference to the provider of each slot: providerSts, providerStsId, ...
REF_KEYS = {slot: f"provider{slot.capitalize()}" for slot in ("asr", "llm", "tts", "sts")}


def read_json(source: Path) -> Any:
    try:
        return json.loads(source.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise AvrgenError(f"{source}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise AvrgenError(f"{source}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise AvrgenError(f"{source}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except RecursionError:  # json recurses per nesting level: `[[[[...` 100,000 deep
        raise AvrgenError(f"{source}: invalid JSON: nested too deeply") from None


def collect(
    data: Any,
    notes: list[str],
    telephony: list[tuple[str, dict[str, Any]]] | None = None,
    kind_of: Callable[[dict[str, Any]], str | None] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split the input into provider and agent objects, whatever its shape; with
    `telephony` and `kind_of`, numbers, phones and trunks go to `telephony` as
    (kind, object)."""
    providers: list[dict[str, Any]] = []
    agents: list[dict[str, Any]] = []

    def visit(node: Any, where: str) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                visit(item, f"{where}[{index}]")
            return
        if not isinstance(node, dict):
            notes.append(f"{where}: skipped: expected an object, got {type(node).__name__}")
            return
        for key in LIST_KEYS:
            if isinstance(node.get(key), list):
                visit(node[key], f"{where}.{key}")
                return
        if set(EXPORT_KEYS) & set(node) and "name" not in node:  # an export
            for key in EXPORT_KEYS:
                if key in node:
                    visit(node[key], f"{where}.{key}")
            return
        kind = kind_of(node) if kind_of is not None else None
        if kind is not None and telephony is not None:
            telephony.append((kind, node))
        elif is_agent(node):
            agents.append(node)
            for slot_key in REF_KEYS.values():
                if isinstance(node.get(slot_key), dict):  # embedded provider entity
                    providers.append(node[slot_key])
        elif "config" in node or str(node.get("type", "")).upper() in TYPES:
            providers.append(node)
        else:
            notes.append(f"{where}: skipped: neither a provider (type, config) nor an agent (mode)")

    visit(data, "$")
    return providers, agents


def is_agent(node: dict[str, Any]) -> bool:
    refs = [*REF_KEYS.values(), *(f"{k}Id" for k in REF_KEYS.values())]
    return "mode" in node or any(k in node for k in refs) or isinstance(node.get("providers"), dict)


def uuid_or_none(value: Any, what: str, notes: list[str]) -> str | None:
    if value in (None, ""):
        return None
    try:
        return str(UUID(str(value)))
    except ValueError:
        notes.append(f"{what}: id {value!r} is not a UUID; dropped (avrgen derives one)")
        return None


def env_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if value is None:
        return ""
    return None


def agent_env(item: dict[str, Any], what: str, notes: list[str]) -> dict[str, Any]:
    env = item.get("env")
    if env is None:
        return {}
    if isinstance(env, dict):
        return env
    if isinstance(env, list) and all(isinstance(e, str) for e in env):  # RunAgentDto: K=V
        return dict(e.partition("=")[::2] for e in env)
    notes.append(f"{what}: env is neither an object nor a list of KEY=VALUE; dropped")
    return {}
