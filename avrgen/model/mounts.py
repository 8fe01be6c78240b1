"""What a container mounts besides its image: the blueprint's fields (a provider's
`config.tools`, `config.volumes` and `config.files`, an agent's `core.volumes`) and the
plan's Mount, one mount of one container as render writes it and `up` checks it.

Host paths are checked here one at a time (their text); whether a relative one stays in
the blueprint folder, and what collides with what, is validate's (pipeline/validate/mounts.py).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    WithJsonSchema,
)

from avrgen.model.fields import ENV_NAME_RE, EnvName

# Where AVR's provider images read tools (AVR-PLATFORM.md, "Container wiring"): the
# operator's function-calling tools, and the built-in ones (avr_transfer, avr_hangup) that a
# mount over them would hide.
TOOLS_PATH = "/usr/src/app/tools"
BUILTIN_TOOLS_PATH = "/usr/src/app/avr_tools"

# a colon ends a part of compose's short syntax; control characters have no place in a path
_UNSAFE = re.compile(r"[:\x00-\x1f\x7f]")


def _path_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a {what} as text")
    if _UNSAFE.search(value):
        raise ValueError(f"a {what} may hold no ':' and no control character")
    return value


def container_path(value: Any) -> Any:
    """An absolute path inside the container, normalized (`/a//b/` -> `/a/b`)."""
    text = _path_text(value, "container path")
    if not text.startswith("/"):
        raise ValueError("expected an absolute container path (starting with /)")
    normal = re.sub("/+", "/", posixpath.normpath(text))
    if normal == "/":
        raise ValueError("cannot mount over the container's root folder /")
    return normal


def host_path(value: Any) -> Any:
    """A host path as written: relative to the blueprint file that holds it, or absolute."""
    text = _path_text(value, "host path")
    if text.startswith("~"):
        raise ValueError(
            "~ is the home folder of whoever runs docker: write a path relative to this "
            "blueprint file (./...) or an absolute one"
        )
    return text


def is_relative(path: str) -> bool:
    return not path.startswith("/")


# The blueprint folder as seen from the output folder, when both sit side by side.
DEFAULT_SOURCES = "../blueprints"


def compose_source(source: str, sources: str = DEFAULT_SOURCES) -> str:
    """A host path (relative to the blueprint folder, or absolute) as the compose file in
    output/<agent>/ names it: relative to that file's folder, where compose resolves it.
    `sources` is the blueprint folder relative to the output folder. Never absolute for a
    relative path: the same blueprints give the same bytes wherever the checkout is."""
    if not is_relative(source):
        return source
    # from output/<agent>/ up to the output folder, then to the blueprint folder: always a
    # leading `..`, which compose reads as a path (a bare name would be a docker volume)
    return posixpath.normpath(posixpath.join("..", sources, source))


ContainerPath = Annotated[
    str,
    BeforeValidator(container_path),
    WithJsonSchema({"type": "string", "pattern": r"^/[^:]+$"}),
]
HostPath = Annotated[
    str,
    BeforeValidator(host_path),
    WithJsonSchema({"type": "string", "pattern": r"^[^:~][^:]*$"}),
]

VOLUME_SYNTAX = "HOST:CONTAINER[:ro|rw], like ./sounds:/usr/src/app/sounds:ro"


class Volume(BaseModel):
    """One entry of `volumes:` in compose's short syntax: a host folder or file (relative to
    the blueprint file, or absolute) at a container path, read-write unless `:ro`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    source: HostPath
    target: ContainerPath
    read_only: bool = False

    def __str__(self) -> str:
        return f"{self.source}:{self.target}:{'ro' if self.read_only else 'rw'}"


def _volume(value: Any) -> Any:
    if isinstance(value, Volume | dict):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected {VOLUME_SYNTAX}")
    parts = value.split(":")
    if len(parts) == 1:
        raise ValueError(f"an anonymous volume is not supported; expected {VOLUME_SYNTAX}")
    if len(parts) > 3:
        raise ValueError(f"too many ':'; expected {VOLUME_SYNTAX}")
    source, target, *mode = parts
    if mode and mode[0] not in ("ro", "rw"):
        raise ValueError(f"mode {mode[0]!r} is not ro or rw; expected {VOLUME_SYNTAX}")
    # checked here, not in the fields: the problem is the entry's, at its line
    source, target = host_path(source), container_path(target)
    if is_relative(source) and not (source in (".", "..") or source.startswith(("./", "../"))):
        raise ValueError(
            f"host path {source!r} is the name of a docker volume, which avrgen does not "
            f"manage; a folder beside the blueprint file is ./{source}"
        )
    return {"source": source, "target": target, "read_only": mode == ["ro"]}


VolumeSpec = Annotated[
    Volume,
    BeforeValidator(_volume),
    PlainSerializer(str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(\.{1,2}|\.{1,2}/[^:]*|/[^:]*):/[^:]+(:(ro|rw))?$",
            "description": VOLUME_SYNTAX,
        }
    ),
]


class SecretFile(BaseModel):
    """`{secret_file: NAME}`: a key file whose host path is the secret NAME's value at `up`;
    neither the path nor the file's bytes are written to output/."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    secret_file: EnvName


SecretFileSchema = {
    "type": "object",
    "properties": {"secret_file": {"type": "string", "pattern": ENV_NAME_RE.pattern}},
    "required": ["secret_file"],
    "additionalProperties": False,
}

# `config.files`: {container path: {secret_file: NAME}}
Files = dict[ContainerPath, Annotated[SecretFile, WithJsonSchema(SecretFileSchema)]]

# What the host path must be at `up`: the tools a folder, a key file a file, a volume either.
HostKind = Literal["folder", "file", "file or folder"]


@dataclass(frozen=True)
class Mount:
    """One mount of one container, fully decided.

    `source` is the host path relative to the blueprint folder (posix, normalized) or
    absolute; a key file has none: its host path is the value of `secret` at `up`.
    `field` is where the blueprint set it (`config.tools`, `core.volumes[0]`, ...).
    """

    target: str
    field: str
    kind: HostKind
    read_only: bool = True
    source: str = ""
    secret: str | None = None
