"""Validate stage: loaded documents -> a Blueprint, or every problem at once.

Each document is checked against its pydantic model (errors translated at the boundary,
in translate.py, into `file:line: field: message`); then the rules that span documents
(checker.py): unique names and ids, references, the seed's mode rules, reserved env keys,
port pins; and the call path's (telephony.py): numbers, phones, trunks.
"""

from __future__ import annotations

from collections.abc import Collection
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


def validate(
    documents: list[Document],
    catalog: Catalog,
    environments: Collection[str] = (),
    root: str = ".",
) -> Validated:
    """Check every document and the rules between them; raise BlueprintError listing all.

    `environments`: the names of the set's environments, whose output folders (output/NAME)
    no agent of the base may take. `root` is the blueprint folder as the documents' file
    names start (relative host paths resolve against their file's folder and stay in it)."""
    checker = Checker(catalog, root)
    for document in documents:
        checker.add(document)
    checker.check_agents()
    for name, (_, doc) in checker.agents.items():
        if name in environments:
            checker.report(
                doc,
                ("name",),
                f"agent {name!r} has the name of an environment (environments/{name}/): "
                f"output/{name}/ is that environment's output; rename the agent or the "
                "environment",
            )
    checker.check_telephony()
    errors = [p for p in checker.problems if p.severity == "error"]
    if errors:
        raise BlueprintError(checker.problems)
    blueprint = Blueprint(
        settings=checker.settings,
        providers={p.name: p for p, _ in checker.providers.values()},
        agents={a.name: a for a, _ in checker.agents.values()},
        numbers={n.number: n for n, _ in checker.telephony.numbers},
        phones={p.name: p for p, _ in checker.telephony.phones.values()},
        trunks={t.name: t for t, _ in checker.telephony.trunks.values()},
        provider_mounts=checker.provider_mounts,
        core_mounts=checker.core_mounts,
    )
    return Validated(blueprint, sorted(checker.problems))
