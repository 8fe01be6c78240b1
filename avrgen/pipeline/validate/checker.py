"""The checks of validate: each document against its model, then the rules between them."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from uuid import UUID

from pydantic import ValidationError

from avrgen.errors import Problem, Severity
from avrgen.model.blueprint import (
    KINDS,
    SLOTS,
    Agent,
    Number,
    Phone,
    Provider,
    Settings,
    Trunk,
)
from avrgen.model.catalog import Catalog, ProviderTemplate
from avrgen.model.document import Document
from avrgen.model.mounts import Mount
from avrgen.model.names import suggest
from avrgen.pipeline.validate.env_rules import (
    Finding,
    core_findings,
    template_findings,
)
from avrgen.pipeline.validate.hosts import (
    check_calls_across_hosts,
    check_host,
    with_tls_paths,
)
from avrgen.pipeline.validate.mounts import Folder, container_mounts
from avrgen.pipeline.validate.telephony import TelephonyDocs, check_telephony
from avrgen.pipeline.validate.translate import translate

RESERVED_ENV = frozenset(
    {"AGENT_ID", "AGENT_NAME", "PORT", "HTTP_PORT", "ASR_URL", "LLM_URL", "TTS_URL", "STS_URL"}
)
SECRET_LOOKING = re.compile(r"(_API_KEY|_SECRET|_TOKEN|_PASSWORD)$")

_Named = TypeVar("_Named", Provider, Agent)  # a document kind with a unique name and id


class Checker:
    """Collects the valid documents and every problem, in the order they were found."""

    def __init__(self, catalog: Catalog, root: str = ".") -> None:
        self.catalog = catalog
        self.root = root  # the blueprint folder: relative host paths stay inside it
        # the mounts of each provider's container and of each agent's core, by name
        self.provider_mounts: dict[str, tuple[Mount, ...]] = {}
        self.core_mounts: dict[str, tuple[Mount, ...]] = {}
        self.problems: list[Problem] = []
        self.settings = Settings()
        self.settings_doc: Document | None = None
        self.settings_broken = False  # an invalid settings document: its hosts are unknown
        self.providers: dict[str, tuple[Provider, Document]] = {}
        self.agents: dict[str, tuple[Agent, Document]] = {}
        self.broken_providers: set[str] = set()
        # by stable id, so a duplicate id is found without comparing every pair (1,000s of agents)
        self.provider_ids: dict[UUID, list[tuple[Provider, Document]]] = {}
        self.agent_ids: dict[UUID, list[tuple[Agent, Document]]] = {}
        self.telephony = TelephonyDocs()  # numbers, phones, trunks
        self._folders: dict[str, Folder] = {}  # by file: 1,000s of documents share a few

    def report(
        self, doc: Document, path: tuple[Any, ...], message: str, warn: bool = False
    ) -> None:
        text_path = ".".join(str(p) for p in path)
        severity: Severity = "warning" if warn else "error"
        file, line = doc.position(path)  # an overlay's field: the overlay's file
        self.problems.append(Problem(file, line, text_path, message, severity))

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
                self.report(doc, *translate(KINDS[kind], error))
            self.settings_broken = self.settings_broken or kind == "settings"
            if kind == "provider" and isinstance(doc.data.get("name"), str):
                self.broken_providers.add(doc.data["name"])  # known, so no dangling-reference noise
            if kind in self.telephony.broken and isinstance(doc.data.get("name"), str):
                self.telephony.broken[kind].add(doc.data["name"])  # the same, for numbers
            return
        if isinstance(model, Settings):
            self._add_settings(model, doc)
        elif isinstance(model, Provider):
            self._add_provider(model, doc)
        elif isinstance(model, Agent):
            self._add_agent(model, doc)
        elif isinstance(model, Number):
            self.telephony.numbers.append((model, doc))
        elif isinstance(model, Phone | Trunk):
            self._add_endpoint(model, doc)

    def _add_endpoint(self, model: Phone | Trunk, doc: Document) -> None:
        """A phone or trunk, by name; a second one of that kind and name is reported."""
        kind = "phone" if isinstance(model, Phone) else "trunk"
        by_name: dict[str, Any] = (
            self.telephony.phones if kind == "phone" else self.telephony.trunks
        )
        if model.name in by_name:
            self._duplicate_name(kind, model.name, by_name[model.name][1], doc)
            return
        by_name[model.name] = (model, doc)

    def _duplicate_name(self, kind: str, name: str, first: Document, doc: Document) -> None:
        where = f"{first.file}:{first.line_of(('name',))}"
        self.report(doc, ("name",), f"duplicate {kind} name {name!r} (first at {where})")

    def _add_settings(self, settings: Settings, doc: Document) -> None:
        if self.settings_doc is not None:
            first = f"{self.settings_doc.file}:{self.settings_doc.line}"
            self.report(doc, ("kind",), f"a second settings document (the first is at {first})")
            return
        self.settings, self.settings_doc = with_tls_paths(settings, doc, self.report), doc
        self._check_env(doc, ("core", "env"), settings.core.env)
        self._report_all(doc, core_findings(("core", "env"), settings.core.env, RESERVED_ENV))

    def _register(
        self,
        kind: str,
        item: _Named,
        doc: Document,
        by_name: dict[str, tuple[_Named, Document]],
        by_id: dict[UUID, list[tuple[_Named, Document]]],
    ) -> bool:
        """Record a provider or agent by name and id; False for a name already taken (the
        document is then left out). A duplicate id is reported, and the document kept."""
        if item.name in by_name:
            self._duplicate_name(kind, item.name, by_name[item.name][1], doc)
            return False
        same_id = by_id.setdefault(item.stable_id, [])
        for other, other_doc in same_id:
            self.report(
                doc,
                ("id",),
                f"duplicate {kind} id {item.stable_id} (also "
                f"{other.name!r} at {other_doc.file}:{other_doc.line})",
            )
        same_id.append((item, doc))
        by_name[item.name] = (item, doc)
        return True

    def _add_provider(self, provider: Provider, doc: Document) -> None:
        if not self._register("provider", provider, doc, self.providers, self.provider_ids):
            return
        self._check_env(doc, ("config", "env"), provider.config.env, allow={"AMI_URL"})
        config = provider.config
        mounts, findings = container_mounts(
            self._folder(doc),
            ("config",),
            config.tools,
            config.volumes,
            config.files,
            provider=True,
        )
        self._report_all(doc, findings)
        if mounts:
            self.provider_mounts[provider.name] = mounts
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

    def _check_template(
        self, provider: Provider, template: ProviderTemplate, doc: Document
    ) -> None:
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
        has_image = provider.config.image is not None
        self._report_all(doc, template_findings(template, env, has_image))

    def _add_agent(self, agent: Agent, doc: Document) -> None:
        if not self._register("agent", agent, doc, self.agents, self.agent_ids):
            return
        self._check_env(doc, ("env",), agent.env)
        self._check_env(doc, ("core", "env"), agent.core.env)
        mounts, findings = container_mounts(
            self._folder(doc), ("core",), None, agent.core.volumes, {}, provider=False
        )
        self._report_all(doc, findings)
        if mounts:
            self.core_mounts[agent.name] = mounts
        self._report_all(doc, core_findings(("core", "env"), agent.core.env, RESERVED_ENV))

    def _folder(self, doc: Document) -> Folder:
        """Where the document's relative host paths start (the same for its whole file)."""
        folder = self._folders.get(doc.file)
        if folder is None:
            folder = self._folders[doc.file] = Folder(doc.file, self.root)
        return folder

    def _report_all(self, doc: Document, findings: Iterable[Finding]) -> None:
        for path, message, warn in findings:
            self.report(doc, path, message, warn=warn)

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

    def check_telephony(self) -> None:
        check_telephony(
            self.telephony,
            self.settings.telephony,
            self.settings_doc,
            set(self.agents),
            self.report,
        )
        if not self.settings_broken:
            check_calls_across_hosts(
                self.settings,
                self.settings_doc,
                self.telephony.numbers,
                self.agents,
                self.report,
                lambda doc, path, message: self.report(doc, path, message, warn=True),
            )

    def check_agents(self) -> None:
        pins: dict[tuple[str | None, int], tuple[str, str]] = {}  # ports are unique per host
        for agent, doc in self.agents.values():
            self._check_slots(agent, doc)
            self._check_pins(agent, doc, pins)
            self._check_exposure(agent, doc)
            check_host(agent, doc, self.settings, self.settings_broken, self.report)

    def _check_exposure(self, agent: Agent, doc: Document) -> None:
        """Core's AudioSocket and /call have no authentication: published on every
        interface, anyone who reaches the host can start calls into the agent."""
        publish = agent.core.publish
        if publish is None:
            return
        own = publish.host_ip is not None
        host_ip = publish.host_ip or self.settings.publish.host_ip
        if ipaddress.ip_address(host_ip).is_unspecified:
            self.report(
                doc,
                ("core", "publish", "host_ip") if own else ("core", "publish"),
                f"core's ports are published on every interface ({host_ip}): its AudioSocket "
                "and /call have no authentication; bind them to 127.0.0.1 or a private "
                "address (publish: {host_ip: ...})",
                warn=True,
            )

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

    def _telephony_port(self, port: int) -> bool:
        telephony = self.settings.telephony
        if telephony is None:
            return False
        return any(port == p if isinstance(p, int) else port in p for p in telephony.host_ports())

    def _check_pins(
        self, agent: Agent, doc: Document, pins: dict[tuple[str | None, int], tuple[str, str]]
    ) -> None:
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
            elif self._telephony_port(port):
                self.report(
                    doc,
                    where,
                    f"port {port} is a host port of the telephony stack (settings telephony: "
                    "SIP, RTP, AMI, HTTP, avr-ami); pin another one",
                )
            elif ranges.is_reserved(port):
                self.report(
                    doc,
                    where,
                    f"port {port} is reserved (settings ports.reserved: the telephony stack's "
                    "ports); pin another one",
                )
            elif (agent.host, port) in pins:
                other, other_role = pins[agent.host, port]
                self.report(doc, where, f"port {port} is already pinned by {other}.{other_role}")
            else:
                pins[agent.host, port] = (agent.name, role)
