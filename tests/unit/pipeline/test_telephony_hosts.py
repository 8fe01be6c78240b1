"""Calls across hosts (settings.hosts): the telephony stack on one host (`telephony.host`);
a number routed to an agent on another host dials that agent's core at the address it is
published on, and its providers reach avr-ami where `telephony.ami.publish` publishes it.
What validate refuses (and warns about) is named by file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from blueprint_folder import write_blueprints

from avrgen.errors import BlueprintError
from avrgen.model.plan import Plan, PublishedPort
from avrgen.pipeline.catalog import load_catalog
from avrgen.pipeline.load import load_blueprints
from avrgen.pipeline.plan import plan
from avrgen.pipeline.render import Renderer
from avrgen.pipeline.validate import validate


def blueprints(telephony: str, far_core: str = "{publish: {host_ip: 10.0.0.12}}") -> str:
    return f"""\
kind: settings
hosts:
  edge-1: {{docker: "tcp://10.0.0.11:2376"}}
  edge-2: {{docker: "tcp://10.0.0.12:2376"}}
telephony:
{telephony}
---
kind: provider
name: STS
type: STS
config: {{image: "example/sts:1"}}
---
kind: agent
name: near
mode: sts
providers: {{sts: STS}}
host: edge-1
---
kind: agent
name: far
mode: sts
providers: {{sts: STS}}
host: edge-2
core: {far_core}
---
kind: number
number: "5001"
agent: near
---
kind: number
number: "5002"
agent: far
"""


STACK_ON_EDGE_1 = """\
  host: edge-1
  asterisk: {ami: {username: avr, password: {secret: AMI_PASSWORD}}}
  ami: {publish: {host_ip: 10.0.0.11}}"""


def plan_of(folder: Path, text: str) -> Plan:
    write_blueprints(folder, {"all.yaml": text})
    catalog = load_catalog()
    checked = validate(load_blueprints(folder), catalog)
    return plan(checked.blueprint, {}, catalog, "test-set")


def problems(folder: Path, text: str) -> list[tuple[int, str, str, str]]:
    """(line, field, severity, message) of each problem validate reports."""
    write_blueprints(folder, {"all.yaml": text})
    try:
        checked = validate(load_blueprints(folder), load_catalog())
    except BlueprintError as exc:
        return [(p.line, p.path, p.severity, p.message) for p in exc.problems]
    return [(p.line, p.path, p.severity, p.message) for p in checked.warnings]


def test_an_agent_on_another_host_is_dialled_where_its_core_is_published(tmp_path: Path) -> None:
    the_plan = plan_of(tmp_path, blueprints(STACK_ON_EDGE_1))
    telephony = the_plan.telephony
    assert telephony is not None and telephony.host == "edge-1"
    routes = {n.number: n for n in telephony.numbers}
    near, far = the_plan.agents["near"].core, the_plan.agents["far"].core
    assert (routes["5001"].core, routes["5001"].port) == ("avr-core-near", near.port)
    assert (routes["5002"].core, routes["5002"].port) == ("10.0.0.12", far.port)
    extensions = Renderer().render(the_plan)["_telephony/my_extensions.conf"].decode()
    assert f"Dial(AudioSocket/10.0.0.12:{far.port}/${{UUID}})" in extensions
    assert f"CURL(http://10.0.0.12:{far.http_port}/call," in extensions
    assert f"Dial(AudioSocket/avr-core-near:{near.port}/${{UUID}})" in extensions


def test_providers_on_another_host_reach_avr_ami_where_it_is_published(tmp_path: Path) -> None:
    the_plan = plan_of(tmp_path, blueprints(STACK_ON_EDGE_1))
    env = {a: dict(the_plan.agents[a].containers[0].env) for a in ("near", "far")}
    assert env["near"]["AMI_URL"] == "http://avr-ami:6006"  # the stack's own host: by name
    assert env["far"]["AMI_URL"] == "http://10.0.0.11:6006"
    telephony = the_plan.telephony
    assert telephony is not None
    assert telephony.ami_published == (PublishedPort("10.0.0.11", "6006", "tcp"),)
    compose = Renderer().render(the_plan)["_telephony/docker-compose.yml"].decode()
    assert '    ports:\n      - "10.0.0.11:6006:6006/tcp"\n    environment:' in compose


@pytest.mark.parametrize(
    ("far_core", "how"),
    [("{}", "not published"), ("{publish: {host_ip: 127.0.0.1}}", "published on 127.0.0.1")],
)
def test_an_agent_on_another_host_asterisk_cannot_reach_is_refused(
    tmp_path: Path, far_core: str, how: str
) -> None:
    found = problems(tmp_path, blueprints(STACK_ON_EDGE_1, far_core))
    (problem,) = [p for p in found if p[2] == "error"]
    assert problem[:3] == (34, "agent", "error")  # the number routed to it: `agent: far`
    assert problem[3] == (
        "agent 'far' runs on host 'edge-2' and the telephony stack on host 'edge-1': "
        f"Asterisk dials its core at the address it is published on, and it is {how}; "
        "publish it on an address of that host Asterisk reaches "
        "(core: {publish: {host_ip: ADDRESS}})"
    )


def test_a_stack_host_that_is_not_in_the_hosts_is_named(tmp_path: Path) -> None:
    found = problems(tmp_path, blueprints("  host: edge-3"))
    assert (6, "telephony.host", "error") in [p[:3] for p in found]
    message = next(p[3] for p in found if p[1] == "telephony.host")
    assert message == "no host named 'edge-3' (did you mean 'edge-2'?)"


def test_avr_ami_not_published_for_agents_on_another_host_is_a_warning(tmp_path: Path) -> None:
    stack = """\
  host: edge-1
  asterisk: {ami: {username: avr, password: {secret: AMI_PASSWORD}}}
  ami: {}"""
    found = problems(tmp_path, blueprints(stack))
    assert found == [
        (
            8,
            "telephony.ami",
            "warning",
            "agent(s) far run on another host than avr-ami (host 'edge-1'): their providers' "
            "tools (transfer, hangup) cannot reach it by name; publish it "
            "(telephony.ami.publish: {host_ip: ADDRESS}) and they get its address",
        )
    ]
