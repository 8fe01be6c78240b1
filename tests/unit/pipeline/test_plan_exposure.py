"""Where core's ports bind, and the ports no agent gets (issue 16, exposure)."""

from __future__ import annotations

from avrgen.model.plan import Lock, Plan
from avrgen.pipeline.catalog import load_catalog
from avrgen.pipeline.load import parse_documents
from avrgen.pipeline.plan import plan
from avrgen.pipeline.validate import validate

PROVIDER = "kind: provider\nname: Echo\ntype: STS\nconfig: {image: example/sts:1}\n"
AGENT = "kind: agent\nname: {}\nmode: sts\nproviders: {{sts: Echo}}\n{}"


def planned(settings: str, agents: dict[str, str], lock: Lock | None = None) -> Plan:
    documents = [AGENT.format(name, extra) for name, extra in agents.items()]
    text = "---\n".join([f"kind: settings\n{settings}", PROVIDER, *documents])
    catalog = load_catalog()
    blueprint = validate(parse_documents(text, "x.yaml"), catalog).blueprint
    return plan(blueprint, lock or {}, catalog, "test-set")


def test_no_agent_port_lands_on_a_reserved_one() -> None:
    # five core ports, two of them reserved by default (5060, 5061): three agents fit
    the_plan = planned("ports: {core: 5058-5062}\n", dict.fromkeys(("a", "b", "c"), ""))
    assert sorted(p["core"] for p in the_plan.lock.values()) == [5058, 5059, 5062]


def test_a_locked_port_now_reserved_is_renumbered_the_rest_kept() -> None:
    lock = {
        "a": {"core": 5060, "http": 7000, "sts": 6000},
        "b": {"core": 5058, "http": 7001, "sts": 6001},
    }
    the_plan = planned("ports: {core: 5058-5062}\n", {"a": "", "b": ""}, lock)
    assert the_plan.lock["b"] == lock["b"]
    assert the_plan.lock["a"]["core"] in (5059, 5062) and the_plan.lock["a"]["http"] == 7000


def test_reserved_ports_are_a_setting() -> None:
    the_plan = planned("ports: {core: 5060-5060, reserved: []}\n", {"a": ""})
    assert the_plan.lock["a"]["core"] == 5060
    the_plan = planned("ports: {core: 5500-5502, reserved: [5500, 5501-5501]}\n", {"a": ""})
    assert the_plan.lock["a"]["core"] == 5502


def test_published_ports_bind_to_localhost_unless_told() -> None:
    agents = {
        "quiet": "",
        "local": "core: {publish: true}\n",
        "lan": "core: {publish: {host_ip: 10.0.0.5}}\n",
        "six": "core: {publish: {host_ip: '::1'}}\n",
    }
    the_plan = planned("", agents)
    core = {name: agent.core for name, agent in the_plan.agents.items()}
    assert core["quiet"].port_mappings == ()
    port, http = core["local"].port, core["local"].http_port
    assert core["local"].port_mappings == (f"127.0.0.1:{port}:{port}", f"127.0.0.1:{http}:{http}")
    assert core["lan"].port_mappings[0] == f"10.0.0.5:{core['lan'].port}:{core['lan'].port}"
    assert core["six"].port_mappings[0] == f"[::1]:{core['six'].port}:{core['six'].port}"
    elsewhere = planned("publish: {host_ip: 192.168.1.2}\n", {"local": "core: {publish: true}\n"})
    assert elsewhere.agents["local"].core.host_ip == "192.168.1.2"
