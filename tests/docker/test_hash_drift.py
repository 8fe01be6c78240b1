"""The content-hash label against compose's own comparison, on a real engine (issue 20).

`status` and `up` decide drift from each container's `avrgen.content-hash` label, its
image id and its environment, without asking compose. Compose's own comparison
(`docker compose --dry-run up`, `status(by="compose")`) is the cross-check: for each kind
of change (an env value, the image a tag names, a compose field only a template writes)
both must find the same containers drifted, and both none once it is undone. And `up` of
an agent in sync starts no compose: its containers stay the same ones.

One STS agent on its own network and port ranges, brought up once for the module; every
test leaves it in sync again; the module removes what it created, also on failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import dockerenv
import pytest

from avrgen.app.lifecycle import up
from avrgen.app.project import Paths, Project
from avrgen.app.running import Start
from avrgen.app.status import StatusReport, status
from avrgen.fs.package import default_templates

NETWORK = "avrgen-speed-t"
SECRET = "AVRGEN_HASH_TEST_KEY"  # set for `up`; status without it reads the container's
AGENT = "hash-one"
TAG = "avrgen-speed-test/core:1"  # a tag of this module's own, moved by a test
SETTINGS = f"""\
kind: settings
network: {{name: {NETWORK}, subnet: 10.214.66.0/24}}
ports: {{core: 41300-41319, http: 41320-41339, providers: 41340-41359}}
core: {{image: "{TAG}"}}
"""
PROVIDERS = f"""\
kind: provider
name: gamma
type: STS
config:
  image: {dockerenv.PROVIDER_IMAGE}
  env: {{GAMMA_MODEL: small, GAMMA_API_KEY: {{secret: {SECRET}}}}}
"""
AGENTS = f"kind: agent\nname: {AGENT}\nmode: sts\nproviders: {{sts: gamma}}\n"
CORE, STS = f"avr-core-{AGENT}", f"avr-sts-{AGENT}"
TIMEOUT = 180  # up --wait on a busy engine


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=TIMEOUT)


def remove_everything() -> None:
    ids = docker("ps", "-aq", "--filter", f"label=avrgen.agent={AGENT}").stdout.split()
    if ids:
        docker("rm", "-f", *ids)
    docker("network", "rm", NETWORK)


def container_ids() -> dict[str, str]:
    return {
        name: docker("inspect", "--format", "{{.Id}}", name).stdout.strip() for name in (CORE, STS)
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    dockerenv.require_engine()
    dockerenv.ensure_test_images()
    root = dockerenv.blueprint_folder(
        tmp_path_factory.mktemp("hash"), settings=SETTINGS, providers=PROVIDERS, agents=AGENTS
    )
    templates = root / "templates"
    shutil.copytree(default_templates(), templates)
    remove_everything()
    assert docker("tag", dockerenv.CORE_IMAGE, TAG).returncode == 0
    project = Project(Paths(root / "blueprints", root / "output", templates=templates))
    os.environ[SECRET] = "hash-test-key"
    try:
        result = up(project, Start([AGENT], timeout=TIMEOUT))
        assert [a.error for a in result.agents if a.status == "failed"] == []
        yield project
    finally:
        os.environ.pop(SECRET, None)
        remove_everything()
        docker("rmi", TAG)


def drifted(report: StatusReport) -> tuple[str, set[str]]:
    """The agent's state and the containers named in its differences."""
    (agent,) = report.agents
    return agent.state, {d.container for d in agent.differences}


def both(project: Project) -> tuple[tuple[str, set[str]], tuple[str, set[str]]]:
    return drifted(status(project)), drifted(status(project, by="compose"))


@pytest.mark.docker
def test_in_sync_both_ways_and_up_starts_nothing(project: Project) -> None:
    assert both(project) == (("in sync", set()), ("in sync", set()))
    before = container_ids()
    result = up(project, Start([AGENT], timeout=TIMEOUT))
    assert [(a.agent, a.status) for a in result.agents] == [(AGENT, "unchanged")]
    assert container_ids() == before


@pytest.mark.docker
def test_an_env_value_drifts_the_same_container_both_ways(project: Project) -> None:
    providers = project.paths.blueprints / "providers.yaml"
    providers.write_text(PROVIDERS.replace("GAMMA_MODEL: small", "GAMMA_MODEL: large"))
    try:
        by_hash, by_compose = both(project)
        assert by_hash == by_compose == ("drifted", {STS})
        assert "GAMMA_MODEL" in str(status(project).agents[0].differences)
    finally:
        providers.write_text(PROVIDERS)
    assert both(project) == (("in sync", set()), ("in sync", set()))


@pytest.mark.docker
def test_a_moved_image_tag_drifts_the_same_container_both_ways(project: Project) -> None:
    assert docker("tag", dockerenv.PROVIDER_IMAGE, TAG).returncode == 0  # same tag, new image
    try:
        by_hash, by_compose = both(project)
        assert by_hash == by_compose == ("drifted", {CORE})
        kinds = {d.kind for d in status(project).agents[0].differences}
        assert kinds == {"image"}
    finally:
        assert docker("tag", dockerenv.CORE_IMAGE, TAG).returncode == 0
    assert both(project) == (("in sync", set()), ("in sync", set()))


@pytest.mark.docker
def test_a_compose_field_only_the_hash_sees_drifts_both_ways(project: Project) -> None:
    """`restart:` of the providers, changed in the template: no env, image, port or label
    differs, only the rendered service (its content hash) and compose's config hash."""
    assert project.paths.templates is not None
    template = project.paths.templates / "docker-compose.yml.j2"
    original = template.read_text()
    line = "    restart: unless-stopped\n"
    assert line in original
    template.write_text(
        original.replace(
            line, '    restart: {{ "always" if c.role != "core" else "unless-stopped" }}\n'
        )
    )
    try:
        by_hash, by_compose = both(project)
        assert by_hash == by_compose == ("drifted", {STS})
        (difference,) = status(project).agents[0].differences
        assert difference.kind == "config"
        before = container_ids()
        result = up(project, Start([AGENT], timeout=TIMEOUT))  # renders, recreates only the sts
        assert [(a.agent, a.status) for a in result.agents] == [(AGENT, "started")], [
            a.error for a in result.agents
        ]
        after = container_ids()
        assert after[CORE] == before[CORE] and after[STS] != before[STS]
        assert both(project) == (("in sync", set()), ("in sync", set()))
    finally:
        template.write_text(original)
    result = up(project, Start([AGENT], timeout=TIMEOUT))
    assert [a.error for a in result.agents if a.status == "failed"] == []
    assert both(project) == (("in sync", set()), ("in sync", set()))


@pytest.mark.docker
def test_containers_without_the_label_are_judged_by_compose(project: Project) -> None:
    """Containers made by an avrgen before the label (here: a template without it): status
    asks compose about them, and `up` leaves them to compose, which changes nothing."""
    assert project.paths.templates is not None
    template = project.paths.templates / "docker-compose.yml.j2"
    original = template.read_text()
    label = "      {{ content_hash_label | yaml }}: {{ c.role | content_hash }}\n"
    assert label in original
    template.write_text(original.replace(label, ""))
    try:
        result = up(project, Start([AGENT], timeout=TIMEOUT))
        assert [(a.agent, a.status) for a in result.agents] == [(AGENT, "started")], [
            a.error for a in result.agents
        ]
        labels = docker("inspect", "--format", "{{json .Config.Labels}}", STS).stdout
        assert "avrgen.content-hash" not in labels
        assert both(project) == (("in sync", set()), ("in sync", set()))
        # without the secret set here, compose is given the running container's own value
        key = os.environ.pop(SECRET)
        try:
            assert both(project) == (("in sync", set()), ("in sync", set()))
        finally:
            os.environ[SECRET] = key
        before = container_ids()
        again = up(project, Start([AGENT], timeout=TIMEOUT))  # compose ran, and changed nothing
        assert [(a.agent, a.status) for a in again.agents] == [(AGENT, "unchanged")]
        assert container_ids() == before
    finally:
        template.write_text(original)
    result = up(project, Start([AGENT], timeout=TIMEOUT))
    assert [a.error for a in result.agents if a.status == "failed"] == []
    assert both(project) == (("in sync", set()), ("in sync", set()))
