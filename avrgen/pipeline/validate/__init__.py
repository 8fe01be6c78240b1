"""Validate stage: loaded documents -> a Blueprint, or every problem at once.

Each document is checked against its pydantic model (errors translated at the boundary,
in translate.py, into `file:line: field: message`); then the rules that span documents
(checker.py): unique names and ids, references, the seed's mode rules, reserved env keys,
port pins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from avrgen.errors import BlueprintError, Problem
from avrgen.model.blueprint import Blueprint
from avrgen.model.catalog import Catalog
from avrgen.model.document import Document
from avrgen.pipeline.validate.checker import RESERVED_ENV, SECRET_LOOKING, Checker

__all__ = ["RESERVED_ENV", "SECRET_LOOKING", "Validated", "validate"]


@dataclass
class Validated:
    """A valid blueprint and the warnings found on the way."""

    blueprint: Blueprint
    warnings: list[Problem] = field(default_factory=list)


def validate(documents: list[Document], catalog: Catalog) -> Validated:
    """Check every document and the rules between them; raise BlueprintError listing all."""
    checker = Checker(catalog)
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
