"""LocalImages on a real engine: references read at once, or one at a time after."""

from __future__ import annotations

from pathlib import Path

import dockerenv
import pytest

from avrgen.engine.docker import Engine
from avrgen.engine.images import NO_SUCH_IMAGE, LocalImages, with_tag
from avrgen.errors import ComposeError

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


def test_an_inspect_of_several_gives_those_that_exist(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """docker prints the images it has and fails naming the others: `existing` keeps the
    ones printed, `inspected` says that one is missing, any other failure is an error."""
    args = ("image", "inspect", dockerenv.PROVIDER_IMAGE, MISSING)
    found = engine.existing(*args, doing="inspect images", missing=NO_SUCH_IMAGE)
    assert [dockerenv.PROVIDER_IMAGE in image["RepoTags"] for image in found] == [True]
    assert engine.inspected(*args, doing="inspect images", missing=NO_SUCH_IMAGE) is None
    assert engine.existing("image", "inspect", MISSING, doing="x", missing=NO_SUCH_IMAGE) == []
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    with pytest.raises(ComposeError, match=r"^cannot inspect images: "):
        engine.existing(*args, doing="inspect images", missing=NO_SUCH_IMAGE)


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
