"""Where each blueprint set that ran on this server lives: `<state>/sets/<id>.json`
(its blueprint and output folders, absolute), written by `up`, read to name the set that
holds an agent's containers. Outside output/ and git: the rendered files stay the same
bytes on every machine."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from avrgen.fs.atomic import write_atomic
from avrgen.fs.state import private_dir
from avrgen.model.names import SET_ID_RE


@dataclass(frozen=True)
class SetRecord:
    blueprints: str
    output: str


def record_set(state_dir: Path, set_id: str, blueprints: Path, output: Path) -> None:
    """Remember where set `set_id` lives; a state folder that cannot be written only
    leaves the set unnamed in others' messages (never fails an `up`)."""
    body = {"blueprints": str(blueprints.resolve()), "output": str(output.resolve())}
    data = (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()
    path = state_dir / "sets" / f"{set_id}.json"
    with contextlib.suppress(OSError):
        if not path.is_file() or path.read_bytes() != data:
            write_atomic(private_dir(path.parent) / path.name, data)


def known_set(state_dir: Path, set_id: str) -> SetRecord | None:
    """Where set `set_id` lives, as its last `up` here recorded (None: unknown here)."""
    if not SET_ID_RE.match(set_id):
        return None
    try:
        data = json.loads((state_dir / "sets" / f"{set_id}.json").read_text(encoding="utf-8"))
        return SetRecord(str(data["blueprints"]), str(data["output"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
