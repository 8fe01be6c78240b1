"""Import from the AVR dashboard: its REST API JSON -> blueprint files + a secrets file.

Accepted input (one JSON file):
- a provider entity `{id, type, name, config: {image, env}}` (the seed's shape);
- an agent `{id, name, mode, providerAsrId, providerLlmId, providerTtsId, providerStsId}`
  (the create/update DTO), or with the providers embedded as objects (`providerSts: {...}`,
  as `GET /api/agents` returns them), or `providers: {sts: <id or name>, ...}`;
- a list of any of these, mixed;
- a paginated answer `{data: [...], total, page, limit, ...}` (also `items` / `results`);
- an export `{providers: <list or paginated>, agents: <list or paginated>}` (also
  `numbers`, `phones`, `trunks`);
- the dashboard's numbers, phones and trunks (avrgen/app/import_telephony.py), alone, in
  lists or in an export.

Every provider and agent becomes one blueprint file (blueprints/providers/<slug>.yaml,
blueprints/agents/<name>.yaml) keeping the dashboard's UUID as `id`; numbers, phones and
trunks go to blueprints/numbers/, phones/, trunks/ (their passwords become secrets).
Secret-looking env values become `{secret: NAME}` and their values go to a dotenv secrets
file (mode 0600), never to a blueprint or to the terminal. What cannot be mapped is
reported, not guessed.
The whole result is validated together with the existing blueprints before anything is
written, and no existing file is overwritten.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avrgen.app.dashboard import collect, read_json
from avrgen.app.import_blueprints import ImportRun, add_agent, add_provider
from avrgen.app.import_telephony import add_number, add_phone, add_trunk, kind_of
from avrgen.app.project import Project
from avrgen.errors import AvrgenError, Problem
from avrgen.fs.atomic import write_atomic
from avrgen.fs.dotenv import read_secrets_file, secrets_text
from avrgen.pipeline.load import Document, load_blueprints, parse_documents
from avrgen.pipeline.validate import validate

DEFAULT_SECRETS_FILE = Path(".avrgen-secrets.env")


@dataclass
class ImportResult:
    """What an import wrote (or would write, with dry_run): file texts hold no secret values."""

    files: dict[Path, str]
    secrets_file: Path
    secret_names: list[str]  # names whose values went (or would go) to the secrets file
    notes: list[str]  # what was changed, dropped or could not be mapped
    warnings: list[Problem] = field(default_factory=list)
    written: bool = False


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
    run = ImportRun(
        catalog, blueprints, documents, {**_referenced_secrets(documents), **old_secrets}
    )
    telephony: list[tuple[str, dict[str, Any]]] = []
    provider_items, agent_items = collect(data, run.notes, telephony, kind_of)
    for item in provider_items:
        add_provider(run, item)
    for item in agent_items:
        add_agent(run, item)
    # phones and trunks before the numbers that route to them
    for wanted, add in (("phone", add_phone), ("trunk", add_trunk), ("number", add_number)):
        for kind, item in telephony:
            if kind == wanted:
                add(run, item)
    if telephony:
        run.notes.append(
            "numbers dial avrgen's container names (avr-core-<agent name>); a dialplan the "
            "dashboard wrote dials avr-core-<agent id>: keep it working with "
            "`container_names: id` in the settings"
        )
    if not run.files:
        raise AvrgenError(
            f"{source}: found no provider, agent, number, phone or trunk to import\n"
            + "\n".join(run.notes)
        )
    clashes = [str(p) for p in run.files if p.exists()]
    if clashes:
        raise AvrgenError("refusing to overwrite existing files: " + ", ".join(sorted(clashes)))
    new_docs = [d for path, text in run.files.items() for d in parse_documents(text, str(path))]
    # raises: nothing is written
    validated = validate([*documents, *new_docs], catalog, root=blueprints.as_posix())
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
