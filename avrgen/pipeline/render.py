"""Render stage: a Plan -> the bytes of every output file, through jinja2 templates.

Safe by construction: templates never paste a raw value. Each value passes through one
escaping filter (`compose`: a JSON string, which YAML reads back exactly, with `$`
doubled so compose does not interpolate it; `dotenv`: a double-quoted env-file value),
undefined variables are errors, and the rendered text is parsed back and compared with
the plan before anything is returned (or, with `render(check=False)`, before it is written:
the caller runs `check()` on the files that changed, so an unchanged file costs no parse).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from types import CodeType

import jinja2

from avrgen.errors import TemplateError
from avrgen.fs.package import default_templates
from avrgen.model.blueprint import NetworkSettings, Secret, SwarmSettings, Target
from avrgen.model.labels import CONTENT_HASH_LABEL
from avrgen.model.mounts import DEFAULT_SOURCES
from avrgen.model.output import COMPOSE_FILE, STACK_FILE, TARGETS
from avrgen.model.plan import AgentPlan, Plan, Telephony
from avrgen.model.telephony import TLS_CERT_PATH, TLS_KEY_PATH, TLS_PORT
from avrgen.pipeline import content_hash, swarm
from avrgen.pipeline.checks import check_compose, check_env_file, check_stack
from avrgen.pipeline.escape import (
    asterisk_value,
    compose_value,
    dialplan_value,
    dotenv_value,
    exten_value,
    folder_ref,
    remembered,
    safe_key,
    secret_ref,
    section_value,
    volume_value,
    yaml_value,
)
from avrgen.pipeline.telephony_checks import TELEPHONY_CHECKS, TELEPHONY_TEMPLATES


class CompiledTemplates(jinja2.BytecodeCache):
    """Templates compiled once a process, by file and source: every Renderer's environment
    has the same settings, so a template compiled for one serves the next (a render per
    environment, status beside up, the tests' thousands of renders). A changed file is
    compiled again: its source's checksum is part of the entry."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit  # entries; custom templates folders: a bound, not a leak
        self.compiled: dict[str, tuple[str, CodeType | None]] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        checksum, code = self.compiled.get(bucket.key, ("", None))
        if checksum == bucket.checksum:
            bucket.code = code

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if len(self.compiled) >= self.limit:
            self.compiled.clear()
        self.compiled[bucket.key] = (bucket.checksum, bucket.code)


COMPILED = CompiledTemplates()


class Renderer:
    """Compiles the templates once and renders any number of agents with them.

    `target` picks the output: compose (docker-compose.yml + env files) or swarm (stack.yml).
    """

    def __init__(
        self,
        templates: Path | None = None,
        target: Target = "compose",
        sources: str = DEFAULT_SOURCES,
    ) -> None:
        """`sources`: the blueprint folder relative to the output folder, where the host
        paths of mounts (relative to the blueprint folder) are found from output/<agent>/."""
        if target not in TARGETS:
            raise TemplateError(f"unknown target {target!r}; expected compose or swarm")
        self.target = target
        self.sources = sources
        folder = templates or default_templates()
        if not folder.is_dir():
            raise TemplateError(f"{folder}: templates folder not found")
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            bytecode_cache=COMPILED,
        )
        env.filters.update(
            compose=remembered(compose_value),
            yaml=remembered(yaml_value),
            dotenv=remembered(dotenv_value),
            secret_ref=remembered(secret_ref),
            key=remembered(safe_key),
            folder_ref=folder_ref,
            asterisk=asterisk_value,
            dialplan=dialplan_value,
            section=section_value,
            exten=exten_value,
            volume=volume_value,
        )
        env.tests["secret"] = lambda value: isinstance(value, Secret)
        env.globals["content_hash_label"] = CONTENT_HASH_LABEL
        env.filters["content_hash"] = lambda role: compose_value(content_hash.placeholder(role))
        self.env, self.folder = env, folder
        self.telephony_templates: dict[str, jinja2.Template] | None = None  # compiled when used
        try:
            if target == "swarm":
                self.stack = env.get_template("stack.yml.j2")
            else:
                self.compose = env.get_template("docker-compose.yml.j2")
                self.env_file = env.get_template("service.env.j2")
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{folder}: {exc}") from None
        # parse-back checks not yet run: each takes the file's text, decoded when it runs
        # (keeping only the bytes: at 10,000 agents the texts would double the memory)
        self.pending: dict[str, tuple[Callable[[str], None], bytes]] = {}

    def render(
        self,
        plan: Plan,
        only: set[str] | None = None,
        check: bool = True,
        reuse: Callable[[AgentPlan], dict[str, bytes] | None] | None = None,
    ) -> dict[str, bytes]:
        """Every output file, by path relative to the output folder, in sorted order.

        Each file is parsed back and checked against the plan; with `check=False` the
        checks wait in `pending` until check() runs them (on the files to be written).
        `reuse` (cache.AgentReuse) may give an agent's files as the last render made them.
        """
        files: dict[str, bytes] = {}
        for name, agent in plan.agents.items():
            if only is None or name in only:
                reused = reuse(agent) if reuse is not None else None
                if reused is not None:
                    files.update(reused)
                elif self.target == "swarm":
                    files.update(self.render_stack(agent, plan.network, plan.swarm))
                else:
                    files.update(self.render_agent(agent, plan.network))
        if plan.telephony is not None:  # with `only` too: `up NAME` needs the stack's files,
            # and they hold every agent's ports, which are always planned
            files.update(self.render_telephony(plan.telephony, plan.network))
        if check:
            self.check()
        return files

    def render_telephony(self, telephony: Telephony, network: NetworkSettings) -> dict[str, bytes]:
        """output/_telephony/: the stack's compose file and Asterisk's my_*.conf, for either
        target (the stack runs with docker compose: reloading in place needs bind mounts,
        which swarm's immutable configs cannot give)."""
        if self.telephony_templates is None:
            try:
                self.telephony_templates = {
                    name: self.env.get_template(template)
                    for name, template in TELEPHONY_TEMPLATES.items()
                }
            except jinja2.TemplateError as exc:
                raise TemplateError(f"{self.folder}: {exc}") from None
        files: dict[str, bytes] = {}
        for name, template in self.telephony_templates.items():
            try:
                text = template.render(
                    telephony=telephony,
                    network=network,
                    tls_port=TLS_PORT,
                    tls_cert=TLS_CERT_PATH,
                    tls_key=TLS_KEY_PATH,
                )
            except (jinja2.TemplateError, TemplateError) as exc:
                raise TemplateError(f"rendering {telephony.folder}/{name}: {exc}") from None
            path = f"{telephony.folder}/{name}"
            files[path] = text.encode()
            self.pending[path] = (partial(TELEPHONY_CHECKS[name], telephony, network), files[path])
        return dict(sorted(files.items()))

    def check(self, paths: Iterable[str] | None = None) -> None:
        """Run the pending parse-back checks of these files (by relative path; None: all)."""
        for path in list(self.pending) if paths is None else paths:
            pending = self.pending.pop(path, None)
            if pending is not None:
                check, data = pending
                check(data.decode())

    def render_stack(
        self, agent: AgentPlan, network: NetworkSettings, settings: SwarmSettings
    ) -> dict[str, bytes]:
        """The agent's swarm stack file (`output/<agent>/stack.yml`), checked against the plan."""
        try:
            text = self.stack.render(
                agent=agent,
                network=network,
                restart=swarm.restart_policy(settings),
                resources=swarm.resources(settings.resources),
                sources=self.sources,
            )
        except (jinja2.TemplateError, TemplateError) as exc:
            raise TemplateError(f"rendering agent {agent.name!r}: {exc}") from None
        path, data = f"{agent.name}/{STACK_FILE}", text.encode()
        check = partial(
            check_stack, agent, network, settings, secret_ref=secret_ref, sources=self.sources
        )
        self.pending[path] = (check, data)
        return {path: data}

    def render_agent(self, agent: AgentPlan, network: NetworkSettings) -> dict[str, bytes]:
        try:
            compose_text = self.compose.render(agent=agent, network=network, sources=self.sources)
            env_texts = {c.role: self.env_file.render(container=c) for c in agent.containers}
        except (jinja2.TemplateError, TemplateError) as exc:
            raise TemplateError(f"rendering agent {agent.name!r}: {exc}") from None
        path = f"{agent.name}/{COMPOSE_FILE}"
        if content_hash.PREFIX in compose_text:
            # the hash is of the service parsed back: checked now, on the parse it needs
            data = check_compose(agent, network, compose_text, sources=self.sources)
            files = {path: content_hash.fill(compose_text, data).encode()}
        else:
            files = {path: compose_text.encode()}
            check = partial(check_compose, agent, network, sources=self.sources)
            self.pending[path] = (check, files[path])
        for container in agent.containers:
            path = f"{agent.name}/{container.role}.env"
            files[path] = env_texts[container.role].encode()
            self.pending[path] = (partial(check_env_file, agent, container), files[path])
        return dict(sorted(files.items()))
