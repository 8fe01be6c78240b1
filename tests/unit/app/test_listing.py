"""app.listing: which containers are orphans of a blueprint set (ps marks them, and
`down --orphans` removes those labelled with the set)."""

from __future__ import annotations

from avrgen.app.listing import of_the_set, orphaned
from avrgen.engine.containers import ContainerStatus

SET = "0f2c"


def _status(agent: str, set_id: str = SET, telephony: bool = False) -> ContainerStatus:
    return ContainerStatus(
        agent,
        f"avr-{agent}-core",
        "core",
        "running",
        set_id=set_id,
        networks=("avr",),
        telephony=telephony,
    )


def test_an_orphan_is_of_no_agent_of_the_set_and_no_telephony_container() -> None:
    assert orphaned(_status("gone"), {"desk"})
    assert not orphaned(_status("desk"), {"desk"})
    assert not orphaned(_status("asterisk", telephony=True), {"desk"})


def test_with_the_set_id_only_a_container_labelled_with_it_is_an_orphan() -> None:
    assert orphaned(_status("gone"), {"desk"}, SET)
    assert not orphaned(_status("gone", set_id="other"), {"desk"}, SET)
    assert not orphaned(_status("gone", set_id=""), {"desk"}, SET)  # an older avrgen's
    assert orphaned(_status("gone", set_id=""), {"desk"})  # ps marks it all the same


def test_of_the_set_keeps_those_on_its_network_or_of_its_agents_and_marks_orphans() -> None:
    elsewhere = ContainerStatus("desk", "avr-desk-core", "core", "running", networks=("x",))
    stranger = ContainerStatus("other", "avr-other-core", "core", "running", networks=("x",))
    found = of_the_set([_status("gone"), elsewhere, stranger], "avr", {"desk"})
    assert [(s.agent, s.orphan) for s in found] == [("gone", True), ("desk", False)]
