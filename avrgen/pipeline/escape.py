"""The escaping filters: every value a template writes passes through one, for its format."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from avrgen.errors import TemplateError
from avrgen.fs import asterisk
from avrgen.model.mounts import DEFAULT_SOURCES, Mount, compose_source

_SAFE_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


_DOTENV_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "$": "$$"}


_DOTENV_RE = re.compile(r'[\\"\n\r\t$]')


_DOTENV_UNESCAPES = {v: k for k, v in _DOTENV_ESCAPES.items()}


_DOTENV_UNRE = re.compile(r'\\\\|\\"|\\n|\\r|\\t|\$\$')


# json.dumps(text, ensure_ascii=False) without building an encoder per call (same bytes)
_json_basestring = json.encoder.encode_basestring


# Characters JSON leaves raw but YAML must not see raw in a double-quoted scalar: C1 controls
# and DEL (not printable: the reader refuses them), NEL/LS/PS (line breaks: folded to a
# space), the BOM and non-characters. Each becomes a \uXXXX escape, which YAML reads back.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _json_string(text: str) -> str:
    """A JSON string literal that is also a YAML scalar reading back as exactly `text`."""
    encoded = _json_basestring(text)
    if _YAML_UNSAFE.search(encoded) is None:  # nearly always: a search alone, no sub()
        return encoded
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)


def compose_value(value: object) -> str:
    """A YAML scalar that compose reads back as exactly `value`."""
    return _json_string(str(value).replace("$", "$$"))


def yaml_value(value: object) -> str:
    """A YAML scalar for places compose does not interpolate (keys, comments)."""
    return _json_string(str(value))


def dotenv_value(value: object) -> str:
    """A double-quoted env-file value that compose reads back as exactly `value`."""
    return '"' + _DOTENV_RE.sub(lambda m: _DOTENV_ESCAPES[m.group()], str(value)) + '"'


def dotenv_decode(quoted: str) -> str:
    """The inverse of dotenv_value (used to check rendered env files)."""
    if len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
        raise ValueError("not a double-quoted value")
    value = quoted[1:-1]
    if "\\" not in value and "$" not in value:  # nothing escaped (most values): no sub()
        return value
    return _DOTENV_UNRE.sub(lambda m: _DOTENV_UNESCAPES[m.group()], value)


def secret_ref(name: str) -> str:
    """A compose reference that fails `up` with the secret's name when it is not set."""
    return json.dumps(secret_text(name))


def secret_text(name: str) -> str:
    """The compose interpolation of a secret, which fails `up` with its name when unset."""
    return f"${{{name}:?secret {name} is not set}}"


def volume_value(mount: Mount, sources: str = DEFAULT_SOURCES) -> str:
    """A mount in compose's short syntax (`HOST:CONTAINER:ro|rw`), as a YAML scalar: the host
    path relative to the compose file's folder with `$` doubled, or for a key file the
    interpolation of its secret, whose value is the host path at `up` (never written here)."""
    if mount.secret is not None:
        host = secret_text(mount.secret)
    else:
        host = compose_source(mount.source, sources).replace("$", "$$")
    mode = "ro" if mount.read_only else "rw"
    return _json_string(f"{host}:{mount.target.replace('$', '$$')}:{mode}")


def folder_ref(name: str) -> str:
    """A compose reference to the host folder `avrgen up` sets (the telephony secrets)."""
    return json.dumps(f"${{{name}:?set by avrgen up: the folder of the telephony secrets}}")


def _asterisk_filter(write: Callable[[object], str], what: str) -> Callable[[object], str]:
    """An Asterisk writer of fs/asterisk.py as a template filter: a value it refuses is a
    TemplateError naming the value (only names, numbers and hosts reach these filters:
    secrets never do)."""

    def write_checked(value: object) -> str:
        try:
            return write(value)
        except asterisk.UnsafeValueError as exc:
            raise TemplateError(f"refusing to write {str(value)!r} as {what}: it {exc}") from None

    return write_checked


asterisk_value = _asterisk_filter(asterisk.config_value, "an Asterisk option value")
dialplan_value = _asterisk_filter(asterisk.dialplan_arg, "a dialplan argument")
section_value = _asterisk_filter(asterisk.section_name, "an Asterisk section name")
exten_value = _asterisk_filter(asterisk.extension, "a dialplan extension")


def safe_key(value: object) -> str:
    """Identifiers (env names, roles) are emitted bare, so they must be plain."""
    text = str(value)
    if not _SAFE_KEY.fullmatch(text):  # not match(): `$` also matches before a last "\n"
        raise TemplateError(f"refusing to emit {text!r} as a key")
    return text


def remembered(escape: Callable[[Any], str]) -> Callable[[Any], str]:
    """`escape`, remembering its last few thousand results: values repeat across agents (env
    names, labels, images, the network), and a render of 1,000 agents makes 120,000 calls."""
    cached = lru_cache(maxsize=4096, typed=True)(escape)  # typed: 1, 1.0 and True differ

    def escape_remembered(value: Any) -> str:
        try:
            return cached(value)
        except TypeError:  # unhashable (a list, from a custom template): not remembered
            return escape(value)

    return escape_remembered
