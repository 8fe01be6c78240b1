"""A hosts inventory in the plan (issue 18): each agent's host, the hosts' endpoints with
their TLS files relative to where avrgen runs, pins unique per host, allocated ports
unique across every host (so moving an agent or adding a host moves no port)."""

from __future__ import annotations

from avrgen.model.plan import Lock, Plan
from avrgen.pipeline.catalog import load_catalog
from avrgen.pipeline.load import parse_documents
from avrgen.pipeline.plan import plan
from avrgen.pipeline.validate import validate

PROVIDER = "kind: provider\nname: Echo\ntype: STS\nconfig: {image: example/sts:1}\n"
AGENT = "kind: agent\nname: {}\nmode: sts\nproviders: {{sts: Echo}}\n{}"
HOSTS = """\
hosts:
  edge-1: {docker: "ssh://ops@10.0.0.11"}
  edge-2:
    docker: tcp://10.0.0.12:2376
    tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: /etc/avr/key.pem}
  lab: {docker: lab-context}
"""


def planned(settings: str, agents: dict[str, str], lock: Lock | None = None) -> Plan:
    documents = [AGENT.format(name, extra) for name, extra in agents.items()]
    text = "---\n".join([f"kind: settings\n{settings}", PROVIDER, *documents])
    catalog = load_catalog()
    blueprint = validate(parse_documents(text, "blueprints/site/x.yaml"), catalog).blueprint
    return plan(blueprint, lock or {}, catalog, "test-set")


def test_agents_name_their_host_and_the_plan_keeps_the_endpoints() -> None:
    the_plan = planned(HOSTS, {"a": "host: edge-1\n", "b": "host: edge-2\n", "c": ""})
    assert [the_plan.agents[n].host for n in "abc"] == ["edge-1", "edge-2", None]
    assert the_plan.hosts["edge-1"].docker == "ssh://ops@10.0.0.11"
    assert the_plan.hosts["lab"].is_context and not the_plan.hosts["edge-1"].is_context
    tls = the_plan.hosts["edge-2"].tls
    assert tls is not None
    # relative to the settings file; an absolute path as written
    assert (tls.ca, tls.cert, tls.key) == (
        "blueprints/site/certs/ca.pem",
        "blueprints/site/certs/cert.pem",
        "/etc/avr/key.pem",
    )


def test_without_hosts_nothing_changes() -> None:
    the_plan = planned("target: compose\n", {"a": "", "b": ""})
    assert the_plan.hosts == {}
    assert all(agent.host is None for agent in the_plan.agents.values())


def test_the_same_pin_on_two_hosts() -> None:
    agents = {
        "a": "host: edge-1\nports: {core: 5100}\n",
        "b": "host: edge-2\nports: {core: 5100}\n",
        "c": "",
    }
    the_plan = planned(HOSTS, agents)
    assert the_plan.lock["a"]["core"] == the_plan.lock["b"]["core"] == 5100
    assert the_plan.lock["c"]["core"] != 5100  # allocated: never a port pinned anywhere


def test_moving_an_agent_or_adding_a_host_moves_no_port() -> None:
    agents = {name: "" for name in ("a", "b", "c", "d")}
    before = planned("target: compose\n", agents)
    moved = planned(HOSTS, {**agents, "b": "host: edge-1\n", "c": "host: edge-2\n"}, before.lock)
    assert moved.lock == before.lock
    ports = [p for roles in moved.lock.values() for p in roles.values()]
    assert len(ports) == len(set(ports))  # unique across every host, not only per host
