"""cli.serialize: every --json document comes from the result dataclasses, keys in the
order users' scripts have seen them."""

from __future__ import annotations

import json

from avrgen.app.results import ContainerStatus, Difference, PortChange, TaskStatus
from avrgen.cli import serialize
from avrgen.errors import BlueprintError, Problem


def test_a_container_is_its_fields_with_name_as_container() -> None:
    status = ContainerStatus("billing", "avr-core-billing", "core", "running", ports=("5001",))
    assert list(serialize.containers([status])[0]) == [
        "agent",
        "container",
        "role",
        "state",
        "health",
        "ports",
        "id",
        "image",
        "exit_code",
        "started_at",
        "networks",
        "orphan",
        "set",
        "output",
        "host",
        "telephony",
    ]
    assert serialize.containers([status])[0]["ports"] == ["5001"]


def test_a_task_is_its_fields() -> None:
    task = TaskStatus("billing", "avr-billing_core", "core", "", "absent", "-")
    assert list(serialize.tasks([task])[0]) == [
        "agent",
        "service",
        "role",
        "node",
        "desired",
        "state",
        "error",
        "image",
        "since",
        "orphan",
        "set",
    ]


def test_nested_values_become_plain_json() -> None:
    difference = Difference("avr-core-x", "core", "env", "env changed A", ("A", "B"))
    assert serialize.record(difference) == {
        "container": "avr-core-x",
        "role": "core",
        "kind": "env",
        "detail": "env changed A",
        "keys": ["A", "B"],
    }
    assert serialize.record(PortChange("x", "core", "new", None, 5001)) == {
        "agent": "x",
        "role": "core",
        "kind": "new",
        "old": None,
        "new": 5001,
    }


def test_an_error_document_lists_the_problems_of_invalid_blueprints() -> None:
    problem = Problem("blueprints/a.yaml", 3, "agents.x", "bad", "error")
    document = serialize.error(BlueprintError([problem]))
    assert json.dumps(document) == json.dumps(
        {
            "error": "blueprints/a.yaml:3: agents.x: bad\n1 error(s)",
            "problems": [
                {
                    "file": "blueprints/a.yaml",
                    "line": 3,
                    "path": "agents.x",
                    "message": "bad",
                    "severity": "error",
                }
            ],
        }
    )
