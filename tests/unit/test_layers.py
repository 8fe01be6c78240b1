"""Rules of the package's layers that import-linter cannot express (CONTRIBUTING.md)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

PURE_STAGES = ("validate", "plan", "render", "escape", "checks", "swarm", "yaml_reader")


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py"))


def private_uses(path: Path) -> Iterator[str]:
    """`from avrgen.x import _name`, and `module._name` on an imported avrgen module."""
    tree = ast.parse(path.read_text(), str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("avrgen"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield f"{node.lineno}: from {node.module} import {alias.name}"
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules.update(a.asname or a.name for a in node.names if a.name.startswith("avrgen"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
        ):
            yield f"{node.lineno}: {node.value.id}.{node.attr}"


@pytest.mark.parametrize(
    "path", python_files("avrgen", "tests", "benchmarks"), ids=lambda p: str(p.relative_to(REPO))
)
def test_no_module_uses_another_modules_private_names(path: Path) -> None:
    assert list(private_uses(path)) == []


def pure_stage_files() -> list[Path]:
    pipeline = REPO / "avrgen" / "pipeline"
    found = [p for p in python_files("avrgen/pipeline") if p.relative_to(pipeline).parts[0]
             .removesuffix(".py") in PURE_STAGES]  # fmt: skip
    assert len(found) >= len(PURE_STAGES)
    return found


@pytest.mark.parametrize("path", pure_stage_files(), ids=lambda p: p.name)
def test_the_pure_stages_read_no_environment(path: Path) -> None:
    """validate, plan and render are functions of their input: the environment is read by
    the CLI and the engine, and passed in."""
    tree = ast.parse(path.read_text(), str(path))
    names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & {"environ", "getenv", "environb", "putenv"}


def test_a_private_use_is_found(tmp_path: Path) -> None:
    """The scan itself finds both forms (it would pass vacuously otherwise)."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from avrgen.pipeline import load\nfrom avrgen.fs.lock import _x\nload._ODD\n"
    )
    assert list(private_uses(sample)) == ["2: from avrgen.fs.lock import _x", "3: load._ODD"]
