"""A catalog template: the image, env keys and wiring of one kind of provider."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from avrgen.model.blueprint import EnvName, ProviderType, Text

# The URL path avr-core calls on each type of provider (AVR-PLATFORM.md).
DEFAULT_PATHS: dict[str, str] = {
    "ASR": "/speech-to-text-stream",
    "LLM": "/prompt-stream",
    "TTS": "/text-to-speech-stream",
    "STS": "",
}


AMI_TYPES = frozenset({"STS", "LLM"})


# Where an image with function calling reads its tools (the dashboard bind-mounts its
# TOOLS_DIR / AVR_TOOLS_DIR there). avrgen documents them; it does not render mounts.
TOOLS_MOUNTS: tuple[str, ...] = ("/usr/src/app/tools", "/usr/src/app/avr_tools")


# Where an image's facts were read: a repository at a version (its package.json, README env
# table and process.env reads) or a document (a docs page, a compose file). Required for the
# bundled templates (pipeline/catalog.py); a user's own templates may leave it out.
class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    repository: Text | None = None
    document: Text | None = None
    version: Text | None = None
    note: str = ""

    @model_validator(mode="after")
    def _names_something(self) -> Source:
        if self.repository is None and self.document is None:
            raise ValueError("a source names a repository or a document")
        return self

    def __str__(self) -> str:
        text = self.repository or self.document or ""
        if self.version:
            text += f" {self.version}"
        if self.repository and self.document:
            text += f" ({self.document})"
        return f"{text}; {self.note}" if self.note else text


class Need(BaseModel):
    """A conditional requirement: one of `any_of`'s key sets, all of its keys, must be in a
    provider's env, unless one of `unless`' keys holds its value (validate: an error)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    any_of: tuple[tuple[EnvName, ...], ...]
    unless: dict[EnvName, str] = {}

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(key for keys in self.any_of for key in keys) | frozenset(self.unless)


class ProviderTemplate(BaseModel):
    """One catalog entry.

    `optional` documents the image's own defaults ("" = unset, the image decides); they are
    not injected into a provider's env: `avrgen new provider` writes them as comments.
    `tag` is None when no public source shows one: a provider using the template must then
    pin its own `config.image` (validate says so), never a guessed tag. `platform` is the one
    the images are built for (compose's `platform:`; swarm: a node placement constraint).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Text
    title: Text
    type: ProviderType
    image: Text
    tag: Text | None = None
    description: str = ""
    required: tuple[EnvName, ...] = ()
    optional: dict[EnvName, str] = {}
    secrets: tuple[EnvName, ...] = ()
    help: dict[EnvName, str] = {}
    path: str | None = None
    ami: bool | None = None
    tools: bool = False
    port: int | None = None
    scheme: Literal["http", "ws"] | None = None
    platform: Literal["linux/amd64", "linux/arm64"] | None = None
    source: Source | None = None
    needs: tuple[Need, ...] = ()

    @model_validator(mode="after")
    def _keys_agree(self) -> ProviderTemplate:
        both = set(self.required) & set(self.optional)
        if both:
            raise ValueError(f"keys both required and optional: {', '.join(sorted(both))}")
        keys = set(self.required) | set(self.optional)
        named: dict[str, set[str]] = {"secrets": set(self.secrets), "help": set(self.help)}
        named["needs"] = set().union(*(need.keys for need in self.needs))
        for field_name, names in named.items():
            stray = names - keys
            if stray:
                raise ValueError(
                    f"{field_name} names keys that are neither required nor optional: "
                    + ", ".join(sorted(stray))
                )
        return self

    @property
    def image_ref(self) -> str:
        """The image with its tag; the bare name when the template pins none."""
        return f"{self.image}:{self.tag}" if self.tag else self.image

    @property
    def url_path(self) -> str:
        return DEFAULT_PATHS[self.type] if self.path is None else self.path

    @property
    def takes_ami(self) -> bool:
        return self.type in AMI_TYPES if self.ami is None else self.ami

    @property
    def known_keys(self) -> frozenset[str]:
        return frozenset(self.required) | frozenset(self.optional) | frozenset(self.secrets)


Catalog = dict[str, ProviderTemplate]
