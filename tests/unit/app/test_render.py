"""app.render: the write targets of one render and the render cache's way around it.

Two of these pin what the type checker found in the old Project.render: the loop over the
write targets re-bound the `target` parameter (compose or swarm), and the cache's paths and
options were bound only on the cached path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from avrgen.app.project import Paths, Project
from avrgen.app.render import RecordedSet, fresh_plan, recorded_set, render, rendered_as_is
from avrgen.errors import StaleOutputError
from avrgen.fs.files import generated_files
from avrgen.model.output import COMPOSE_FILE, STACK_FILE


def project_of(bundled: Path) -> Project:
    return Project(Paths(bundled, bundled.parent / "output"))


@pytest.mark.parametrize("first", [True, False], ids=["first-render", "output-exists"])
def test_the_target_chosen_is_the_target_written(bundled: Path, first: bool) -> None:
    project = project_of(bundled)
    if not first:
        render(project)  # compose files first: the swarm render then updates output/
    result = render(project, target="swarm")
    output = project.paths.output
    assert sorted(p.name for p in output.glob(f"*/{STACK_FILE}"))
    # agents' compose files are gone; the telephony stack runs with compose for both targets
    assert [p.parent.name for p in output.glob(f"*/{COMPOSE_FILE}")] == ["_telephony"]
    assert result.changes
    assert render(project, check=True, target="swarm").changes == []
    with pytest.raises(StaleOutputError):
        render(project, check=True, target="compose")


def test_a_second_render_of_one_target_changes_nothing(bundled: Path) -> None:
    project = project_of(bundled)
    render(project, target="swarm")
    assert render(project, target="swarm").changes == []


@pytest.mark.parametrize(
    ("agents", "no_cache"),
    [((), "1"), (("billing",), ""), (("billing",), "1")],
    ids=["cache-off", "agents-named", "both"],
)
def test_use_cache_without_the_cache(
    bundled: Path, monkeypatch: pytest.MonkeyPatch, agents: tuple[str, ...], no_cache: str
) -> None:
    """`use_cache` with the cache off or agents named runs the whole pipeline."""
    monkeypatch.setenv("AVRGEN_NO_CACHE", no_cache)
    project = project_of(bundled)
    result = render(project, agents=agents, use_cache=True)
    assert result.changes
    assert set(result.plan.agents) >= set(agents)
    assert render(project, agents=agents, use_cache=True).changes == []


def test_use_cache_answers_an_unchanged_render(
    bundled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVRGEN_NO_CACHE", "")
    project = project_of(bundled)
    first = render(project, use_cache=True)
    again = render(project_of(bundled), use_cache=True)
    assert again.changes == []
    assert list(again.plan.agents) == list(first.plan.agents)


def test_fresh_plan_goes_through_the_render_cache(
    bundled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`up` and `deploy` plan with fresh_plan: output/ as the last render left it is not
    rendered again (the plan is then the project's own), an edited agent is rendered anew,
    and --no-render still refuses stale output."""
    monkeypatch.setenv("AVRGEN_NO_CACHE", "")
    project = project_of(bundled)
    first, rendered = fresh_plan(project, (), all_agents=True, render_stale=True)
    assert rendered
    again = project_of(bundled)
    the_plan, rendered = fresh_plan(again, (), all_agents=True, render_stale=True)
    assert rendered == [] and the_plan == first
    assert the_plan is again.plan()[0]  # the cache answered: planned, not rendered
    assert fresh_plan(project_of(bundled), (), True, render_stale=False)[0] == first

    agents = bundled / "agents.yaml"
    text = agents.read_text()
    assert "Billing desk: how can I help?" in text
    agents.write_text(text.replace("Billing desk: how can I help?", "Billing: how can I help?"))
    with pytest.raises(StaleOutputError, match="--no-render: refusing"):
        fresh_plan(project_of(bundled), (), all_agents=True, render_stale=False)
    _, rendered = fresh_plan(project_of(bundled), (), all_agents=True, render_stale=True)
    output = project.paths.output
    assert [Path(c.path).relative_to(output).as_posix() for c in rendered] == ["billing/core.env"]


def test_rendered_as_is_is_the_cache_saying_output_holds_the_render(
    bundled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """status reads an agent's files from output/ (avrgen's generated files there) instead
    of rendering them when the render cache says output/ holds what the blueprints render:
    those are exactly the files a render in memory gives."""
    monkeypatch.setenv("AVRGEN_NO_CACHE", "")
    project = project_of(bundled)
    assert not rendered_as_is(project)  # nothing rendered yet
    render(project, use_cache=True)
    assert rendered_as_is(project)
    the_plan = project.plan()[0]
    in_memory = project.targets(the_plan, list(the_plan.agents))[0].files
    output = project.paths.output
    for name in the_plan.agents:
        read = {f"{name}/{file}": data for file, data in generated_files(output / name).items()}
        assert read == {
            path: data for path, data in in_memory.items() if path.startswith(f"{name}/")
        }
    (output / "billing" / "notes.txt").write_text("an operator's own file\n")
    assert "notes.txt" not in generated_files(output / "billing")

    compose = output / "billing" / "docker-compose.yml"
    compose.write_bytes(compose.read_bytes().replace(b"restart:", b"restart: "))
    assert not rendered_as_is(project)  # an edited output file: render in memory
    monkeypatch.setenv("AVRGEN_NO_CACHE", "1")
    render(project)
    assert not rendered_as_is(project)  # the cache off: it cannot tell


def test_recorded_set_is_what_the_last_render_planned(
    bundled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ps` takes the set, network, target and agents from the render cache while output/
    is what the blueprints render; before a render, after an edit or without the cache,
    there is none (ps then reads the blueprints)."""
    monkeypatch.setenv("AVRGEN_NO_CACHE", "")
    project = project_of(bundled)
    assert recorded_set(project) is None
    render(project, use_cache=True)
    the_plan = project.plan()[0]
    recorded = recorded_set(project)
    assert recorded is not None
    assert recorded == RecordedSet(
        the_plan.set_id, the_plan.network.name, "compose", {}, recorded.agents
    )
    assert list(recorded.agents) == list(the_plan.agents)
    assert {n: [c.name for c in a.containers] for n, a in recorded.agents.items()} == {
        n: [c.name for c in a.containers] for n, a in the_plan.agents.items()
    }
    settings = bundled / "settings.yaml"
    settings.write_text(settings.read_text() + "target: swarm\n")
    assert recorded_set(project) is None
    render(project, use_cache=True)
    recorded = recorded_set(project)
    assert recorded is not None and recorded.target == "swarm"
    monkeypatch.setenv("AVRGEN_NO_CACHE", "1")
    assert recorded_set(project) is None
