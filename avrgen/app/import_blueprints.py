"""The dashboard's providers and agents as blueprint file texts (`avrgen import`, see
avrgen/app/importer.py): secret-looking env values become `{secret: NAME}`, their values
are kept for the secrets file, and what cannot be mapped becomes a note."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avrgen.app.dashboard import REF_KEYS, TYPES, agent_env, env_text, uuid_or_none
from avrgen.app.scaffold import existing, scalar, slugify
from avrgen.errors import AvrgenError
from avrgen.model.blueprint import SLOTS
from avrgen.model.catalog import Catalog, ProviderTemplate
from avrgen.model.fields import ENV_NAME_RE
from avrgen.model.names import AGENT_NAME_RE
from avrgen.pipeline.load import Document
from avrgen.pipeline.validate import RESERVED_ENV, SECRET_LOOKING

# fields the dashboard returns that have no blueprint counterpart (dropped without a note)
_IGNORED = frozenset({"createdAt", "updatedAt", "deletedAt", "status", "numbers", "tenantId"})


@dataclass
class _Provider:
    name: str
    type: str
    id: str | None


@dataclass
class ImportRun:
    """One import under way: what it read, what it made so far."""

    catalog: Catalog
    blueprints: Path
    documents: list[Document]
    known_secrets: dict[str, str | None]  # name -> value (None: referenced, value unknown)
    notes: list[str] = field(default_factory=list)
    new_secrets: dict[str, str] = field(default_factory=dict)
    providers: dict[str, _Provider] = field(default_factory=dict)  # by name
    by_id: dict[str, str] = field(default_factory=dict)  # provider id -> name
    files: dict[Path, str] = field(default_factory=dict)
    agents_by_id: dict[str, str] = field(default_factory=dict)  # imported agents: id -> name
    phones: set[str] = field(default_factory=set)  # imported phones' names
    trunks: dict[str, str] = field(default_factory=dict)  # imported trunks: id -> name


# -- providers --------------------------------------------------------------------------------


def add_provider(run: ImportRun, item: dict[str, Any]) -> None:
    pid = uuid_or_none(item.get("id"), f"provider {item.get('name', '?')!r}", run.notes)
    if pid is not None and pid in run.by_id:
        return  # the same provider again (embedded in an agent, or listed twice)
    kind = str(item.get("type", "")).upper()
    name = item.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        run.notes.append(f"provider {pid or '?'}: skipped: no usable name")
        return
    name = " ".join(name.split())
    what = f"provider {name!r}"
    if kind not in TYPES:
        run.notes.append(f"{what}: skipped: type {item.get('type')!r} is not ASR, LLM, TTS or STS")
        return
    present = existing(run.documents, "provider").get(name)
    if present is not None and pid and str(present.get("id", "")).lower() == pid:
        run.notes.append(f"{what}: already in the blueprints (same id); not imported again")
        return
    if name in run.providers or present is not None:
        run.notes.append(f"{what}: skipped: a provider with this name already exists")
        return
    for key in sorted(set(item) - {"id", "type", "name", "config"} - _IGNORED):
        run.notes.append(f"{what}: field {key!r} has no blueprint counterpart; dropped")
    config = item.get("config") or {}
    image = config.get("image") if isinstance(config, dict) else None
    if not isinstance(image, str) or not image.strip():
        run.notes.append(f"{what}: skipped: config.image is missing")
        return
    raw_env = config.get("env") or {}
    if not isinstance(raw_env, dict):
        run.notes.append(f"{what}: config.env is not an object; dropped")
        raw_env = {}
    template = _match_template(run, image, kind, raw_env, what)
    secret_keys = set(template.secrets) if template else set()
    env_lines = _env_lines(run, raw_env, what, name, secret_keys, allow={"AMI_URL"}, indent=4)
    lines = [
        f"# Imported from the AVR dashboard by `avrgen import` ({kind} provider).",
        "kind: provider",
        f"name: {scalar(name)}",
        f"type: {kind}",
        *([f"id: {pid}"] if pid else []),
        *([f"template: {template.name}"] if template else []),
        "config:",
        f"  image: {scalar(image.strip())}",
        *(["  env:", *env_lines] if env_lines else []),
        "",
    ]
    run.providers[name] = _Provider(name, kind, pid)
    if pid:
        run.by_id[pid] = name
    path = _free_path(run, run.blueprints / "providers", slugify(name, 80) or "provider")
    run.files[path] = "\n".join(lines)


def _match_template(
    run: ImportRun, image: str, kind: str, env: dict[str, Any], what: str
) -> ProviderTemplate | None:
    repository, _, tag = image.strip().rpartition(":")
    if "/" in tag or not repository:  # no tag (a ':' belonged to a registry port)
        repository, tag = image.strip(), ""
    for template in run.catalog.values():
        if template.image != repository or template.type != kind:
            continue
        if not tag:
            run.notes.append(
                f"{what}: image {image!r} has no tag, so it runs :latest; "
                f"consider pinning it, e.g. {template.image_ref}"
            )
        missing = [k for k in template.required if k not in env]
        if missing:
            run.notes.append(
                f"{what}: not linked to template {template.name!r}: missing {', '.join(missing)}"
            )
            return None
        return template
    return None


def _env_lines(
    run: ImportRun,
    raw_env: dict[str, Any],
    what: str,
    owner: str,
    secret_keys: set[str],
    allow: set[str],
    indent: int,
) -> list[str]:
    pad = " " * indent
    lines = []
    for key, value in raw_env.items():
        if not isinstance(key, str) or not ENV_NAME_RE.fullmatch(key):
            run.notes.append(f"{what}: env {key!r} is not a valid env name; dropped")
            continue
        if key not in allow and (key in RESERVED_ENV or key.startswith("PROVIDER_")):
            run.notes.append(f"{what}: env {key} is reserved (avrgen sets it); dropped")
            continue
        text = env_text(value)
        if text is None:
            run.notes.append(f"{what}: env {key} is not a text value; dropped")
            continue
        if "\x00" in text:
            run.notes.append(f"{what}: env {key} holds a NUL byte; dropped")
            continue
        if key in secret_keys or SECRET_LOOKING.search(key):
            secret = secret_name(run, key, text, owner, what)
            lines.append(f"{pad}{key}: {{secret: {secret}}}")
        else:
            lines.append(f"{pad}{key}: {scalar(text)}")
    return lines


def secret_name(run: ImportRun, key: str, value: str, owner: str, what: str) -> str:
    """The secret's name: the env key, unless taken by another value (then made unique)."""
    if not value:
        run.notes.append(f"{what}: {key} is empty; set secret {key} before `avrgen up`")
        return key
    base = key
    candidates = [base, f"{base}_{slugify(owner, 60).upper().replace('-', '_')}"]
    candidates += [f"{candidates[1]}_{n}" for n in range(2, 100)]
    for name in candidates:
        taken = run.new_secrets.get(name, run.known_secrets.get(name, ""))
        if name not in run.new_secrets and name not in run.known_secrets:
            run.new_secrets[name] = value
            if name != key:
                run.notes.append(
                    f"{what}: {key} is secret {name} (the name {key} holds another value)"
                )
            return name
        if taken == value:
            return name
    raise AvrgenError(f"{what}: cannot find a free secret name for {key}")


# -- agents -----------------------------------------------------------------------------------


def add_agent(run: ImportRun, item: dict[str, Any]) -> None:
    raw_name = item.get("name")
    aid = uuid_or_none(item.get("id"), f"agent {raw_name!r}", run.notes)
    name = raw_name if isinstance(raw_name, str) else ""
    slug = slugify(name) or (f"agent-{aid[:8]}" if aid else "")
    if not slug:
        run.notes.append(f"agent {raw_name!r}: skipped: no usable name")
        return
    if slug != name:
        run.notes.append(f"agent {raw_name!r}: renamed to {slug!r} (a-z, 0-9, '-', 40 at most)")
    taken = set(existing(run.documents, "agent")) | {
        p.stem for p in run.files if p.parent.name == "agents"
    }
    if slug in taken:
        run.notes.append(f"agent {raw_name!r}: skipped: an agent named {slug!r} already exists")
        return
    what = f"agent {slug!r}"
    refs = _agent_refs(run, item, what)
    if refs is None:
        return
    mode = str(item.get("mode") or "").lower()
    if mode not in SLOTS:
        guess = "sts" if "sts" in refs else "pipeline"
        if mode:
            run.notes.append(f"{what}: mode {item.get('mode')!r} unknown; using {guess}")
        mode = guess
    wanted = SLOTS[mode]
    if set(refs) != set(wanted):
        run.notes.append(
            f"{what}: skipped: {mode} mode needs {' + '.join(s.upper() for s in wanted)}, "
            f"got {' + '.join(s.upper() for s in refs) or 'none'}"
        )
        return
    for key in sorted(set(item) - _agent_fields() - _IGNORED):
        run.notes.append(f"{what}: field {key!r} has no blueprint counterpart; dropped")
    if isinstance(item.get("port"), int):
        run.notes.append(
            f"{what}: the dashboard's port {item['port']} is not kept; "
            f"pin it with `ports: {{core: {item['port']}}}` if your dialplan uses it"
        )
    env_lines = _env_lines(run, agent_env(item, what, run.notes), what, slug, set(), set(), 2)
    lines = [
        "# Imported from the AVR dashboard by `avrgen import`.",
        "kind: agent",
        f"name: {slug}",
        *([f"id: {aid}"] if aid else []),
        f"mode: {mode}",
        "providers:",
        *(f"  {slot}: {scalar(refs[slot])}" for slot in wanted),
        *(["env:", *env_lines] if env_lines else []),
        "",
    ]
    if not AGENT_NAME_RE.match(slug):  # pragma: no cover - slugify guarantees it
        raise AvrgenError(f"{what}: invalid name")
    run.files[run.blueprints / "agents" / f"{slug}.yaml"] = "\n".join(lines)
    if aid:
        run.agents_by_id[aid] = slug  # for the numbers routed to it


def _agent_fields() -> set[str]:
    refs = {*REF_KEYS.values(), *(f"{k}Id" for k in REF_KEYS.values())}
    return {"id", "name", "mode", "port", "providers", "env", *refs}


def _agent_refs(run: ImportRun, item: dict[str, Any], what: str) -> dict[str, str] | None:
    """slot -> provider name, from any of the accepted reference shapes; None: skip agent."""
    names = {
        **{n: n for n in existing(run.documents, "provider")},
        **{n: n for n in run.providers},
    }
    ids = dict(run.by_id)
    for name, data in existing(run.documents, "provider").items():
        if isinstance(data.get("id"), str):
            ids.setdefault(data["id"].lower(), name)
    listed = item.get("providers")
    given: dict[str, Any] = listed if isinstance(listed, dict) else {}
    refs: dict[str, str] = {}
    for slot, key in REF_KEYS.items():
        ref = item.get(f"{key}Id") or item.get(key) or given.get(slot)
        if ref in (None, ""):
            continue
        if isinstance(ref, dict):
            ref = ref.get("id") or ref.get("name")
        text = str(ref)
        found = ids.get(text.lower()) or names.get(text)
        if found is None:
            run.notes.append(f"{what}: skipped: its {slot.upper()} provider {text!r} is unknown")
            return None
        refs[slot] = found
    return refs


def _free_path(run: ImportRun, folder: Path, stem: str) -> Path:
    path, n = folder / f"{stem}.yaml", 2
    while path in run.files:
        path, n = folder / f"{stem}-{n}.yaml", n + 1
    return path
