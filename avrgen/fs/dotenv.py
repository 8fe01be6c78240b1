"""The secrets file's dotenv dialect: what `up --secrets-file` reads and `import` writes."""

from __future__ import annotations

import re
from pathlib import Path

from avrgen.errors import SecretsError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


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


_DQ_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "$": "\\$"}


def secret_line(name: str, value: str) -> str:
    """`NAME='value'` (read literally by docker compose and `avrgen up --secrets-file`), or
    double-quoted with backslash escapes when the value holds a quote or a line break."""
    if "'" not in value and "\n" not in value and "\r" not in value:
        return f"{name}='{value}'\n"
    return f'{name}="' + "".join(_DQ_ESCAPES.get(c, c) for c in value) + '"\n'


def secrets_text(secrets: dict[str, str]) -> str:
    return "".join(secret_line(name, value) for name, value in sorted(secrets.items()))
