"""A release's images by content: a registry digest of the image's own repository, else
the engine's image id; and which releases run the same."""

from __future__ import annotations

import pytest

from avrgen.model.release import ContainerRecord, Revision, repository_of

ID = "sha256:" + "e" * 64


def record(image: str, *digests: str) -> ContainerRecord:
    return ContainerRecord(
        role="core", name="c", image=image, image_id=ID, repo_digests=digests, port=1
    )


@pytest.mark.parametrize(
    ("reference", "repository"),
    [
        ("agentvoiceresponse/avr-core:1.12.0", "agentvoiceresponse/avr-core"),
        ("registry.local:5000/avr/core:2", "registry.local:5000/avr/core"),
        ("registry.local:5000/avr/core", "registry.local:5000/avr/core"),
        ("avr-core@sha256:abc", "avr-core"),
        ("avr-core", "avr-core"),
    ],
)
def test_the_repository_of_a_reference(reference: str, repository: str) -> None:
    assert repository_of(reference) == repository


def test_a_pulled_image_is_pinned_by_the_digest_of_its_own_repository() -> None:
    pulled = record("acme/core:1", "mirror.local/core@sha256:m", "acme/core@sha256:d")
    assert pulled.pinned == "acme/core@sha256:d"


def test_a_local_image_or_one_of_another_repository_is_pinned_by_id() -> None:
    assert record("acme/core:1").pinned == ID
    assert record("acme/core:1", "other/core@sha256:d").pinned == ID


def test_a_revision_says_when_it_is_dirty() -> None:
    assert str(Revision(commit="0123456789abcdef")) == "0123456789ab"
    assert str(Revision(commit="0123456789abcdef", dirty=True)) == "0123456789ab (dirty)"
