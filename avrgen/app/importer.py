"""Import from the AVR dashboard: its REST API JSON -> blueprint files + a secrets file.

Accepted input (one JSON file):
- a provider entity `{id, type, name, config: {image, env}}` (the seed's shape);
- an agent `{id, name, mode, providerAsrId, providerLlmId, providerTtsId, providerStsId}`
  (the create/update DTO), or with the providers embedded as objects (`providerSts: {...}`,
  as `GET /api/agents` returns them), or `providers: {sts: <id or name>, ...}`;
- a list of any of these, mixed;
- a paginated answer `{data: [...], total, page, limit, ...}` (also `items` / `results`);
- an export `{providers: <list or paginated>, agents: <list or paginated>}`.

Every provider and agent becomes one blueprint file (blueprints/providers/<slug>.yaml,
blueprints/agents/<name>.yaml) keeping the dashboard's UUID as `id`. Secret-looking env
values become `{secret: NAME}` and their values go to a dotenv secrets file (mode 0600),
never to a blueprint or to the terminal. What cannot be mapped is reported, not guessed.
The whole result is validated together with the existing blueprints before anything is
written, and no existing file is overwritten.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avrgen.app.dashboard import (
    REF_KEYS,
    TYPES,
    agent_env,
    collect,
    env_text,
    read_json,
    uuid_or_none,
)
from avrgen.app.project import Project
from avrgen.app.scaffold import existing, scalar, slugify
from avrgen.errors import AvrgenError, Problem
from avrgen.fs.atomic import write_atomic
from avrgen.fs.dotenv import read_secrets_file, secrets_text
from avrgen.model.blueprint import SLOTS
from avrgen.model.catalog import Catalog, ProviderTemplate
from avrgen.model.fields import ENV_NAME_RE
from avrgen.model.names import AGENT_NAME_RE
from avrgen.pipeline.load import Document, load_blueprints, parse_documents
from avrgen.pipeline.validate import RESERVED_ENV, SECRET_LOOKING, validate

DEFAULT_SECRETS_FILE = Path(".avrgen-secrets.env")
# fields the dashboard returns that have no blueprint counterpart (dropped without a note)
_IGNORED = frozenset({"createdAt", "updatedAt", "deletedAt", "status", "numbers", "tenantId"})


@dataclass
class ImportResult:
    """What an import wrote (or would write, with dry_run): file texts hold no secret values."""

    files: dict[Path, str]
    secrets_file: Path
    secret_names: list[str]  # names whose values went (or would go) to the secrets file
    notes: list[str]  # what was changed, dropped or could not be mapped
    warnings: list[Problem] = field(default_factory=list)
    written: bool = False


@dataclass
class _Provider:
    name: str
    type: str
    id: str | None


@dataclass
class _Run:
    catalog: Catalog
    blueprints: Path
    documents: list[Document]
    known_secrets: dict[str, str | None]  # name -> value (None: referenced, value unknown)
    notes: list[str] = field(default_factory=list)
    new_secrets: dict[str, str] = field(default_factory=dict)
    providers: dict[str, _Provider] = field(default_factory=dict)  # by name
    by_id: dict[str, str] = field(default_factory=dict)  # provider id -> name
    files: dict[Path, str] = field(default_factory=dict)


def import_dashboard(
    project: Project,
    source: Path,
    secrets_file: Path = DEFAULT_SECRETS_FILE,
    dry_run: bool = False,
) -> ImportResult:
    """Read the dashboard JSON, write blueprint files and the secrets file (unless dry_run)."""
    blueprints, catalog = project.paths.blueprints, project.catalog
    data = read_json(source)
    documents = load_blueprints(blueprints) if blueprints.is_dir() else []
    old_secrets = read_secrets_file(secrets_file) if secrets_file.is_file() else {}
    run = _Run(catalog, blueprints, documents, {**_referenced_secrets(documents), **old_secrets})
    provider_items, agent_items = collect(data, run.notes)
    for item in provider_items:
        _add_provider(run, item)
    for item in agent_items:
        _add_agent(run, item)
    if not run.files:
        raise AvrgenError(
            f"{source}: found no provider or agent to import\n" + "\n".join(run.notes)
        )
    clashes = [str(p) for p in run.files if p.exists()]
    if clashes:
        raise AvrgenError("refusing to overwrite existing files: " + ", ".join(sorted(clashes)))
    new_docs = [d for path, text in run.files.items() for d in parse_documents(text, str(path))]
    validated = validate([*documents, *new_docs], catalog)  # raises: nothing is written
    result = ImportResult(
        dict(sorted(run.files.items())),
        secrets_file,
        sorted(run.new_secrets),
        run.notes,
        [w for w in validated.warnings if any(w.file == str(p) for p in run.files)],
    )
    if not dry_run:
        _write(result, run.new_secrets)
        result.written = True
    return result


# -- input ------------------------------------------------------------------------------------


# -- providers --------------------------------------------------------------------------------


def _add_provider(run: _Run, item: dict[str, Any]) -> None:
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
    run: _Run, image: str, kind: str, env: dict[str, Any], what: str
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
    run: _Run,
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
        if not isinstance(key, str) or not ENV_NAME_RE.match(key):
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
            secret = _secret_name(run, key, text, owner, what)
            lines.append(f"{pad}{key}: {{secret: {secret}}}")
        else:
            lines.append(f"{pad}{key}: {scalar(text)}")
    return lines


def _secret_name(run: _Run, key: str, value: str, owner: str, what: str) -> str:
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


def _add_agent(run: _Run, item: dict[str, Any]) -> None:
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


def _agent_fields() -> set[str]:
    refs = {*REF_KEYS.values(), *(f"{k}Id" for k in REF_KEYS.values())}
    return {"id", "name", "mode", "port", "providers", "env", *refs}


def _agent_refs(run: _Run, item: dict[str, Any], what: str) -> dict[str, str] | None:
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


def _free_path(run: _Run, folder: Path, stem: str) -> Path:
    path, n = folder / f"{stem}.yaml", 2
    while path in run.files:
        path, n = folder / f"{stem}-{n}.yaml", n + 1
    return path


# -- secrets ----------------------------------------------------------------------------------


def _referenced_secrets(documents: list[Document]) -> dict[str, str | None]:
    """Secret names the existing blueprints use (values unknown: they live elsewhere)."""
    found: dict[str, str | None] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"secret"} and isinstance(node["secret"], str):
                found[node["secret"]] = None
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for doc in documents:
        visit(doc.data)
    return found


def _write(result: ImportResult, secrets: dict[str, str]) -> None:
    if secrets:
        path = result.secrets_file
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        if old and not old.endswith("\n"):
            old += "\n"
        header = "" if old else "# Secrets imported by `avrgen import`. Never commit this file.\n"
        write_atomic(path, (old + header + secrets_text(secrets)).encode(), mode=0o600)
        os.chmod(path, 0o600)
    for path, text in result.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("x", encoding="utf-8") as handle:
                handle.write(text)
        except FileExistsError:
            raise AvrgenError(f"{path} already exists; refusing to overwrite it") from None
