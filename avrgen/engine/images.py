"""The images an agent's containers actually run: the engine's image id of each container
(what it was created from, whatever its tag points at now) and that image's registry
digests, for a release's record (avrgen/app/releases.py)."""

from __future__ import annotations

from python_on_whales.exceptions import DockerException

from avrgen.engine.containers import is_managed, matching
from avrgen.engine.docker import Engine, last_line
from avrgen.errors import ComposeError
from avrgen.model.labels import AGENT_LABEL, ROLE_LABEL
from avrgen.model.release import ImageRun


def running_images(engine: Engine, agent: str) -> list[ImageRun]:
    """The image of each of the agent's containers, sorted by role."""
    found = [d for d in matching(engine, [[("label", f"{AGENT_LABEL}={agent}")]]) if is_managed(d)]
    ids = sorted({str(d.get("Image", "")) for d in found} - {""})
    digests: dict[str, tuple[str, ...]] = {}
    try:
        for image in engine.client.image.inspect(ids) if ids else []:
            digests[image.id] = tuple(sorted(image.repo_digests or ()))
    except DockerException as exc:
        raise ComposeError(
            f"agent {agent!r}: cannot inspect its images: {last_line(exc)}"
        ) from None
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
