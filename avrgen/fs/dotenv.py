"""The secrets file: the dotenv dialect that `up --secrets-file` reads and `import` writes.

One line a secret, `NAME=value`, as docker compose's `--env-file` reads it too:

- `export NAME=value` is the same as `NAME=value`; blank lines and `# comments` are skipped;
  a leading UTF-8 byte order mark is ignored (editors on Windows write one).
- an unquoted value ends at ` #` and is stripped;
- a 'single-quoted' value is its text as it is;
- a "double-quoted" value understands \\n \\t \\r \\" \\\\ \\$ and may span lines.

No `${VAR}` interpolation: a secret is the text written. The writer quotes every value so
that this reader (and docker compose) gives it back exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from avrgen.errors import SecretsError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BOM = "\ufeff"

# backslash escapes in "double quotes": what the reader decodes is what the writer encodes
_UNESCAPE = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}
_ESCAPE = {char: "\\" + code for code, char in _UNESCAPE.items()}


# -- reading ---------------------------------------------------------------------------------


def read_secrets_file(path: Path) -> dict[str, str]:
    """The secrets in the file at `path`; a SecretsError names the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SecretsError(f"{path}: cannot read the secrets file: {reason}") from None
    return parse_secrets(text, str(path))


def parse_secrets(text: str, source: str) -> dict[str, str]:
    """The secrets in `text`, read from `source` (named in errors, with the line)."""
    # split on \n only, not splitlines(): \u2028 and the like may be part of a value
    lines = text.removeprefix(_BOM).replace("\r\n", "\n").split("\n")
    values: dict[str, str] = {}
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
        where = f"{source}:{number}"
        if not sep or not _NAME.fullmatch(key):
            raise SecretsError(f"{where}: expected NAME=value")
        rest = rest.lstrip()
        if rest[:1] == "'":
            end = rest.find("'", 1)
            if end < 0:
                raise SecretsError(f"{where}: {key}: unterminated single quote")
            value, after = rest[1:end], rest[end + 1 :]
        elif rest[:1] == '"':
            value, after, index = _double_quoted(rest[1:], lines, index, f"{where}: {key}")
        else:
            value, after = rest.split(" #", 1)[0].strip(), ""
        if after.strip() and not after.strip().startswith("#"):
            raise SecretsError(f"{where}: {key}: unexpected text after the quoted value")
        values[key] = value
    return values


def _double_quoted(text: str, lines: list[str], index: int, what: str) -> tuple[str, str, int]:
    """The value that `text` opens (after its `"`), read on into `lines` from `index` until
    the closing quote: (value, the text after the quote, the index of the next line)."""
    out: list[str] = []
    while True:
        pos = 0
        while pos < len(text):
            char = text[pos]
            if char == "\\" and pos + 1 < len(text):
                code = text[pos + 1]
                out.append(_UNESCAPE.get(code, "\\" + code))
                pos += 2
            elif char == '"':
                return "".join(out), text[pos + 1 :], index
            else:
                out.append(char)
                pos += 1
        if index >= len(lines):
            raise SecretsError(f"{what}: unterminated double quote")
        out.append("\n")
        text = lines[index]
        index += 1


# -- writing ---------------------------------------------------------------------------------


def secret_line(name: str, value: str) -> str:
    """`NAME='value'` (read literally by docker compose and `avrgen up --secrets-file`), or
    double-quoted with backslash escapes when the value holds a quote or a line break."""
    if "'" not in value and "\n" not in value and "\r" not in value:
        return f"{name}='{value}'\n"
    return f'{name}="' + "".join(_ESCAPE.get(c, c) for c in value) + '"\n'


def secrets_text(secrets: Mapping[str, str]) -> str:
    """A secrets file holding `secrets`, in name order."""
    return "".join(secret_line(name, value) for name, value in sorted(secrets.items()))
