"""Asterisk's config file syntax: writing a value safely, and reading a file back.

Used by render (every value of `my_*.conf` goes through the writers here, and the rendered
text is read back with `parse` before anything is written) and by the engine at `up` (the
secrets include files pulled in by `#tryinclude`: `additions`).

What is writable, and how (Asterisk 23's main/config.c and the dialplan's argument parser):

- **Option values** (`option = value` in pjsip.conf, manager.conf, ari.conf): a newline,
  carriage return or NUL ends the line, so it can never be written; other control
  characters are refused too (no option of these files takes one). Asterisk strips blanks
  around a value, so leading or trailing blanks cannot be kept and are refused. `;` starts
  a comment, so it is written `\\;` (the reader drops that one backslash; any other
  backslash is kept as written, so no other escape is needed).
- **Dialplan arguments** (a value placed inside `App(...)` of extensions.conf, or in the
  `exten =>` line): besides the above, none of `,` (ends the argument), `(` `)` (end or nest
  the application's parentheses), `[` `]` (nest an argument), `$` (starts `${...}` or
  `$[...]` substitution), `"` (quotes), `\\` (escapes), `|` (the old argument separator),
  `;` (a comment), `{` `}` (a substitution's braces) may appear: each would end the
  argument or change its meaning at run time. There is no escape that survives both the
  file reader and the dialplan's substitution, so these values are refused, never escaped.
- **Section names** (`[name]`): none of `[ ] ( ) ; , = \\ "`, no blank, no control character.
- **Extensions** (what `exten => X,1,...` matches, also shown in the block's `NoOp`): digits
  with an optional leading `+`, or a pattern: `_`, then digits, `X Z N * # +` and `[...]`
  classes of digits and ranges, optionally ending in `.` or `!`. Brackets come in pairs
  and nothing else of the dialplan's special characters can appear.

Error messages name what is wrong, never the value (it may be a password); callers name the
field or secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from avrgen.errors import AvrgenError

__all__ = [
    "AsteriskSyntaxError",
    "ConfigFile",
    "Include",
    "Option",
    "Section",
    "UnsafeValueError",
    "additions",
    "config_problem",
    "config_value",
    "dialplan_arg",
    "dialplan_problem",
    "dialplan_step",
    "extension",
    "extension_problem",
    "parse",
    "section_name",
    "section_problem",
    "unescape",
]

# the dialplan's special characters (see the module docstring)
DIALPLAN_SPECIAL = ',()[]$"\\|;{}'
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DIALPLAN_SPECIAL = re.compile("[" + re.escape(DIALPLAN_SPECIAL) + "]")
_SECTION_SPECIAL = re.compile(r'[\[\]();,=\\"\s]')
_BLANKS = " \t\n\v\f\r"  # what Asterisk strips around names and values (C isspace())
_NAMED = {"\n": "a newline", "\r": "a carriage return", "\x00": "a NUL byte"}


class UnsafeValueError(ValueError):
    """A value that cannot be written into an Asterisk file; the message names why."""


class AsteriskSyntaxError(AvrgenError):
    """An Asterisk config text that does not parse; the message names the line."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}")


# -- writing ----------------------------------------------------------------------------------


def config_problem(value: str) -> str | None:
    """Why `value` cannot be an option value in an Asterisk config file, or None."""
    found = _CONTROL.search(value)
    if found is not None:
        char = found.group()
        return f"contains {_NAMED.get(char, f'a control character ({char!r})')}"
    if value != value.strip(_BLANKS):
        return "has leading or trailing blanks (Asterisk strips them)"
    return None


def config_value(value: object) -> str:
    """`value` as an option value: checked (config_problem), `;` written `\\;`."""
    text = str(value)
    problem = config_problem(text)
    if problem is not None:
        raise UnsafeValueError(problem)
    return text.replace(";", "\\;")


def dialplan_problem(value: str) -> str | None:
    """Why `value` cannot be placed into a dialplan application's argument, or None."""
    problem = config_problem(value)
    if problem is not None:
        return problem
    found = _DIALPLAN_SPECIAL.search(value)
    if found is not None:
        return (
            f"contains {found.group()!r}, which ends or changes a dialplan argument "
            f"(none of {DIALPLAN_SPECIAL} may appear)"
        )
    return None


def dialplan_arg(value: object) -> str:
    """`value` unchanged, once it is known to be safe inside a dialplan argument."""
    text = str(value)
    problem = dialplan_problem(text)
    if problem is not None:
        raise UnsafeValueError(problem)
    return text


_EXTENSION = re.compile(r"\+?[0-9]{1,32}|_(?:[0-9XZNxzn*#+]|\[[0-9-]+\]){1,40}[.!]?")


def extension_problem(value: str) -> str | None:
    """Why `value` cannot be an extension (see the module docstring), or None."""
    if _EXTENSION.fullmatch(value) is None:
        return "is neither digits (with an optional leading +) nor a pattern such as _X."
    return None


def extension(value: object) -> str:
    """`value` unchanged, once it is known to be an extension or pattern."""
    text = str(value)
    problem = extension_problem(text)
    if problem is not None:
        raise UnsafeValueError(problem)
    return text


def section_problem(name: str) -> str | None:
    """Why `name` cannot be a section name, or None."""
    if not name:
        return "is empty"
    found = _CONTROL.search(name) or _SECTION_SPECIAL.search(name)
    if found is not None:
        return f"contains {found.group()!r}, which a section name cannot hold"
    return None


def section_name(name: object) -> str:
    """`name` unchanged, once it is known to be a valid section name."""
    text = str(name)
    problem = section_problem(text)
    if problem is not None:
        raise UnsafeValueError(problem)
    return text


def additions(entries: Iterable[tuple[str, str, str]]) -> str:
    """The text of a file that adds options to sections defined elsewhere: for each
    (section, option, value), `[section](+)` and `option = value` (sections in the order
    first given; each value through config_value). What a `#tryinclude` pulls in."""
    by_section: dict[str, list[str]] = {}
    for section, option, value in entries:
        lines = by_section.setdefault(section_name(section), [])
        lines.append(f"{section_name(option)} = {config_value(value)}")
    blocks = [
        f"[{section}](+)\n" + "\n".join(lines) + "\n" for section, lines in by_section.items()
    ]
    return "\n".join(blocks)


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    name: str
    value: str  # unescaped: `\;` read as `;`
    line: int
    arrow: bool = False  # written `name => value` (exten, same, include)


@dataclass(frozen=True)
class Section:
    name: str
    line: int
    templates: tuple[str, ...] = ()  # `[name](tmpl,...)`: what it inherits from
    template: bool = False  # `(!)`: a template only
    additive: bool = False  # `(+)`: adds to an earlier section of that name
    options: tuple[Option, ...] = ()

    def values(self, name: str) -> list[str]:
        """Every value of option `name`, in file order."""
        return [o.value for o in self.options if o.name == name]

    def get(self, name: str) -> str | None:
        """The value of option `name` when it is given once (None when not given)."""
        found = self.values(name)
        if len(found) > 1:
            raise KeyError(f"option {name!r} is given {len(found)} times in [{self.name}]")
        return found[0] if found else None


@dataclass(frozen=True)
class Include:
    path: str
    line: int
    optional: bool  # #tryinclude: a missing file is no error


@dataclass(frozen=True)
class ConfigFile:
    sections: tuple[Section, ...] = ()
    includes: tuple[Include, ...] = ()
    # which section each include follows (None: before the first), by include index
    include_after: tuple[str | None, ...] = field(default=(), repr=False)

    def named(self, name: str) -> list[Section]:
        return [s for s in self.sections if s.name == name]

    def section(self, name: str) -> Section:
        """The one section called `name` (KeyError when there is none or several)."""
        found = self.named(name)
        if len(found) != 1:
            raise KeyError(f"[{name}] is defined {len(found)} times")
        return found[0]


_HEADER = re.compile(r"\[(?P<name>[^\]]*)\](?P<rest>.*)")
_INCLUDE = re.compile(r"#(?P<kind>include|tryinclude)\s+(?P<path>.+)")


def unescape(value: str) -> str:
    """A raw value as Asterisk reads it: `\\;` is `;` (other backslashes stay)."""
    return value.replace("\\;", ";")


def _strip_comment(text: str, in_block: bool) -> tuple[str, bool]:
    """The line without its comments, and whether a `;--` block comment is still open.
    `\\;` is not a comment (its backslash stays until unescape())."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if in_block:
            end = text.find("--;", i)
            if end < 0:
                return "".join(out), True
            i, in_block = end + 3, False
            continue
        char = text[i]
        if char == ";" and not (i > 0 and text[i - 1] == "\\"):
            if text.startswith(";--", i):
                in_block = True
                i += 3
                continue
            break
        out.append(char)
        i += 1
    return "".join(out), in_block


def parse(text: str) -> ConfigFile:
    """Read Asterisk config text: sections with their options, and the includes.

    Raises AsteriskSyntaxError naming the line of the first thing Asterisk would not read
    as meant: an option before any section, a line without `=`, a malformed section header,
    an unknown `#` directive, a block comment never closed.
    """
    sections: list[Section] = []
    includes: list[Include] = []
    after: list[str | None] = []
    current: dict[str, object] | None = None
    options: list[Option] = []
    in_block = False
    block_line = 0

    def close() -> None:
        if current is not None:
            sections.append(Section(options=tuple(options), **current))  # type: ignore[arg-type]

    number = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        was_block = in_block
        stripped, in_block = _strip_comment(raw, in_block)
        if in_block and not was_block:
            block_line = number
        line = stripped.strip(_BLANKS)
        if not line:
            continue
        if line.startswith("#"):
            found = _INCLUDE.fullmatch(line)
            if found is None:
                raise AsteriskSyntaxError(number, f"unknown directive {line.split()[0]!r}")
            path = found["path"].strip(_BLANKS)
            if len(path) >= 2 and path[0] == path[-1] == '"':
                path = path[1:-1]
            if not path:
                raise AsteriskSyntaxError(number, f"#{found['kind']} without a path")
            includes.append(Include(path, number, found["kind"] == "tryinclude"))
            after.append(None if current is None else str(current["name"]))
            continue
        if line.startswith("["):
            close()
            current, options = _header(line, number), []
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip(_BLANKS):
            raise AsteriskSyntaxError(
                number, "expected `[section]`, `option = value` or `#include`"
            )
        arrow = value.startswith(">")
        if arrow:
            value = value[1:]
        if current is None:
            raise AsteriskSyntaxError(
                number, f"option {name.strip(_BLANKS)!r} before any [section]"
            )
        options.append(Option(name.strip(_BLANKS), unescape(value.strip(_BLANKS)), number, arrow))
    if in_block:
        raise AsteriskSyntaxError(block_line, "block comment `;--` is never closed with `--;`")
    close()
    return ConfigFile(tuple(sections), tuple(includes), tuple(after))


def dialplan_step(option: Option) -> tuple[str | None, str, str, str]:
    """An `exten =>` or `same =>` line as (extension or None for `same`, priority,
    application, its argument text): `5001,1,NoOp(x)` -> ("5001", "1", "NoOp", "x")."""
    parts = option.value.split(",", 2 if option.name == "exten" else 1)
    if option.name == "exten" and len(parts) == 3:
        exten, priority, call = parts
    elif option.name == "same" and len(parts) == 2:
        exten, (priority, call) = None, parts
    else:
        raise AsteriskSyntaxError(option.line, f"not a dialplan step: {option.name} => ...")
    found = re.fullmatch(r"(?P<app>[A-Za-z][A-Za-z0-9_]*)\((?P<args>.*)\)", call.strip(_BLANKS))
    if found is None:
        raise AsteriskSyntaxError(option.line, "expected Application(arguments)")
    return exten, priority.strip(_BLANKS), found["app"], found["args"]


def _header(line: str, number: int) -> dict[str, object]:
    found = _HEADER.fullmatch(line)
    if found is None:
        raise AsteriskSyntaxError(number, "section header without its closing `]`")
    name, rest = found["name"].strip(_BLANKS), found["rest"].strip(_BLANKS)
    problem = section_problem(name)
    if problem is not None:
        raise AsteriskSyntaxError(number, f"section name {name!r} {problem}")
    templates: list[str] = []
    template = additive = False
    if rest:
        if not (rest.startswith("(") and rest.endswith(")")):
            raise AsteriskSyntaxError(number, f"unexpected {rest!r} after [{name}]")
        for item in (part.strip(_BLANKS) for part in rest[1:-1].split(",")):
            if item == "!":
                template = True
            elif item == "+":
                additive = True
            elif item and section_problem(item) is None:
                templates.append(item)
            else:
                raise AsteriskSyntaxError(number, f"invalid template name {item!r} in [{name}]")
    if additive and (template or templates):
        raise AsteriskSyntaxError(number, f"[{name}](+) adds to a section; it takes nothing else")
    return {
        "name": name,
        "line": number,
        "templates": tuple(templates),
        "template": template,
        "additive": additive,
    }
