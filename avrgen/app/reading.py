"""The default engine read from the start of a command that lists or compares its
containers (`ps`, `status`): the engine answers while the command imports avrgen's models
and plans the blueprints, which is most of its time."""

from __future__ import annotations

from avrgen.engine.containers import Snapshot
from avrgen.engine.docker import Engine


def read_default_engine() -> Snapshot:
    """Every avrgen container of the default engine, being read (nothing of pydantic's or
    the pipeline's is imported for it)."""
    return Snapshot(Engine())
