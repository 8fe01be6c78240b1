"""The provider catalog: templates that give a provider its image, env keys and wiring.

Each template is one small YAML file; the bundled ones ship inside the package
(avrgen/catalog/), and a user's own folder extends or overrides them by name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from avrgen.errors import AvrgenError, BlueprintError, Problem
from avrgen.load import Document, read_plain_yaml
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


def find_template(catalog: Catalog, name: str) -> ProviderTemplate:
    """The named template, or an error naming the nearest one."""
    template = catalog.get(name)
    if template is None:
        match = difflib.get_close_matches(name, list(catalog), n=1, cutoff=0.6)
        hint = f" (did you mean {match[0]!r}?)" if match else ""
        raise AvrgenError(f"no template named {name!r}{hint}; `avrgen templates` lists them")
    return template


def template_info(template: ProviderTemplate) -> dict[str, object]:
    """A template as plain data (for `avrgen templates --json` and `templates show`)."""
    return {
        "name": template.name,
        "title": template.title,
        "type": template.type,
        "image": template.image_ref,
        "description": template.description,
        "required": list(template.required),
        "optional": dict(template.optional),
        "secrets": list(template.secrets),
        "help": dict(template.help),
        "url_path": template.url_path,
        "ami": template.takes_ami,
        "tools_mounts": list(TOOLS_MOUNTS) if template.tools else [],
        "port": template.port,
    }


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


def settings_catalog(documents: Iterable[Document], blueprints: Path) -> Path | None:
    """The folder a settings document names in `catalog:` (relative to the blueprint folder).

    Read from the raw documents because the catalog must be known before validation; a
    malformed value is left for validation to report.
    """
    for doc in documents:
        value = doc.data.get("catalog")
        if doc.data.get("kind") != "settings" or not isinstance(value, str) or not value:
            continue
        folder = blueprints / value
        message = None
        if not folder.is_dir():
            message = f"folder not found: {folder}"
        elif folder.resolve().is_relative_to(blueprints.resolve()):
            message = (
                f"{folder} is inside the blueprint folder, where every *.yaml is read as a "
                "blueprint; keep templates beside it, e.g. `catalog: ../provider-templates`"
            )
        if message:
            line = doc.line_of(("catalog",))
            raise BlueprintError([Problem(doc.file, line, "catalog", message)])
        return folder
    return None


def _read_template(path: Path) -> ProviderTemplate:
    """A template file, read with the blueprint loader's limits (a `catalog:` folder may be
    anyone's); errors name fields, never quote values (the file may not be a template)."""
    data = read_plain_yaml(path)
    try:
        template = ProviderTemplate.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(step) for step in error['loc']) or '(top)'}: {error['msg']}"
            for error in exc.errors()
        )
        raise AvrgenError(f"{path}: invalid catalog template: {problems}") from None
    if template.name != path.stem:
        raise AvrgenError(
            f"{path}: template name {template.name!r} must match the file name ({path.stem!r})"
        )
    return template
