"""Which hosts a command talks to (issue 18): the plan of one host, the hosts in use, the
hosts of the named agents."""

from __future__ import annotations

from avrgen.app.hosts import hosts_for
from avrgen.model.blueprint import Host, NetworkSettings
from avrgen.model.plan import AgentPlan, Plan

EDGE = {
    "edge-1": Host(docker="ssh://a"),
    "edge-2": Host(docker="ssh://b"),
    "spare": Host(docker="c"),
}


def plan_of(**placed: str | None) -> Plan:
    agents = {n: AgentPlan(n, n, "sts", None, (), host=h) for n, h in sorted(placed.items())}
    return Plan(NetworkSettings(), agents, {}, hosts=EDGE)


def test_the_plan_of_one_host_holds_its_agents_only() -> None:
    the_plan = plan_of(a="edge-1", b="edge-2", c=None)
    assert list(the_plan.on_host("edge-1").agents) == ["a"]
    assert list(the_plan.on_host(None).agents) == ["c"]
    assert the_plan.on_host("spare").agents == {}


def test_the_default_engine_is_used_only_when_an_agent_runs_there() -> None:
    assert plan_of(a="edge-1", c=None).hosts_in_use == [None, "edge-1", "edge-2", "spare"]
    assert plan_of(a="edge-1").hosts_in_use == ["edge-1", "edge-2", "spare"]


def test_the_hosts_of_the_named_agents() -> None:
    the_plan = plan_of(a="edge-1", b="edge-2", c=None)
    assert hosts_for(the_plan, ["b"]) == ["edge-2"]
    assert hosts_for(the_plan, ["c", "a"]) == [None, "edge-1"]
    # a name the plan lacks: its containers may be on any host
    assert hosts_for(the_plan, ["gone"]) == the_plan.hosts_in_use
    assert hosts_for(the_plan, []) == the_plan.hosts_in_use
