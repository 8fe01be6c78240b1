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

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from avrgen.errors import AvrgenError
from avrgen.plan import AgentPlan

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


class SecretsError(AvrgenError):
    """A secrets file cannot be read, or a secret an agent needs has no value."""


def read_secrets_file(path: Path) -> dict[str, str]:
    """Parse a dotenv file: `KEY=value`, `export KEY=value`, `#` comments, quoted values.

    Unquoted values end at ` #` and are stripped; 'single quotes' keep their text as it
    is; "double quotes" understand \\n \\t \\r \\" \\\\ \\$ and may span lines. No
    `${VAR}` interpolation: a secret is the text written.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SecretsError(f"{path}: cannot read the secrets file: {reason}") from None
    values: dict[str, str] = {}
    lines = text.replace("\r\n", "\n").split("\n")  # not splitlines(): \u2028 may be in a value
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, sep, rest = line.partition("=")
        key = key.strip()
        if not sep or not _NAME.fullmatch(key):
            raise SecretsError(f"{path}:{number}: expected NAME=value")
        rest = rest.lstrip()
        if rest[:1] == "'":
            end = rest.find("'", 1)
            if end < 0:
                raise SecretsError(f"{path}:{number}: {key}: unterminated single quote")
            value, tail = rest[1:end], rest[end + 1 :]
        elif rest[:1] == '"':
            value, tail, index = _double_quoted(path, number, key, rest[1:], lines, index)
        else:
            value, tail = rest.split(" #", 1)[0].strip(), ""
        if tail.strip() and not tail.strip().startswith("#"):
            raise SecretsError(f"{path}:{number}: {key}: unexpected text after the quoted value")
        values[key] = value
    return values


def _double_quoted(
    path: Path, number: int, key: str, rest: str, lines: list[str], index: int
) -> tuple[str, str, int]:
    out: list[str] = []
    text = rest
    while True:
        pos = 0
        while pos < len(text):
            char = text[pos]
            if char == "\\" and pos + 1 < len(text):
                nxt = text[pos + 1]
                out.append(_ESCAPES.get(nxt, "\\" + nxt))
                pos += 2
            elif char == '"':
                return "".join(out), text[pos + 1 :], index
            else:
                out.append(char)
                pos += 1
        if index >= len(lines):
            raise SecretsError(f"{path}:{number}: {key}: unterminated double quote")
        out.append("\n")
        text = lines[index]
        index += 1


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
        for value in sorted(set(self.values.values()), key=len, reverse=True):
            if len(value) >= 3:
                text = text.replace(value, "***")
        return text


def resolve_secrets(
    agents: Iterable[AgentPlan],
    environ: Mapping[str, str],
    secrets_file: Path | None = None,
) -> Secrets:
    """The secrets `agents` need, or one error naming every missing one and its agents."""
    agents = list(agents)
    from_file = read_secrets_file(secrets_file) if secrets_file is not None else {}
    values: dict[str, str] = {}
    missing: dict[str, list[str]] = {}
    for agent in agents:
        for name in sorted(agent.secrets):
            value = environ.get(name) or from_file.get(name) or ""
            if value:
                values[name] = value
            else:
                missing.setdefault(name, []).append(agent.name)
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
