"""LocalImages on a real engine: references read at once, or one at a time after."""

from __future__ import annotations

import dockerenv
import pytest

from avrgen.engine.docker import Engine
from avrgen.engine.images import LocalImages, with_tag

pytestmark = pytest.mark.docker
MISSING = "avrgen-test/never-built:0"


@pytest.fixture(scope="module")
def engine() -> Engine:
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    return Engine()


def test_loaded_references_have_their_id_and_env(engine: Engine) -> None:
    images = LocalImages(engine)
    images.load([dockerenv.PROVIDER_IMAGE, MISSING])
    image_id = images.local_id(dockerenv.PROVIDER_IMAGE)
    assert image_id is not None and image_id.startswith("sha256:")
    assert images.local_id(MISSING) is None
    assert images.env_defaults(image_id)["PATH"] == "/bin:/usr/bin:/sbin:/usr/sbin"  # its ENV


def test_references_not_loaded_are_asked_one_at_a_time(engine: Engine) -> None:
    images = LocalImages(engine)
    image_id = images.local_id(dockerenv.CORE_IMAGE)
    assert image_id is not None and image_id.startswith("sha256:")
    assert images.local_id(MISSING) is None
    assert images.env_defaults("sha256:" + "0" * 64) == {}  # no such image: no defaults
    assert images.env_defaults(image_id)["PATH"] == "/bin:/usr/bin:/sbin:/usr/sbin"


@pytest.mark.parametrize(
    ("reference", "listed"),
    [
        ("avr/core", "avr/core:latest"),
        ("registry:5000/avr/core", "registry:5000/avr/core:latest"),
        ("avr/core:1.2", "avr/core:1.2"),
        ("avr/core@sha256:abc", "avr/core@sha256:abc"),
    ],
)
def test_with_tag_names_a_reference_as_docker_lists_it(reference: str, listed: str) -> None:
    assert with_tag(reference) == listed
