"""app.agents: the one "no agent named ..." message, and the selection of up and deploy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from avrgen.app.agents import require_known, select, unknown_agent
from avrgen.app.project import Paths, Project
from avrgen.app.running import Removal
from avrgen.errors import AvrgenError


def test_unknown_agent_names_the_nearest_one() -> None:
    assert str(unknown_agent("biling", ["billing", "support-line"])) == (
        "no agent named 'biling' (did you mean 'billing'?)"
    )
    assert str(unknown_agent("zzz", ["billing"])) == "no agent named 'zzz'"


def test_require_known_keeps_the_order_given_without_repeats() -> None:
    assert require_known(["b", "a", "b"], {"a", "b"}) == ["b", "a"]
    with pytest.raises(AvrgenError, match="no agent named 'c'"):
        require_known(["a", "c"], {"a", "b"})


def test_select(bundled: Path) -> None:
    the_plan = Project(Paths(bundled)).plan()[0]
    assert [a.name for a in select(the_plan, (), all_agents=True)] == list(the_plan.agents)
    assert [a.name for a in select(the_plan, ["billing"], all_agents=False)] == ["billing"]
    with pytest.raises(AvrgenError, match="name an agent, or use --all"):
        select(the_plan, (), all_agents=False)
    with pytest.raises(AvrgenError, match=r"did you mean 'billing'\?"):
        select(the_plan, ["biling"], all_agents=False)


def test_a_removal_of_nothing_is_refused() -> None:
    nothing = "name an agent, or use --all / --orphans / --network / --telephony"
    with pytest.raises(AvrgenError, match=f"^{re.escape(nothing)}$"):
        Removal().refuse_nothing([])
    for enough in (Removal(orphans=True), Removal(network=True), Removal(telephony=True)):
        enough.refuse_nothing([])
    Removal(dry_run=True).refuse_nothing(["a"])
    with pytest.raises(AvrgenError, match=r"^--dry-run lists agents' containers; leave out"):
        Removal(telephony=True, dry_run=True).refuse_nothing(["a"])
