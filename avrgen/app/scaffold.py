"""Scaffolding: `avrgen new provider` and `avrgen new agent` write a commented blueprint file.

The file is valid as written (a test loads and validates it): a provider from a catalog
template gets every required key (secrets as `{secret: NAME}`) and the optional ones as
comments; an agent names providers that exist. Nothing is ever overwritten.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from avrgen.app.project import Project
from avrgen.errors import AvrgenError
from avrgen.model.blueprint import SLOTS
from avrgen.model.catalog import TOOLS_MOUNTS, Catalog, ProviderTemplate
from avrgen.model.names import AGENT_NAME_RE, suggest
from avrgen.pipeline.catalog import find_template
from avrgen.pipeline.load import Document, load_blueprints

SCHEMA_PATH = Path("schema") / "avrgen.schema.json"  # beside the blueprint folder, when present
_PLAIN_RE = re.compile(r"^[A-Za-z0-9_./@+:-]+( [A-Za-z0-9_./@+:-]+)*$")


@dataclass(frozen=True)
class NewFile:
    """A scaffolded blueprint file: where it goes and its text."""

    path: Path
    text: str


def slugify(text: str, limit: int = 40) -> str:
    """Lower-case a-z, 0-9 and '-', for file names and agent names ('' when nothing is left)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-")


def scalar(value: str) -> str:
    """A YAML scalar that reads back as the same text in avrgen and in any YAML 1.1/1.2 tool."""
    if _PLAIN_RE.fullmatch(value):
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def existing(documents: list[Document], kind: str) -> dict[str, dict[str, Any]]:
    """The documents of one kind by name (raw data: this runs before validation)."""
    found: dict[str, dict[str, Any]] = {}
    for doc in documents:
        name = doc.data.get("name")
        if doc.data.get("kind") == kind and isinstance(name, str):
            found.setdefault(name, doc.data)
    return found


def _documents(blueprints: Path) -> list[Document]:
    return load_blueprints(blueprints) if blueprints.is_dir() else []


def _header(path: Path, blueprints: Path) -> list[str]:
    schema = blueprints.parent / SCHEMA_PATH
    if not schema.is_file():
        return []
    relative = Path(os.path.relpath(schema.resolve(), path.parent.resolve())).as_posix()
    return [f"# yaml-language-server: $schema={relative}"]


# -- provider ---------------------------------------------------------------------------------


def provider_file(
    catalog: Catalog, template_name: str, name: str, blueprints: Path, file: Path | None = None
) -> NewFile:
    """The blueprint file of a new provider from a catalog template (nothing written)."""
    template = find_template(catalog, template_name)
    name = name.strip()
    if not name or len(name) > 200 or "\n" in name:
        raise AvrgenError("a provider name must be 1-200 characters on one line")
    providers = existing(_documents(blueprints), "provider")
    if name in providers:
        raise AvrgenError(f"a provider named {name!r} already exists in {blueprints}")
    slug = slugify(name, 80)
    if not slug:
        raise AvrgenError(f"cannot make a file name from {name!r}; give one with --file")
    path = file or blueprints / "providers" / f"{slug}.yaml"
    return NewFile(path, "\n".join([*_header(path, blueprints), *_provider_lines(template, name)]))


def _image_lines(t: ProviderTemplate) -> list[str]:
    if t.tag:
        return [
            "  # The template gives the image; uncomment to pin another tag:",
            f"  # image: {t.image_ref}",
        ]
    return [
        "  # No public source shows a version tag of this image: `latest` until you pin one",
        "  # you have checked (docker manifest inspect IMAGE:TAG).",
        f"  image: {t.image}:latest",
    ]


def _active_keys(t: ProviderTemplate) -> list[str]:
    """The required keys, then the first choice of each conditional need (to fill in)."""
    keys = list(t.required)
    for need in t.needs:
        keys += [key for key in need.any_of[0] if key not in keys]
    return keys


def _provider_lines(t: ProviderTemplate, name: str) -> list[str]:
    lines = [
        f"# Provider {json.dumps(name, ensure_ascii=False)}, from the catalog template "
        f"{t.name} ({t.title}).".replace("\n", " ")
    ]
    if t.description:
        lines.append(f"# {' '.join(t.description.split())}")
    lines += [
        f"# Written by `avrgen new provider`; edit freely. `avrgen templates show {t.name}`",
        "# lists every key. Secrets are {secret: NAME}: set NAME in the environment or the",
        "# --secrets-file at `avrgen up`; their values are never written to output/.",
        "kind: provider",
        f"name: {scalar(name)}",
        f"type: {t.type}",
        f"template: {t.name}",
        "config:",
        *_image_lines(t),
        "  env:" if _active_keys(t) else "  env: {}",
    ]
    for key in _active_keys(t):
        value = f"{{secret: {key}}}" if key in t.secrets else '""'
        note = t.help.get(key, "")
        if key not in t.secrets:
            note = f"required, fill in{': ' + note if note else ''}"
        lines.append(f"    {key}: {value}" + (f"  # {note}" if note else ""))
    if t.optional:
        lines.append('    # Optional: the image\'s own defaults ("" = unset). Uncomment to change.')
    for key, default in t.optional.items():
        if key in _active_keys(t):
            continue
        value = f"{{secret: {key}}}" if key in t.secrets else scalar(default)
        note = t.help.get(key, "")
        lines.append(f"    # {key}: {value}" + (f"  # {note}" if note else ""))
    if t.takes_ami:
        lines.append("    # AMI_URL: http://avr-ami:6006  # default: the settings' ami_url")
    if t.tools:
        lines.append("    # Function-calling tools are read from (not mounted by avrgen):")
        lines.append(f"    #   {' and '.join(TOOLS_MOUNTS)}")
    return [*lines, ""]


# -- agent ------------------------------------------------------------------------------------


def agent_file(
    name: str, providers: dict[str, str], blueprints: Path, file: Path | None = None
) -> NewFile:
    """The blueprint file of a new agent using existing providers (nothing written).

    `providers` maps slots to provider names: {sts} or {asr, llm, tts}.
    """
    if not AGENT_NAME_RE.fullmatch(name):
        hint = slugify(name)
        raise AvrgenError(
            f"invalid agent name {name!r}: 1-40 of a-z, 0-9 and '-', starting with a letter or "
            f"digit" + (f" (try {hint!r})" if hint and hint != name else "")
        )
    chosen = {slot: value for slot, value in providers.items() if value}
    mode = next((m for m, slots in SLOTS.items() if set(chosen) == set(slots)), None)
    if mode is None:
        raise AvrgenError("give either --sts NAME, or all three of --asr, --llm and --tts")
    documents = _documents(blueprints)
    if name in existing(documents, "agent"):
        raise AvrgenError(f"an agent named {name!r} already exists in {blueprints}")
    known = existing(documents, "provider")
    for slot, provider in chosen.items():
        data = known.get(provider)
        if data is None:
            raise AvrgenError(
                f"no provider named {provider!r} in {blueprints}{suggest(provider, known)}; "
                "create one with `avrgen new provider`"
            )
        if data.get("type") != slot.upper():
            raise AvrgenError(
                f"provider {provider!r} is of type {data.get('type')}, not {slot.upper()}"
            )
    path = file or blueprints / "agents" / f"{name}.yaml"
    lines = [
        *_header(path, blueprints),
        f"# Agent {name}: containers avr-core-{name} and "
        + ", ".join(f"avr-{slot}-{name}" for slot in SLOTS[mode])
        + ".",
        f"# Written by `avrgen new agent`. Then: `avrgen render`, `avrgen up {name}`.",
        "kind: agent",
        f"name: {name}",
        f"mode: {mode}",
        "providers:",
        *(f"  {slot}: {scalar(chosen[slot])}" for slot in SLOTS[mode]),
        "# tenant: acme  # sets the dashboard's `tenant` label",
        "# env:  # the dashboard's additional environment, given to every provider container",
        "#   LOG_LEVEL: info",
        "core:",
        "  # image: agentvoiceresponse/avr-core:1.12.0  # default: the settings' core image",
        "  # env:",
        '  #   SYSTEM_MESSAGE: "Hello, how can I help?"',
        "  publish: false  # true: publish core's AudioSocket and HTTP ports on the host",
        "# ports: {core: 5001}  # pins; the rest is allocated and kept in avrgen.lock",
        "",
    ]
    return NewFile(path, "\n".join(lines))


def write_new(new: NewFile) -> Path:
    """Create the file; refuse to overwrite an existing one."""
    try:
        new.path.parent.mkdir(parents=True, exist_ok=True)
        with new.path.open("x", encoding="utf-8") as handle:
            handle.write(new.text)
    except FileExistsError:
        raise AvrgenError(f"{new.path} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise AvrgenError(f"{new.path}: {exc.strerror or exc}") from None
    return new.path


def new_provider(project: Project, template: str, name: str, file: Path | None = None) -> Path:
    """`avrgen new provider`: write the file, return its path."""
    blueprints = project.paths.blueprints
    return write_new(provider_file(project.catalog, template, name, blueprints, file))


def new_agent(
    project: Project, name: str, providers: dict[str, str], file: Path | None = None
) -> Path:
    """`avrgen new agent`: write the file, return its path."""
    return write_new(agent_file(name, providers, project.paths.blueprints, file))
