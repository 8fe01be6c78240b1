"""A release: what one agent ran after an `up` (or a rollback) that changed it, as recorded
in the server's state folder (avrgen/fs/releases.py): the digest of each rendered file, the
image each container ran (by id and registry digest, never only by tag), env key names
(never values), when, and the blueprints' git revision."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

RELEASE_FORMAT = 1  # release.json's format; a release of another format is refused


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImageRun(Frozen):
    """The image one container ran, as the engine reports it."""

    role: str
    container: str
    image_id: str  # sha256:... (the engine's content id)
    repo_digests: tuple[str, ...] = ()  # repo@sha256:... of a pulled image (none for a local)


class ContainerRecord(Frozen):
    """One container of a release: what the engine needs to bring it back."""

    role: str
    name: str
    image: str  # the reference the compose file names (a tag may have moved since)
    image_id: str
    repo_digests: tuple[str, ...] = ()
    port: int
    http_port: int | None = None
    published: tuple[int, ...] = ()
    host_ip: str | None = None
    env_keys: tuple[str, ...] = ()  # every env key the container gets, names only
    secrets: tuple[tuple[str, str], ...] = ()  # (env key, secret name): names only
    # (container path, secret name) of each key file: its host path is the secret's value
    key_files: tuple[tuple[str, str], ...] = ()

    @property
    def pinned(self) -> str:
        """The image by content: the registry digest of the image's own repository where it
        was pulled, else the engine's image id (a local image has no registry digest)."""
        repository = repository_of(self.image)
        for digest in self.repo_digests:
            if digest.partition("@")[0] == repository:
                return digest
        return self.image_id


class Revision(Frozen):
    """The blueprints' git revision at the release; `dirty`: uncommitted changes in them."""

    commit: str
    dirty: bool = False

    def __str__(self) -> str:
        return self.commit[:12] + (" (dirty)" if self.dirty else "")


class Release(Frozen):
    format: int = RELEASE_FORMAT
    agent: str
    number: int
    created: str  # UTC, ISO 8601 (2026-12-01T12:00:00Z)
    origin: str  # "up", "rollback to 1", "atomic rollback to 2"
    revision: Revision | None = None
    agent_id: str
    mode: str
    tenant: str | None = None
    host: str | None = None  # the settings' host that ran it (None: the default engine)
    target: str = "compose"  # compose (`up`) or swarm (`deploy`): where it runs
    environment: str | None = None  # `up -e NAME`: the environment rendered (None: the base)
    files: dict[str, str]  # path under the agent's output folder -> sha256 of its bytes
    containers: tuple[ContainerRecord, ...]

    def same_run(self, other: Release) -> bool:
        """The same files and the same images: bringing one back gives the other."""
        return self.files == other.files and images(self) == images(other)


def images(release: Release) -> dict[str, str]:
    """Role -> image id of each container of `release`."""
    return {c.role: c.image_id for c in release.containers}


def repository_of(reference: str) -> str:
    """`registry:5000/name` of `registry:5000/name:tag` or `name@sha256:...`."""
    name = reference.partition("@")[0]
    head, colon, tag = name.rpartition(":")
    return head if colon and "/" not in tag else name
