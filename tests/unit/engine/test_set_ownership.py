"""Which containers are a blueprint set's (issue 17): its label, or, for an older avrgen's
container without one, its agent and network; and up's refusal naming the holding set."""

from __future__ import annotations

from pathlib import Path

import pytest

from avrgen.engine.containers import ContainerStatus
from avrgen.engine.sets import Held, SetScope, held_by_others, refuse_held, taking_over
from avrgen.errors import ComposeError
from avrgen.fs.sets import known_set, record_set
from avrgen.model.plan import AgentPlan, Container

SCOPE = SetScope("site-a", "avr", frozenset({"desk"}))


def status(
    agent: str, set_id: str = "", networks: tuple[str, ...] = ("avr",), **kw: str
) -> ContainerStatus:
    return ContainerStatus(
        agent, kw.get("name", f"avr-core-{agent}"), "core", "running",
        networks=networks, set_id=set_id, output=kw.get("output", ""),
    )  # fmt: skip


def agent(name: str) -> AgentPlan:
    core = Container("core", f"avr-core-{name}", "core:1", (), 5002, ())
    return AgentPlan(name, "id", "sts", None, (core,))


def test_a_labelled_container_is_the_set_its_label_names() -> None:
    assert SCOPE.owns(status("desk", "site-a"))
    assert not SCOPE.owns(status("desk", "site-b"))
    assert SCOPE.owns(status("gone", "site-a"))  # an orphan of this set is still its own


def test_a_swarm_service_is_the_set_its_label_names_or_else_its_agents() -> None:
    assert SCOPE.owns_service("site-a", "desk")
    assert SCOPE.owns_service("site-a", "gone")  # an orphan of this set
    assert not SCOPE.owns_service("site-b", "desk")
    assert SCOPE.owns_service("", "desk")  # an older avrgen's service of this set's agent
    assert not SCOPE.owns_service("", "other")
    assert SetScope("site-a").owns_service("", "any")  # blueprints unreadable: agents unknown


def test_an_older_avrgens_container_is_the_sets_by_agent_and_network() -> None:
    assert SCOPE.owns(status("desk"))
    assert not SCOPE.owns(status("desk", networks=("other",)))
    assert not SCOPE.owns(status("lobby"))  # never taken for an orphan of this set
    unread = SetScope("site-a")  # blueprints unreadable: any agent, any network
    assert unread.owns(status("lobby", networks=()))
    assert not unread.owns(status("lobby", "site-b"))
    never_rendered = SetScope(None, "avr", frozenset({"desk"}))
    assert not never_rendered.owns(status("desk", "site-a"))


def test_the_holding_set_is_named_with_its_folders_where_known(tmp_path: Path) -> None:
    record_set(tmp_path, "site-b", tmp_path / "b" / "blueprints", tmp_path / "b" / "out")
    scope = SetScope("site-a", "avr", frozenset({"desk"}), tmp_path)
    assert scope.describe("site-b", "/srv/b/out") == (
        f"blueprint set 'site-b' (blueprints {tmp_path}/b/blueprints, output /srv/b/out)"
    )
    assert scope.describe("site-b", "") == (
        f"blueprint set 'site-b' (blueprints {tmp_path}/b/blueprints, output {tmp_path}/b/out)"
    )
    assert scope.describe("site-c", "") == "blueprint set 'site-c'"
    assert SCOPE.describe("", "/x/out") == "an older avrgen, without set labels (output /x/out)"


def test_up_refuses_naming_each_agent_and_its_holder() -> None:
    found = [
        status("desk", "site-b", output="/srv/b/out"),
        status("desk", "site-a", name="avr-sts-desk"),
        status("bar", "site-b"),
    ]
    held = held_by_others(SCOPE, [agent("desk"), agent("bar")], found)
    assert [(h.agent, [c.name for c in h.containers]) for h in held] == [
        ("desk", ["avr-core-desk"]),
        ("bar", ["avr-core-bar"]),
    ]
    with pytest.raises(ComposeError) as caught:
        refuse_held(SCOPE, held)
    text = str(caught.value)
    assert text.startswith("refusing to start 'desk', 'bar': another blueprint set's")
    assert "  'desk': avr-core-desk belong to blueprint set 'site-b' (output /srv/b/out)" in text
    assert text.endswith("`avrgen up --take-over` replaces them with this set's")
    refuse_held(SCOPE, [])  # nothing held: nothing to refuse
    assert taking_over(SCOPE, Held("bar", (status("bar", "site-b"),))) == (
        "taking over 1 container(s) of blueprint set 'site-b' (--take-over)"
    )


def test_the_set_record_is_written_once_and_read_back(tmp_path: Path) -> None:
    assert known_set(tmp_path, "site-a") is None
    assert known_set(tmp_path, "../etc") is None  # never a path out of the folder
    record_set(tmp_path, "site-a", Path("bp"), Path("out"))
    found = known_set(tmp_path, "site-a")
    assert found is not None and found.blueprints == str(Path("bp").resolve())
    assert (tmp_path / "sets").stat().st_mode & 0o777 == 0o700
    (tmp_path / "sets" / "site-a.json").write_text("[]")
    assert known_set(tmp_path, "site-a") is None  # unreadable: unknown, never an error
    blocked = tmp_path / "file"
    blocked.write_text("")
    record_set(blocked, "site-a", Path("bp"), Path("out"))  # cannot be written: no error


def test_the_telephony_stack_without_a_set_label_is_the_sets_on_its_network() -> None:
    asterisk = ContainerStatus("telephony", "avr-asterisk", "asterisk", "running",
                               networks=("avr",), telephony=True)  # fmt: skip
    assert SCOPE.owns(asterisk)
    assert not SCOPE.owns(ContainerStatus(**{**asterisk.__dict__, "networks": ("other",)}))
