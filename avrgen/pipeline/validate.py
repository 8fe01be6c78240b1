"""Validate stage: loaded documents -> a Blueprint, or every problem at once.

Each document is checked against its pydantic model (errors translated here, at the
boundary, into `file:line: field: message`); then the rules that span documents:
unique names and ids, references, the seed's mode rules, reserved env keys, port pins.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ValidationError

from avrgen.errors import BlueprintError, Problem
from avrgen.model.blueprint import KINDS, SLOTS, Agent, Blueprint, Provider, Secret, Settings
from avrgen.model.catalog import Catalog
from avrgen.model.names import suggest
from avrgen.pipeline.load import Document

RESERVED_ENV = frozenset(
    {"AGENT_ID", "AGENT_NAME", "PORT", "HTTP_PORT", "ASR_URL", "LLM_URL", "TTS_URL", "STS_URL"}
)
SECRET_LOOKING = re.compile(r"(_API_KEY|_SECRET|_TOKEN|_PASSWORD)$")
_PATTERN_MESSAGES = {
    # by the field's dotted path, or by its last step for env keys and secret names
    "name": "agent name must be 1-40 of a-z, 0-9 and '-', starting with a letter or digit",
    "network.name": "network name must be 1-63 of letters, digits, '_', '.' and '-', "
    "starting with a letter or digit",
    "[key]": "invalid env name: expected letters, digits and _, not starting with a digit",
    "secret": "invalid secret name: expected letters, digits and _, not starting with a digit",
    # swarm placement and resources (target swarm), by the last step
    "labels[key]": "invalid node label name: expected letters, digits, '.', '_' and '-'",
    "labels[value]": "invalid node label value: expected letters, digits and . _ : / -",
    "node": "invalid node name: expected a hostname (letters, digits, '.' and '-')",
    "cpus": 'invalid cpus: expected a number of CPUs as text, like "0.5" or "2"',
    "memory": "invalid memory: expected a size like 512M or 1G",
    "delay": "invalid duration: expected a number and a unit (ms, s, m, h), like 5s",
    "window": "invalid duration: expected a number and a unit (ms, s, m, h), like 2m",
}


@dataclass
class Validated:
    """A valid blueprint and the warnings found on the way."""

    blueprint: Blueprint
    warnings: list[Problem] = field(default_factory=list)


def validate(documents: list[Document], catalog: Catalog) -> Validated:
    """Check every document and the rules between them; raise BlueprintError listing all."""
    checker = _Checker(catalog)
    for document in documents:
        checker.add(document)
    checker.check_agents()
    errors = [p for p in checker.problems if p.severity == "error"]
    if errors:
        raise BlueprintError(checker.problems)
    blueprint = Blueprint(
        settings=checker.settings,
        providers={p.name: p for p, _ in checker.providers.values()},
        agents={a.name: a for a, _ in checker.agents.values()},
    )
    return Validated(blueprint, sorted(checker.problems))


class _Checker:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.problems: list[Problem] = []
        self.settings = Settings()
        self.settings_doc: Document | None = None
        self.providers: dict[str, tuple[Provider, Document]] = {}
        self.agents: dict[str, tuple[Agent, Document]] = {}
        self.broken_providers: set[str] = set()
        # by stable id, so a duplicate id is found without comparing every pair (1,000s of agents)
        self.provider_ids: dict[UUID, list[tuple[Provider, Document]]] = {}
        self.agent_ids: dict[UUID, list[tuple[Agent, Document]]] = {}

    def report(
        self, doc: Document, path: tuple[Any, ...], message: str, warn: bool = False
    ) -> None:
        text_path = ".".join(str(p) for p in path)
        severity = "warning" if warn else "error"
        self.problems.append(Problem(doc.file, doc.line_of(path), text_path, message, severity))

    # -- one document -------------------------------------------------------------------------

    def add(self, doc: Document) -> None:
        kind = doc.data.get("kind")
        if not isinstance(kind, str):
            self.report(doc, ("kind",), f"missing `kind`; expected one of {', '.join(KINDS)}")
            return
        if kind not in KINDS:
            self.report(doc, ("kind",), f"unknown kind {kind!r}{suggest(kind, KINDS)}")
            return
        try:
            model = KINDS[kind].model_validate(doc.data)
        except ValidationError as exc:
            for error in exc.errors():
                self._translate(doc, KINDS[kind], error)
            if kind == "provider" and isinstance(doc.data.get("name"), str):
                self.broken_providers.add(doc.data["name"])  # known, so no dangling-reference noise
            return
        if isinstance(model, Settings):
            self._add_settings(model, doc)
        elif isinstance(model, Provider):
            self._add_provider(model, doc)
        elif isinstance(model, Agent):
            self._add_agent(model, doc)

    def _translate(self, doc: Document, model: type[BaseModel], error: Any) -> None:
        loc = tuple(error["loc"])
        kind = error["type"]
        path = tuple(p for p in loc if p != "[key]")
        if kind == "extra_forbidden":
            name = str(loc[-1])
            known = _fields_at(model, loc[:-1])
            message = f"unknown field {name!r}{suggest(name, known)}"
            if known:
                message += f"; expected one of: {', '.join(known)}"
        elif kind == "missing":
            message = "required field is missing"
        elif kind == "literal_error":
            given = error["input"]
            expected = error["ctx"]["expected"]
            message = f"expected {expected}, got {given!r}"
            choices = re.findall(r"'([^']*)'", expected)
            message += suggest(str(given), choices)
        elif kind == "string_pattern_mismatch":
            last = str(loc[-1])
            key = last if last in ("[key]", "secret") else ".".join(str(p) for p in loc)
            if "labels" in loc:  # node labels of a placement: a label's name or value
                key = "labels[key]" if last == "[key]" else "labels[value]"
            message = _PATTERN_MESSAGES.get(key) or _PATTERN_MESSAGES.get(last, error["msg"])
            if "env" not in loc or loc[-1] == "[key]":
                message += f", got {error['input']!r}"
        else:
            message = error["msg"].removeprefix("Value error, ")
            # never echo an env value: it may be a literal secret
            if "env" not in loc and isinstance(error.get("input"), str | int):
                message += f", got {error['input']!r}"
        self.report(doc, path, message)

    def _add_settings(self, settings: Settings, doc: Document) -> None:
        if self.settings_doc is not None:
            first = f"{self.settings_doc.file}:{self.settings_doc.line}"
            self.report(doc, ("kind",), f"a second settings document (the first is at {first})")
            return
        self.settings, self.settings_doc = settings, doc
        self._check_env(doc, ("core", "env"), settings.core.env)

    def _add_provider(self, provider: Provider, doc: Document) -> None:
        if provider.name in self.providers:
            first = self.providers[provider.name][1]
            self.report(
                doc,
                ("name",),
                f"duplicate provider name {provider.name!r} "
                f"(first at {first.file}:{first.line_of(('name',))})",
            )
            return
        same_id = self.provider_ids.setdefault(provider.stable_id, [])
        for other, other_doc in same_id:
            self.report(
                doc,
                ("id",),
                f"duplicate provider id {provider.stable_id} (also "
                f"{other.name!r} at {other_doc.file}:{other_doc.line})",
            )
        same_id.append((provider, doc))
        self.providers[provider.name] = (provider, doc)
        self._check_env(doc, ("config", "env"), provider.config.env, allow={"AMI_URL"})
        template = self.catalog.get(provider.template) if provider.template else None
        if provider.template and template is None:
            self.report(
                doc,
                ("template",),
                f"unknown template {provider.template!r}{suggest(provider.template, self.catalog)}",
            )
        elif template is not None:
            self._check_template(provider, template, doc)
        elif provider.config.image is None:
            self.report(doc, ("config", "image"), "required unless a `template` gives the image")

    def _check_template(self, provider: Provider, template: Any, doc: Document) -> None:
        if template.type != provider.type:
            self.report(
                doc,
                ("type",),
                f"template {template.name!r} is for {template.type} providers, not {provider.type}",
            )
        env = provider.config.env
        for key in template.required:
            if key not in env:
                self.report(
                    doc, ("config", "env"), f"missing {key}, required by template {template.name!r}"
                )
            elif env[key] == "":
                self.report(
                    doc,
                    ("config", "env", key),
                    f"{key} is empty; template {template.name!r} needs a value",
                    warn=True,
                )
        for key in env:
            if key not in template.known_keys and key != "AMI_URL":
                self.report(
                    doc,
                    ("config", "env", key),
                    f"{key} is not a key template "
                    f"{template.name!r} knows{suggest(key, template.known_keys)}",
                    warn=True,
                )

    def _add_agent(self, agent: Agent, doc: Document) -> None:
        if agent.name in self.agents:
            first = self.agents[agent.name][1]
            self.report(
                doc,
                ("name",),
                f"duplicate agent name {agent.name!r} "
                f"(first at {first.file}:{first.line_of(('name',))})",
            )
            return
        same_id = self.agent_ids.setdefault(agent.stable_id, [])
        for other, other_doc in same_id:
            self.report(
                doc,
                ("id",),
                f"duplicate agent id {agent.stable_id} (also "
                f"{other.name!r} at {other_doc.file}:{other_doc.line})",
            )
        same_id.append((agent, doc))
        self.agents[agent.name] = (agent, doc)
        self._check_env(doc, ("env",), agent.env)
        self._check_env(doc, ("core", "env"), agent.core.env)

    def _check_env(
        self,
        doc: Document,
        path: tuple[str, ...],
        env: Mapping[str, Any],
        allow: frozenset[str] | set[str] = frozenset(),
    ) -> None:
        for key, value in env.items():
            where = (*path, key)
            if key not in allow and (key in RESERVED_ENV or key.startswith("PROVIDER_")):
                self.report(doc, where, f"{key} is reserved: avrgen sets it")
            elif isinstance(value, str) and SECRET_LOOKING.search(key) and value:
                self.report(
                    doc,
                    where,
                    f"{key} looks like a secret but holds a literal value; use {{secret: {key}}}",
                    warn=True,
                )

    # -- rules between documents --------------------------------------------------------------

    def check_agents(self) -> None:
        pins: dict[int, tuple[str, str]] = {}
        for agent, doc in self.agents.values():
            self._check_slots(agent, doc)
            self._check_pins(agent, doc, pins)

    def _check_slots(self, agent: Agent, doc: Document) -> None:
        wanted = SLOTS[agent.mode]
        for slot in ("asr", "llm", "tts", "sts"):
            name = getattr(agent.providers, slot)
            where = ("providers", slot)
            if name is None:
                if slot in wanted:
                    self.report(doc, where, f"{agent.mode} mode needs a {slot.upper()} provider")
                continue
            if slot not in wanted:
                needs = " + ".join(s.upper() for s in wanted)
                self.report(doc, where, f"{agent.mode} mode takes {needs} only, not {slot}")
                continue
            found = self.providers.get(name)
            if found is None and name in self.broken_providers:
                continue
            if found is None:
                known = [*self.providers, *self.broken_providers]
                self.report(doc, where, f"no provider named {name!r}{suggest(name, known)}")
            elif found[0].type != slot.upper():
                self.report(
                    doc, where, f"provider {name!r} is of type {found[0].type}, not {slot.upper()}"
                )

    def _check_pins(self, agent: Agent, doc: Document, pins: dict[int, tuple[str, str]]) -> None:
        ranges = self.settings.ports
        for role, port in agent.ports.model_dump(exclude_none=True).items():
            where = ("ports", role)
            if role in ("asr", "llm", "tts", "sts") and role not in SLOTS[agent.mode]:
                self.report(doc, where, f"{agent.mode} agent has no {role} container to pin")
                continue
            port_range = (
                ranges.core
                if role == "core"
                else ranges.http
                if role == "http"
                else ranges.providers
            )
            if port not in port_range:
                setting = role if role in ("core", "http") else "providers"
                self.report(doc, where, f"port {port} is outside the {setting} range {port_range}")
            elif port in pins:
                other, other_role = pins[port]
                self.report(doc, where, f"port {port} is already pinned by {other}.{other_role}")
            else:
                pins[port] = (agent.name, role)


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found by walking `loc` from `model` (for suggestions)."""
    current: Any = model
    steps = list(loc)
    while steps:
        step = steps.pop(0)
        if typing.get_origin(current) is dict:  # `env: {KEY: value}`: step over the key
            current = _unwrap(typing.get_args(current)[1])
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(str(step))
        if info is None:
            return []
        current = _unwrap(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """`X | None` -> X and `str | Secret` -> Secret, so the walk can continue into sub-models."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
        if len(members) == 1:
            return members[0]
        return models[0] if len(models) == 1 else annotation
    return annotation


__all__ = ["RESERVED_ENV", "Secret", "Validated", "suggest", "validate"]
