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


class ProviderTemplate(BaseModel):
    """One catalog entry.

    `optional` documents the image's own defaults ("" = unset, the image decides); they are
    not injected into a provider's env: `avrgen new provider` writes them as comments.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Text
    title: Text
    type: ProviderType
    image: Text
    tag: Text
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

    @model_validator(mode="after")
    def _keys_agree(self) -> ProviderTemplate:
        both = set(self.required) & set(self.optional)
        if both:
            raise ValueError(f"keys both required and optional: {', '.join(sorted(both))}")
        for field_name in ("secrets", "help"):
            stray = set(getattr(self, field_name)) - set(self.required) - set(self.optional)
            if stray:
                raise ValueError(
                    f"{field_name} names keys that are neither required nor optional: "
                    + ", ".join(sorted(stray))
                )
        return self

    @property
    def image_ref(self) -> str:
        return f"{self.image}:{self.tag}"

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
