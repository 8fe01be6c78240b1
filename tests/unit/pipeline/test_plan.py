"""Port allocation: unique across the blueprint set, within the ranges, stable when agents are
added, removed or renamed (the lock), pins first, and a clear error when a range is full.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import Avrgen
from hypothesis import given, settings
from hypothesis import strategies as st

from avrgen.errors import PlanError
from avrgen.model.blueprint import Agent, AgentProviders, Blueprint, PortSettings, Settings
from avrgen.pipeline.plan import allocate_ports, roles_of

Lock = dict[str, dict[str, int]]

NEW_AGENT = """
---
kind: agent
name: {name}
mode: sts
providers: {{sts: Gemini Live Production}}
"""


def render(avrgen: Avrgen, blueprints: Path) -> Lock:
    result = avrgen("render", "-b", str(blueprints), "-o", str(blueprints.parent / "output"))
    assert result.exit_code == 0, result.stderr
    return read_lock(blueprints)


def read_lock(blueprints: Path) -> Lock:
    return json.loads((blueprints / "avrgen.lock").read_text())["agents"]


def drop_agent(text: str, name: str) -> str:
    """The agents file without the document of agent `name`."""
    docs = re.split(r"^---\n", text, flags=re.MULTILINE)
    kept = [d for d in docs if not re.search(rf"^name: {re.escape(name)}$", d, re.MULTILINE)]
    assert len(kept) == len(docs) - 1
    return "---\n".join(kept)


def all_ports(lock: Lock) -> list[int]:
    return [port for ports in lock.values() for port in ports.values()]


def assert_sane(lock: Lock) -> None:
    ports = all_ports(lock)
    assert len(ports) == len(set(ports)), "a port is used twice"
    for agent in lock.values():
        assert 5000 <= agent["core"] <= 5999
        assert 7000 <= agent["http"] <= 7999
        for role in agent.keys() - {"core", "http"}:
            assert 6000 <= agent[role] <= 6999


@pytest.fixture(params=["wide", "crowded"])
def ranges(request: pytest.FixtureRequest, bundled: Path) -> Path:
    """The bundled blueprints with their ranges, or with ranges so small that new ports
    collide on their hash and probe on: then only the lock keeps survivors in place.
    Without the numbers (telephony.yaml): they name agents these tests remove."""
    (bundled / "telephony.yaml").unlink()
    if request.param == "crowded":
        settings_file = bundled / "settings.yaml"
        wide = "ports: {core: 5000-5999, http: 7000-7999, providers: 6000-6999}"
        crowded = "ports: {core: 5000-5014, http: 7000-7014, providers: 6000-6019}"
        assert wide in settings_file.read_text()
        settings_file.write_text(settings_file.read_text().replace(wide, crowded))
        (bundled / "avrgen.lock").unlink()
    return bundled


def test_adding_an_agent_moves_no_other(avrgen: Avrgen, ranges: Path) -> None:
    bundled = ranges
    before = render(avrgen, bundled)
    agents = bundled / "agents.yaml"
    agents.write_text(agents.read_text() + NEW_AGENT.format(name="newcomer"))
    after = render(avrgen, bundled)
    assert {k: v for k, v in after.items() if k != "newcomer"} == before
    assert set(after["newcomer"]) == {"core", "http", "sts"}
    assert_sane(after)


def test_removing_an_agent_moves_no_other_and_drops_its_lock_entry(
    avrgen: Avrgen, ranges: Path
) -> None:
    bundled = ranges
    before = render(avrgen, bundled)
    agents = bundled / "agents.yaml"
    agents.write_text(drop_agent(agents.read_text(), "concierge"))
    after = render(avrgen, bundled)
    assert "concierge" not in after
    assert after == {k: v for k, v in before.items() if k != "concierge"}


def test_renaming_an_agent_moves_no_other(avrgen: Avrgen, ranges: Path) -> None:
    bundled = ranges
    before = render(avrgen, bundled)
    agents = bundled / "agents.yaml"
    agents.write_text(agents.read_text().replace("name: bookings\n", "name: reservations\n"))
    after = render(avrgen, bundled)
    assert "bookings" not in after
    assert set(after["reservations"]) == {"core", "http", "sts"}
    assert {k: v for k, v in after.items() if k != "reservations"} == {
        k: v for k, v in before.items() if k != "bookings"
    }
    assert_sane(after)


def test_many_changes_in_a_row_keep_every_survivor_in_place(avrgen: Avrgen, ranges: Path) -> None:
    bundled = ranges
    agents = bundled / "agents.yaml"
    first = render(avrgen, bundled)
    for index in range(6):
        agents.write_text(agents.read_text() + NEW_AGENT.format(name=f"extra-{index}"))
    agents.write_text(drop_agent(agents.read_text(), "billing"))
    second = render(avrgen, bundled)
    agents.write_text(drop_agent(agents.read_text(), "extra-2"))
    third = render(avrgen, bundled)
    for name, ports in first.items():
        if name != "billing":
            assert second[name] == ports == third[name]
    for name, ports in second.items():
        if name != "extra-2":
            assert third[name] == ports
    assert_sane(third)


def test_pins_win_over_the_lock(avrgen: Avrgen, bundled: Path) -> None:
    before = render(avrgen, bundled)
    taken = before["bookings"]["sts"]  # pin another agent onto bookings' locked port
    agents = bundled / "agents.yaml"
    text = agents.read_text().replace(
        "name: concierge\n", f"name: concierge\nports: {{sts: {taken}, core: 5555}}\n"
    )
    agents.write_text(text)
    after = render(avrgen, bundled)
    assert after["concierge"]["sts"] == taken
    assert after["concierge"]["core"] == 5555
    assert after["concierge"]["http"] == before["concierge"]["http"]
    assert after["bookings"]["sts"] != taken  # the lock gives way to the pin
    assert after["bookings"]["core"] == before["bookings"]["core"]
    for name in before.keys() - {"bookings", "concierge"}:
        assert after[name] == before[name]
    assert_sane(after)


def test_a_hand_edited_lock_is_honoured(avrgen: Avrgen, bundled: Path) -> None:
    """The lock, not the hash, decides an existing agent's ports."""
    lock_file = bundled / "avrgen.lock"
    before = read_lock(bundled)
    free = next(p for p in range(6000, 7000) if p not in all_ports(before))
    edited = json.loads(lock_file.read_text())
    edited["agents"]["bookings"]["sts"] = free
    lock_file.write_text(json.dumps(edited))
    after = render(avrgen, bundled)
    assert after["bookings"]["sts"] == free
    assert {k: v for k, v in after.items() if k != "bookings"} == {
        k: v for k, v in before.items() if k != "bookings"
    }


def test_a_full_range_is_a_clear_error(avrgen: Avrgen, bundled: Path, tmp_path: Path) -> None:
    settings_file = bundled / "settings.yaml"
    settings_file.write_text(
        settings_file.read_text().replace("core: 5000-5999", "core: 5010-5012")
    )
    (bundled / "avrgen.lock").unlink()
    result = avrgen("render", "-b", str(bundled), "-o", str(tmp_path / "output"))
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: no free port left in the core range 5010-5012")
    assert "widen `ports.core`" in result.stderr
    assert not (tmp_path / "output").exists()
    assert not (bundled / "avrgen.lock").exists()


def test_a_lock_entry_outside_a_shrunk_range_is_reallocated(avrgen: Avrgen, bundled: Path) -> None:
    before = render(avrgen, bundled)
    settings_file = bundled / "settings.yaml"
    settings_file.write_text(
        settings_file.read_text().replace("providers: 6000-6999", "providers: 6000-6499")
    )
    after = render(avrgen, bundled)
    for name, ports in before.items():
        for role, port in ports.items():
            if role in ("core", "http") or port <= 6499:
                assert after[name][role] == port
            else:
                assert 6000 <= after[name][role] <= 6499


# -- the allocator itself, on many random histories ----------------------------------------

NAMES = st.text(alphabet="abcdefghij-", min_size=1, max_size=6).filter(
    lambda s: s[0] != "-" and s[-1] != "-"
)


def sts_agent(name: str) -> Agent:
    return Agent(
        kind="agent",
        name=name,
        mode="sts",
        providers=AgentProviders(sts="p"),
    )


def blueprint(names: set[str]) -> Blueprint:
    small = PortSettings.model_validate(
        {"core": "5000-5011", "http": "7000-7011", "providers": "6000-6011", "reserved": []}
    )
    return Blueprint(
        settings=Settings(ports=small),
        agents={n: sts_agent(n) for n in names},
    )


@settings(max_examples=150, deadline=None)
@given(
    start=st.sets(NAMES, max_size=8),
    steps=st.lists(st.tuples(st.booleans(), NAMES), max_size=8),
)
def test_allocation_is_stable_over_any_history(
    start: set[str], steps: list[tuple[bool, str]]
) -> None:
    """Add or remove agents one at a time, carrying the lock: survivors never move."""
    names = set(start)
    lock = allocate_ports(blueprint(names), {})
    for add, name in steps:
        names = names | {name} if add else names - {name}
        if len(names) > 12:
            continue
        new = allocate_ports(blueprint(names), lock)
        assert set(new) == names
        for agent in names & set(lock):
            assert new[agent] == lock[agent]
        ports = all_ports(new)
        assert len(ports) == len(set(ports))
        for agent in names:
            assert set(new[agent]) == set(roles_of(sts_agent(agent)))
        lock = new


def test_allocation_fails_with_plan_error_when_full() -> None:
    names = {f"agent-{i}" for i in range(13)}  # 12 ports per range
    try:
        allocate_ports(blueprint(names), {})
    except PlanError as exc:
        assert "no free port left in the core range 5000-5011" in str(exc)
    else:
        raise AssertionError("no PlanError for a full range")


def test_allocation_does_not_depend_on_dict_order() -> None:
    names = [f"agent-{i}" for i in range(10)]
    forward = allocate_ports(blueprint(set(names)), {})
    bp = blueprint(set(names))
    reordered = Blueprint(settings=bp.settings, agents=dict(reversed(list(bp.agents.items()))))
    assert allocate_ports(reordered, {}) == forward
