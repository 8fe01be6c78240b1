"""The content hash of each rendered service, recorded on its container as a label.

The compose template gives every service the label `avrgen.content-hash` with a
placeholder value; once the file is rendered, the placeholder becomes the sha256 of the
service as compose reads it (parsed back: YAML 1.2, keys sorted, with the placeholder in
place, so the hash does not depend on itself). A container whose label equals the hash of
the service rendered now was created from what the blueprints say now, but for what the
compose file only names: the env file's values and the secrets (compared with the
container's environment), and the image a tag names (compared by id: a tag can move
without any file changing); engine/drift.py compares those from the same `docker inspect`.
The env file is left out of the hash so that a changed value rewrites only its env file
(as `plan` shows). A template without the label gives no hash, and `status` asks compose.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from avrgen.model.labels import CONTENT_HASH_LABEL

PREFIX = "avrgen-content-hash:"  # the placeholder: this and the service's role
_VERSION = b"avrgen content hash 1\0"


def placeholder(role: str) -> str:
    """What the template writes as the label's value, replaced by fill()."""
    return PREFIX + role


def service_hash(service: Mapping[str, Any]) -> str:
    """sha256 of a parsed service, its keys sorted."""
    digest = hashlib.sha256(_VERSION)
    digest.update(json.dumps(service, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


def fill(text: str, data: Any) -> str:
    """The rendered compose file `text` (parsed: `data`) with each service's placeholder
    replaced by its hash. A service without the placeholder keeps what its template wrote."""
    for role, service in (data.get("services") or {}).items():
        labels = service.get("labels") if isinstance(service, dict) else None
        if isinstance(labels, dict) and labels.get(CONTENT_HASH_LABEL) == placeholder(role):
            value = service_hash(service)
            text = text.replace(json.dumps(placeholder(role)), json.dumps(value), 1)
    return text


def recorded(data: Any) -> dict[str, str]:
    """Role -> content hash of each service of a parsed compose file that has one."""
    found: dict[str, str] = {}
    for role, service in (data.get("services") or {}).items():
        labels = service.get("labels") if isinstance(service, dict) else None
        value = labels.get(CONTENT_HASH_LABEL) if isinstance(labels, dict) else None
        if isinstance(value, str) and not value.startswith(PREFIX):
            found[role] = value
    return found


# the lines render writes (templates/docker-compose.yml.j2, then fill()): a service's key
# two spaces in under `services:`, its label six spaces in, double-quoted
_SERVICE_LINE = re.compile(r'  "?([A-Za-z0-9_.-]+)"?:')
_HASH_LINE = re.compile(r' {6}"' + re.escape(CONTENT_HASH_LABEL) + r'": "([0-9a-f]{64})"')


def recorded_lines(text: str) -> dict[str, str] | None:
    """What recorded() finds in a compose file laid out as render writes it, read from its
    lines without parsing it; None when the label appears where these lines do not say
    (another layout: parse it)."""
    found: dict[str, str] = {}
    role: str | None = None
    in_services = False
    for line in text.splitlines():
        if line and not line[0].isspace():
            in_services, role = line.rstrip() == "services:", None
        elif in_services and (service := _SERVICE_LINE.fullmatch(line)):
            role = service.group(1)
        elif in_services and role is not None and (label := _HASH_LINE.fullmatch(line)):
            found[role] = label.group(1)
    return found if len(found) == text.count(f'"{CONTENT_HASH_LABEL}"') else None
