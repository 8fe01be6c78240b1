"""The dashboard's numbers, phones and trunks as blueprint file texts (`avrgen import`, see
avrgen/app/importer.py). Passwords go to the secrets file, never to a blueprint.

The dashboard's shapes (avr-app's entities and DTOs):
- phone `{id, fullName, password}`: its endpoint, SIP user and auth are the id, and it
  registers through the webrtc-template; imported as `name: <id>` (so a softphone set up
  against the dashboard keeps its user) with `display_name` and `webrtc: true`;
- trunk `{id, name, password, transport, codecs: "ulaw,alaw"}`: the carrier authenticates
  as the id; imported as `name: <slug of its name>`, `username: <id>`;
- number `{id, value, application: agent | internal | transfer, agent | agentId,
  phone | phoneId, trunk | trunkId, denoiseEnabled, recordingEnabled}`.
"""

from __future__ import annotations

import re
from typing import Any

from avrgen.app.dashboard import uuid_or_none
from avrgen.app.import_blueprints import ImportRun, secret_name
from avrgen.app.scaffold import existing, scalar, slugify
from avrgen.model.telephony import LITERAL_NUMBER_RE, SIP_NAME_RE, TRANSPORTS

_ROUTES = {"agent": "agent", "internal": "phone", "transfer": "trunk"}
_NUMBER_FIELDS = {"id", "value", "application", "denoiseEnabled", "recordingEnabled"}
_IGNORED = {"createdAt", "updatedAt", "deletedAt", "tenantId"}


def kind_of(node: dict[str, Any]) -> str | None:
    """number, phone or trunk when `node` has that shape, else None."""
    if is_number(node):
        return "number"
    if is_phone(node):
        return "phone"
    return "trunk" if is_trunk(node) else None


def is_number(node: dict[str, Any]) -> bool:
    return "value" in node and ("application" in node or "agentId" in node or "agent" in node)


def is_phone(node: dict[str, Any]) -> bool:
    return "fullName" in node and "password" in node


def is_trunk(node: dict[str, Any]) -> bool:
    return "password" in node and "name" in node and ("transport" in node or "codecs" in node)


def _env_part(text: str) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", text.upper()).strip("_")


def add_phone(run: ImportRun, item: dict[str, Any]) -> None:
    pid = uuid_or_none(item.get("id"), "phone", run.notes)
    what = f"phone {pid or item.get('fullName', '?')!r}"
    if pid is None:
        run.notes.append(f"{what}: skipped: no id (the dashboard's SIP user is the phone's id)")
        return
    if pid in existing(run.documents, "phone") or pid in run.phones:
        run.notes.append(f"{what}: skipped: a phone with this name already exists")
        return
    password = item.get("password")
    full_name = " ".join(str(item.get("fullName") or "").replace('"', "").split())[:200]
    lines = [
        "# Imported from the AVR dashboard by `avrgen import` (phone).",
        "kind: phone",
        f"name: {scalar(pid)}",
        *([f"display_name: {scalar(full_name)}"] if full_name else []),
        f"password: {{secret: {_password(run, 'PHONE', full_name or pid[:8], password, what)}}}",
        "webrtc: true",
        "",
    ]
    for key in sorted(set(item) - {"id", "fullName", "password"} - _IGNORED):
        run.notes.append(f"{what}: field {key!r} has no blueprint counterpart; dropped")
    run.phones.add(pid)
    run.files[run.blueprints / "phones" / f"{pid}.yaml"] = "\n".join(lines)


def add_trunk(run: ImportRun, item: dict[str, Any]) -> None:
    tid = uuid_or_none(item.get("id"), "trunk", run.notes)
    raw = item.get("name")
    name = slugify(raw if isinstance(raw, str) else "") or (f"trunk-{tid[:8]}" if tid else "")
    what = f"trunk {raw!r}"
    if not name or not SIP_NAME_RE.match(name):
        run.notes.append(f"{what}: skipped: no usable name")
        return
    if name in existing(run.documents, "trunk") or name in run.trunks.values():
        run.notes.append(f"{what}: skipped: a trunk named {name!r} already exists")
        return
    transport = str(item.get("transport") or "udp").lower()
    if transport not in TRANSPORTS:
        run.notes.append(f"{what}: transport {transport!r} unknown; using udp")
        transport = "udp"
    codecs = [c.strip() for c in str(item.get("codecs") or "ulaw,alaw").split(",") if c.strip()]
    lines = [
        "# Imported from the AVR dashboard by `avrgen import` (trunk).",
        "kind: trunk",
        f"name: {name}",
        f"transport: {transport}",
        f"codecs: [{', '.join(scalar(c) for c in codecs)}]",
        # the carrier authenticates with the dashboard's user: the trunk's id
        *([f"username: {scalar(tid)}"] if tid else []),
        f"password: {{secret: {_password(run, 'TRUNK', name, item.get('password'), what)}}}",
        "",
    ]
    if name != raw:
        run.notes.append(f"{what}: named {name!r} (letters, digits, '-')")
    for key in sorted(set(item) - {"id", "name", "password", "transport", "codecs"} - _IGNORED):
        run.notes.append(f"{what}: field {key!r} has no blueprint counterpart; dropped")
    run.trunks[tid or name] = name
    run.files[run.blueprints / "trunks" / f"{name}.yaml"] = "\n".join(lines)


def add_number(run: ImportRun, item: dict[str, Any]) -> None:
    value = str(item.get("value") or "")
    what = f"number {value!r}"
    if not LITERAL_NUMBER_RE.match(value):
        run.notes.append(f"{what}: skipped: not digits with an optional leading +")
        return
    if any(d.data.get("kind") == "number" and d.data.get("number") == value for d in run.documents):
        run.notes.append(f"{what}: skipped: already in the blueprints")
        return
    application = str(item.get("application") or "agent")
    kind = _ROUTES.get(application)
    if kind is None:
        run.notes.append(f"{what}: skipped: application {application!r} is not agent, internal "
                         "or transfer")  # fmt: skip
        return
    target = _reference(run, item, kind, what)
    if target is None:
        return
    lines = [
        "# Imported from the AVR dashboard by `avrgen import` (number).",
        "kind: number",
        f"number: {scalar(value)}",
        f"{kind}: {scalar(target)}",
        f"recording: {'true' if item.get('recordingEnabled') is True else 'false'}",
        f"denoise: {'false' if item.get('denoiseEnabled') is False else 'true'}",
        "",
    ]
    refs = {"agent", "agentId", "phone", "phoneId", "trunk", "trunkId"}
    for key in sorted(set(item) - _NUMBER_FIELDS - refs - _IGNORED):
        run.notes.append(f"{what}: field {key!r} has no blueprint counterpart; dropped")
    stem = "plus" + value[1:] if value.startswith("+") else value
    path = run.blueprints / "numbers" / f"{stem}.yaml"
    if path in run.files:
        run.notes.append(f"{what}: skipped: listed twice")
        return
    run.files[path] = "\n".join(lines)


def _reference(run: ImportRun, item: dict[str, Any], kind: str, what: str) -> str | None:
    """The blueprint name of the number's agent, phone or trunk; None (noted): skip it."""
    ref = item.get(f"{kind}Id") or item.get(kind)
    if isinstance(ref, dict):
        ref = ref.get("id") or ref.get("name")
    if ref in (None, ""):
        run.notes.append(f"{what}: skipped: its {kind} is not given")
        return None
    text = str(ref)
    lowered = text.lower()
    if kind == "agent":
        names = {**_ids(run, "agent"), **run.agents_by_id}
    elif kind == "phone":
        names = {p: p for p in [*existing(run.documents, "phone"), *run.phones]}
    else:
        names = {**_ids(run, "trunk"), **{k.lower(): v for k, v in run.trunks.items()}}
        names |= {v: v for v in [*existing(run.documents, "trunk"), *run.trunks.values()]}
    found = names.get(lowered) or names.get(text)
    if found is None:
        run.notes.append(f"{what}: skipped: its {kind} {text!r} is unknown")
    return found


def _ids(run: ImportRun, kind: str) -> dict[str, str]:
    """Existing documents of `kind` by their id (agents) or username (trunks), lower-case."""
    key = "id" if kind == "agent" else "username"
    found = {}
    for name, data in existing(run.documents, kind).items():
        if isinstance(data.get(key), str):
            found[data[key].lower()] = name
    return found


def _password(run: ImportRun, prefix: str, owner: str, value: Any, what: str) -> str:
    key = f"{prefix}_{_env_part(owner) or 'X'}_PASSWORD"
    return secret_name(run, key, value if isinstance(value, str) else "", owner, what)
