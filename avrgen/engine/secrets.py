"""Secrets for `avrgen up`: read from the environment and a dotenv file, never written or shown.

A secret is `{secret: NAME}` in a blueprint; the rendered compose file references it as
`${NAME:?...}`, and docker compose resolves it from the environment of the process that
runs it. avrgen only decides which values that process gets: the value in the environment
wins over the one in `--secrets-file` (as docker compose's own shell-over-.env rule), an
empty value counts as missing (compose's `:?` refuses it too), and a missing secret fails
before any container starts, naming the secret and every agent that needs it.

Error messages name files, lines and secret names, never a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from avrgen.errors import SecretsError
from avrgen.fs.dotenv import read_secrets_file

if TYPE_CHECKING:  # pydantic's models: not for a listing
    from avrgen.model.plan import AgentPlan


@dataclass(frozen=True)
class Secrets:
    """The value of every secret some agents need; repr never shows a value."""

    values: Mapping[str, str]

    def __repr__(self) -> str:
        return f"Secrets({sorted(self.values)})"

    def for_agent(self, agent: AgentPlan) -> dict[str, str]:
        return {name: self.values[name] for name in sorted(agent.secrets)}

    def redact(self, text: str) -> str:
        """`text` with every secret value replaced by `***` (for docker's own messages)."""
        return redact(text, self.values.values())


def redact(text: str, values: Iterable[str]) -> str:
    """`text` with each of `values` replaced by `***`, the longest first (so a secret that
    contains another is hidden whole). Values shorter than three characters stay: hiding
    every `1` or `on` would garble the message and tell little about the secret."""
    for value in sorted(set(values), key=len, reverse=True):
        if len(value) >= 3:
            text = text.replace(value, "***")
    return text


def resolve_secrets(
    agents: Iterable[AgentPlan],
    environ: Mapping[str, str],
    secrets_file: Path | None = None,
    others: Mapping[str, Iterable[str]] | None = None,
) -> Secrets:
    """The secrets `agents` need (and `others`: secret name -> who needs it besides, such
    as `telephony`), or one error naming every missing one and who needs it."""
    needed: dict[str, list[str]] = {}
    for agent in agents:
        for name in sorted(agent.secrets):
            needed.setdefault(name, []).append(agent.name)
    for name, users in (others or {}).items():
        needed.setdefault(name, []).extend(users)
    from_file = read_secrets_file(secrets_file) if secrets_file is not None else {}
    values: dict[str, str] = {}
    missing: dict[str, list[str]] = {}
    for name, users in needed.items():
        value = environ.get(name) or from_file.get(name) or ""
        if value:
            values[name] = value
        else:
            missing[name] = users
    if missing:
        where = "the environment" + (f" or {secrets_file}" if secrets_file is not None else "")
        lines = [
            f"  {name} (needed by {', '.join(sorted(set(names)))})"
            for name, names in sorted(missing.items())
        ]
        hint = "" if secrets_file is not None else " or in a --secrets-file"
        raise SecretsError(
            f"{len(missing)} secret(s) not set in {where}; nothing was started:\n"
            + "\n".join(lines)
            + f"\nset them in the environment{hint}"
        )
    return Secrets(values)
