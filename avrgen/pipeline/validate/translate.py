"""pydantic's errors in avrgen's words: the field path and a message naming the culprit
(never echoing an env value, which may be a literal secret)."""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from avrgen.model.names import suggest

_PATTERN_MESSAGES = {
    # by the field's dotted path, or by its last step for env keys and secret names
    "name": "agent name must be 1-40 of a-z, 0-9 and '-', starting with a letter or digit",
    "set": "set id must be 1-40 of a-z, 0-9 and '-', starting with a letter or digit",
    "network.name": "network name must be 1-63 of letters, digits, '_', '.' and '-', "
    "starting with a letter or digit",
    "[key]": "invalid env name: expected letters, digits and _, not starting with a digit",
    "secret": "invalid secret name: expected letters, digits and _, not starting with a digit",
    # swarm placement and resources (target swarm), by the last step
    "labels[key]": "invalid node label name: expected letters, digits, '.', '_' and '-'",
    "labels[value]": "invalid node label value: expected letters, digits and . _ : / -",
    "node": "invalid node name: expected a hostname (letters, digits, '.' and '-')",
    "cpus": 'invalid cpus: expected a number of CPUs as text, like "0.5" or "2"',
    "memory": "invalid memory: expected a size like 512M or 1G",
    "delay": "invalid duration: expected a number and a unit (ms, s, m, h), like 5s",
    "window": "invalid duration: expected a number and a unit (ms, s, m, h), like 2m",
    # `hosts:` (by the last step) and an agent's `host:`
    "host": "invalid host name: expected 1-63 of a-z, 0-9, '_', '.' and '-', starting with "
    "a letter or digit",
    "docker": "invalid Docker endpoint: expected ssh://USER@HOST, tcp://HOST:PORT, "
    "unix:///PATH or the name of a docker context",
}


# the same, for fields whose meaning depends on the document's kind: by (model, dotted path)
_SIP_NAME = "expected 1-40 of letters, digits, '_', '.' and '-', starting with a letter or digit"
_KIND_PATTERN_MESSAGES = {
    ("Number", "number"): "a number is digits with an optional leading + (like +4930123 or "
    "5001) or an Asterisk pattern: _ then digits, X, Z, N, [1-5] classes, ending in . or ! "
    "(like _0X.)",
    ("Number", "agent"): _PATTERN_MESSAGES["name"],
    ("Number", "phone"): f"invalid phone name: {_SIP_NAME}",
    ("Number", "trunk"): f"invalid trunk name: {_SIP_NAME}",
    ("Phone", "name"): f"invalid phone name: {_SIP_NAME}",
    ("Trunk", "name"): f"invalid trunk name: {_SIP_NAME}",
    ("Trunk", "username"): f"invalid username: {_SIP_NAME}",
    ("Trunk", "register"): "register is the carrier's host name or IPv4 address, optionally "
    "with :port (like sip.carrier.example:5060)",
    ("Settings", "telephony.context"): "a context is 1-79 of letters, digits, '_' and '-', "
    "starting with a letter or digit",
    ("Settings", "telephony.asterisk.ami.username"): f"invalid AMI user name: {_SIP_NAME}",
}


def translate(model: type[BaseModel], error: ErrorDetails) -> tuple[tuple[Any, ...], str]:
    """The field path (in the document) and avrgen's message for one pydantic error."""
    loc = tuple(error["loc"])
    kind = error["type"]
    path = tuple(p for p in loc if p != "[key]")
    if kind == "extra_forbidden":
        name = str(loc[-1])
        known = _fields_at(model, loc[:-1])
        message = f"unknown field {name!r}{suggest(name, known)}"
        if known:
            message += f"; expected one of: {', '.join(known)}"
    elif kind == "missing":
        message = "required field is missing"
    elif kind == "literal_error":
        given = error["input"]
        expected = error["ctx"]["expected"]
        message = f"expected {expected}, got {given!r}"
        choices = re.findall(r"'([^']*)'", expected)
        message += suggest(str(given), choices)
    elif kind == "string_pattern_mismatch":
        last = str(loc[-1])
        key = last if last in ("[key]", "secret") else ".".join(str(p) for p in loc)
        if "labels" in loc:  # node labels of a placement: a label's name or value
            key = "labels[key]" if last == "[key]" else "labels[value]"
        if loc[:1] == ("hosts",) and last == "[key]":  # the name of one of `hosts`
            key = "host"
        message = (
            _KIND_PATTERN_MESSAGES.get((model.__name__, key))
            or _PATTERN_MESSAGES.get(key)
            or _PATTERN_MESSAGES.get(last, error["msg"])
        )
        if "env" not in loc or loc[-1] == "[key]":
            message += f", got {error['input']!r}"
    else:
        message = error["msg"].removeprefix("Value error, ")
        # never echo an env value or a password: either may be a literal secret
        if not {"env", "password"} & set(loc) and isinstance(error.get("input"), str | int):
            message += f", got {error['input']!r}"
    return path, message


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found by walking `loc` from `model` (for suggestions)."""
    current: Any = model
    steps = list(loc)
    while steps:
        step = steps.pop(0)
        if typing.get_origin(current) is dict:  # `env: {KEY: value}`: step over the key
            current = _unwrap(typing.get_args(current)[1])
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(str(step))
        if info is None:
            return []
        current = _unwrap(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        # a field's YAML name: its alias where it has one (settings' `set`)
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """`X | None` -> X and `str | Secret` -> Secret, so the walk can continue into sub-models."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
        if len(members) == 1:
            return members[0]
        return models[0] if len(models) == 1 else annotation
    return annotation
