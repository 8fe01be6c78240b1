"""Images on an engine: what each local image reference is (its id, its env defaults),
read at once for drift, and the images an agent's containers actually run (the engine's
image id of each container, whatever its tag points at now, and that image's registry
digests) for a release's record (avrgen/app/releases.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from avrgen.engine.containers import is_managed, matching
from avrgen.engine.differences import parse_env
from avrgen.engine.docker import Engine
from avrgen.errors import ComposeError
from avrgen.model.labels import AGENT_LABEL, ROLE_LABEL
from avrgen.model.release import ImageRun

NO_SUCH_IMAGE = re.compile(r"no such image", re.IGNORECASE)  # removed since it was listed


def running_images(engine: Engine, agent: str) -> list[ImageRun]:
    """The image of each of the agent's containers, sorted by role."""
    found = [d for d in matching(engine, [[("label", f"{AGENT_LABEL}={agent}")]]) if is_managed(d)]
    ids = sorted({str(d.get("Image", "")) for d in found} - {""})
    try:
        images = (
            engine.existing(
                "image", "inspect", *ids, doing="inspect its images", missing=NO_SUCH_IMAGE
            )
            if ids
            else []
        )
    except ComposeError as exc:
        raise ComposeError(f"agent {agent!r}: {exc}") from None
    digests = {
        str(image.get("Id", "")): tuple(sorted(image.get("RepoDigests") or ())) for image in images
    }
    runs = []
    for data in found:
        labels = (data.get("Config") or {}).get("Labels") or {}
        image_id = str(data.get("Image", ""))
        runs.append(
            ImageRun(
                role=str(labels.get(ROLE_LABEL, "?")),
                container=str(data.get("Name", "")).lstrip("/"),
                image_id=image_id,
                repo_digests=digests.get(image_id, ()),
            )
        )
    return sorted(runs, key=lambda r: (r.role, r.container))


class LocalImages:
    """The local id and env defaults of image references, from one `docker image inspect`
    of all of them (load), else one reference at a time; a reference not here is None."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._env: dict[str, dict[str, str]] = {}  # image id -> its env defaults
        self._ids: dict[str, str | None] = {}  # reference -> local image id

    def load(self, references: Sequence[str]) -> None:
        wanted = [r for r in references if r not in self._ids]
        if not wanted:
            return
        found = self.engine.existing(
            "image", "inspect", *wanted, doing="inspect images", missing=NO_SUCH_IMAGE
        )
        tags: dict[str, dict[str, Any]] = {}
        for image in found:
            for name in [*(image.get("RepoTags") or []), *(image.get("RepoDigests") or [])]:
                tags[name] = image
            tags[str(image.get("Id", ""))] = image
        for reference in wanted:
            match = tags.get(reference) or tags.get(with_tag(reference))
            self._ids[reference] = str(match["Id"]) if match else None
            if match is not None:
                self._env[str(match["Id"])] = parse_env((match.get("Config") or {}).get("Env"))

    def env_defaults(self, image_id: str) -> dict[str, str]:
        if image_id not in self._env:
            self.load([image_id])
        return self._env.get(image_id, {})

    def local_id(self, reference: str) -> str | None:
        if reference not in self._ids:
            self.load([reference])
        return self._ids[reference]


def with_tag(reference: str) -> str:
    """`name` as docker lists it among an image's tags: `name:latest` without tag or digest."""
    last = reference.rsplit("/", 1)[-1]
    return reference if ":" in last or "@" in reference else f"{reference}:latest"
