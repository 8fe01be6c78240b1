"""Which files of a blueprint folder are blueprints: found without PyYAML, for the render
cache's key (a render whose cache says nothing changed parses no YAML)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from avrgen.errors import BlueprintError, Problem


def blueprint_files(folder: Path) -> list[Path]:
    """Every *.yaml / *.yml below `folder`, recursively, in sorted path order."""
    if not folder.is_dir():
        raise BlueprintError([Problem(str(folder), 0, "", "blueprint folder not found")])
    root = folder.resolve()
    found = []
    problems: list[Problem] = []
    for path in _walk(folder, root, set(), problems):
        if path.suffix in (".yaml", ".yml"):
            found.append(path)
    if problems:
        raise BlueprintError(problems)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _walk(folder: Path, root: Path, seen: set[Path], problems: list[Problem]) -> Iterator[Path]:
    """Files below `folder`; symlinks are followed only while they stay inside `root`.

    A link that leaves the blueprint folder, a link loop or a dangling link is an error
    naming the link: a blueprint folder from someone else's branch must not make avrgen
    read (and quote in errors) files elsewhere on the machine.
    """
    real = folder.resolve()
    if real in seen:
        if folder.is_symlink() and folder.parent.resolve().is_relative_to(real):
            problems.append(Problem(folder.as_posix(), 0, "", "symlink loop; not followed"))
        return  # else: the same folder under a second name, already read
    seen.add(real)
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            blueprint = entry.suffix in (".yaml", ".yml")
            try:
                target = entry.resolve(strict=True)
            except (OSError, RuntimeError):  # dangling, or a loop of file links
                if blueprint:
                    problems.append(Problem(entry.as_posix(), 0, "", "broken symlink"))
                continue
            if not (blueprint or target.is_dir()):
                continue  # a link to a README or the lock: not a blueprint, not read here
            if not target.is_relative_to(root):
                message = f"symlink leads outside the blueprint folder (to {target}); not read"
                problems.append(Problem(entry.as_posix(), 0, "", message))
                continue
        if entry.is_dir():
            yield from _walk(entry, root, seen, problems)
        elif entry.is_file():
            yield entry
