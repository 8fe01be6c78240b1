"""The provider catalog: templates that give a provider its image, env keys and wiring.

Each template is one small YAML file; the bundled ones ship inside the package
(avrgen/catalog/), and a user's own folder extends or overrides them by name.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from avrgen.errors import AvrgenError, BlueprintError, Problem
from avrgen.fs.package import BUNDLED_CATALOG
from avrgen.model.catalog import Catalog, ProviderTemplate
from avrgen.model.document import Document
from avrgen.model.names import suggest
from avrgen.pipeline.load import read_plain_yaml


def find_template(catalog: Catalog, name: str) -> ProviderTemplate:
    """The named template, or an error naming the nearest one."""
    template = catalog.get(name)
    if template is None:
        hint = suggest(name, catalog)
        raise AvrgenError(f"no template named {name!r}{hint}; `avrgen templates` lists them")
    return template


def load_catalog(extra_dirs: Iterable[Path] = ()) -> Catalog:
    """The bundled templates, then each extra folder's, later ones overriding by name."""
    catalog: Catalog = {template.name: template for template in _bundled(BUNDLED_CATALOG)}
    for folder in extra_dirs:
        catalog.update((template.name, template) for template in _read_folder(folder))
    return catalog


@functools.cache
def _bundled(folder: Path) -> tuple[ProviderTemplate, ...]:
    """The package's own templates, read once a process: they ship inside avrgen and do not
    change while it runs (a render reads the catalog for validation and again for its checks;
    the tests render thousands of times in one process). The templates are frozen models."""
    templates = _read_folder(folder)
    for template in templates:
        if template.source is None:
            raise AvrgenError(
                f"{folder / template.name}.yaml: a bundled template must name its `source`"
            )
    return templates


def _read_folder(folder: Path) -> tuple[ProviderTemplate, ...]:
    if not folder.is_dir():
        raise AvrgenError(f"{folder}: catalog folder not found")
    return tuple(_read_template(path) for path in sorted(folder.glob("*.yaml")))


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
            file, line = doc.position(("catalog",))
            raise BlueprintError([Problem(file, line, "catalog", message)])
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
