"""The provider catalog: templates that give a provider its image, env keys and wiring.

Each template is one small YAML file; the bundled ones ship inside the package
(avrgen/catalog/), and a user's own folder extends or overrides them by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from avrgen.errors import AvrgenError
from avrgen.model import EnvName, ProviderType, Text

BUNDLED = Path(__file__).parent / "catalog"

# The URL path avr-core calls on each type of provider (AVR-PLATFORM.md).
DEFAULT_PATHS: dict[str, str] = {
    "ASR": "/speech-to-text-stream",
    "LLM": "/prompt-stream",
    "TTS": "/text-to-speech-stream",
    "STS": "",
}
AMI_TYPES = frozenset({"STS", "LLM"})


class ProviderTemplate(BaseModel):
    """One catalog entry."""

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
    path: str | None = None
    ami: bool | None = None
    tools: bool = False
    port: int | None = None
    scheme: Literal["http", "ws"] | None = None

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


def load_catalog(extra_dirs: Iterable[Path] = ()) -> Catalog:
    """The bundled templates, then each extra folder's, later ones overriding by name."""
    catalog: Catalog = {}
    for folder in (BUNDLED, *extra_dirs):
        if not folder.is_dir():
            raise AvrgenError(f"{folder}: catalog folder not found")
        for path in sorted(folder.glob("*.yaml")):
            template = _read_template(path)
            catalog[template.name] = template
    return catalog


def _read_template(path: Path) -> ProviderTemplate:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return ProviderTemplate.model_validate(data)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise AvrgenError(f"{path}: invalid catalog template: {exc}") from None
