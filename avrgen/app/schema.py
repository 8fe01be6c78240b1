"""Editor support: a JSON Schema of the blueprint documents, built from the pydantic models.

One schema accepts any document: `kind` picks the model (settings, provider, agent,
number, phone or trunk),
so an editor running yaml-language-server completes fields and flags a misspelled key
in every document of a multi-document file. It describes what users write in YAML:
ports are integers and `publish` a boolean, while env values accept any scalar (avrgen
keeps the text as written, so `OPENAI_TEMPERATURE: 0.7` is fine) or `{secret: NAME}`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from avrgen.model.blueprint import KINDS, Agent, Number, Phone, Provider, Settings, Trunk

Document = Annotated[
    Settings | Provider | Agent | Number | Phone | Trunk, Field(discriminator="kind")
]


def blueprint_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one blueprint document of any kind.

    Discriminated by `kind` with if/then rather than a bare oneOf, so a validator (and an
    editor) reports the misspelled key itself, not "matches none of three schemas".
    """
    schema = TypeAdapter(Document).json_schema(mode="validation")
    definitions: dict[str, Any] = schema["$defs"]
    _close_pattern_maps(definitions)
    branches = []
    for kind, model in KINDS.items():
        required = definitions[model.__name__].setdefault("required", [])
        if "kind" not in required:  # avrgen's loader needs `kind` in every document
            required.insert(0, "kind")
        branches.append(
            {
                "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                "then": {"$ref": f"#/$defs/{model.__name__}"},
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "avrgen blueprint document",
        "description": "One avrgen blueprint document: kind settings, provider, agent, "
        "number, phone or trunk.",
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": list(KINDS)}},
        "allOf": branches,
        "$defs": definitions,
    }


def _close_pattern_maps(node: Any) -> None:
    """Maps with constrained keys (env) reject other keys too, as the models do."""
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_pattern_maps(value)
    elif isinstance(node, list):
        for value in node:
            _close_pattern_maps(value)


def schema_text() -> str:
    """The schema as the bytes of the committed copy: sorted keys, two-space indent."""
    return json.dumps(blueprint_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
