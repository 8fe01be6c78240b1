"""One error base class; every user error carries its exit code and a message fit to print."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Problem:
    """One finding about a blueprint, located at a file, a line and a field path."""

    file: str
    line: int
    path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {shown(self.path)}:" if self.path else ""
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}:{field} {prefix}{shown(self.message)}"


def shown(text: str) -> str:
    """`text` fit for a terminal and for one line: each character a terminal acts on (ESC, a
    line break, another control) as its Python escape. Keys in a blueprint may hold any, and
    a library's message may quote them raw."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class AvrgenError(Exception):
    """A user error: printed as its message, never as a traceback."""

    exit_code = 1


class BlueprintError(AvrgenError):
    """The blueprints are invalid; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in self.problems) + f"\n{len(errors)} error(s)")


class PlanError(AvrgenError):
    """The blueprints are valid but cannot be planned (for example, a port range is full)."""


class TemplateError(AvrgenError):
    """A template failed to render or rendered something unsafe."""


class StaleOutputError(AvrgenError):
    """`render --check` found output/ or the lock out of date."""


class WriteError(AvrgenError):
    """The output could not be written; the old output is left as it was."""


class ComposeError(AvrgenError):
    """Docker or docker compose failed."""


class SecretsError(AvrgenError):
    """A secrets file cannot be read, or a secret an agent needs has no value."""


class HostPathError(AvrgenError):
    """A host path an agent mounts is missing, or not the file or folder it must be."""


@dataclass(frozen=True)
class HostFailure:
    """One host of the settings' `hosts` that failed a command."""

    host: str | None  # None: the default engine
    message: str  # names the host and its endpoint


class HostsUnreachable(ComposeError):
    """Some hosts failed: `partial` is what the others gave (the command's own result),
    told before this error."""

    def __init__(self, failures: Sequence[HostFailure], partial: object) -> None:
        lines = [f.message for f in failures]
        lines.append(f"{len(failures)} host(s) failed; the results of the other hosts stand")
        super().__init__("\n".join(lines))
        self.failures = list(failures)
        self.partial = partial
