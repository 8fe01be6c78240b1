"""`avrgen templates`: the provider catalog a project sees (bundled, the settings'
`catalog:`, each --catalog)."""

from __future__ import annotations

from avrgen.app.project import Project
from avrgen.model.catalog import ProviderTemplate
from avrgen.pipeline.catalog import find_template


def templates(project: Project) -> list[ProviderTemplate]:
    """Every template of the project's catalog, by name."""
    catalog = project.catalog
    return [catalog[name] for name in sorted(catalog)]


def template(project: Project, name: str) -> ProviderTemplate:
    """One template, or an error naming the nearest one."""
    return find_template(project.catalog, name)
