"""The shared data types: the field rules (env values, port ranges, ids), the did-you-mean,
a document's field lines, the plan's derived views and a catalog template's defaults."""

from __future__ import annotations

from uuid import UUID, uuid5

import pytest
from pydantic import ValidationError

from avrgen.model.blueprint import Agent, NetworkSettings, PortSettings, Provider, Secret
from avrgen.model.catalog import ProviderTemplate, Source
from avrgen.model.document import Document
from avrgen.model.fields import ID_NAMESPACE, PortRange, derived_id
from avrgen.model.names import AGENT_NAME_RE, suggest
from avrgen.model.plan import AgentPlan, Container, Plan


def errors_of(model: type, data: dict[str, object]) -> list[tuple[tuple[object, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)  # type: ignore[attr-defined]
    return [(tuple(e["loc"]), e["msg"]) for e in caught.value.errors()]


AGENT = {"kind": "agent", "name": "a", "mode": "sts", "providers": {"sts": "p"}}


def test_env_values_are_text_or_a_secret() -> None:
    agent = Agent.model_validate({**AGENT, "env": {"A": "x", "B": {"secret": "B_KEY"}}})
    assert agent.env == {"A": "x", "B": Secret(secret="B_KEY")}
    assert errors_of(Agent, {**AGENT, "env": {"A": "x\x00y"}}) == [
        (("env", "A"), "Value error, NUL byte in value")
    ]
    assert errors_of(Agent, {**AGENT, "env": {"A": 1}}) == [
        (("env", "A"), "Value error, expected a text value or {secret: NAME}")
    ]
    assert errors_of(Agent, {**AGENT, "env": {"A": {"secret": "x y"}}})[0][0] == (
        "env",
        "A",
        "secret",
    )


@pytest.mark.parametrize(
    ("text", "low", "high"), [("6000-6999", 6000, 6999), (" 1 - 2 ", 1, 2), ("5-5", 5, 5)]
)
def test_port_ranges(text: str, low: int, high: int) -> None:
    ports = PortSettings.model_validate({"providers": text})
    assert (ports.providers.low, ports.providers.high) == (low, high)
    assert ports.providers.size == high - low + 1
    assert str(ports.providers) == f"{low}-{high}"
    assert low in ports.providers and high in ports.providers
    assert low - 1 not in ports.providers and high + 1 not in ports.providers
    assert str(low) not in ports.providers  # a port is a number
    assert ports.model_dump()["providers"] == f"{low}-{high}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("7-6", "Value error, range 7-6 is empty"),
        ("a-b", "Value error, expected a range like 6000-6999"),
        ("6000", "Value error, expected a range like 6000-6999"),
    ],
)
def test_bad_port_ranges(text: str, message: str) -> None:
    assert errors_of(PortSettings, {"core": text}) == [(("core",), message)]


def test_a_range_beyond_the_ports_is_refused() -> None:
    assert [loc for loc, _ in errors_of(PortSettings, {"core": "0-70000"})] == [
        ("core", "low"),
        ("core", "high"),
    ]


def test_derived_ids_are_uuid5_of_kind_and_name() -> None:
    assert UUID("6f1e0d2c-5a3b-4c7d-9e8f-a1b2c3d4e5f6") == ID_NAMESPACE
    assert derived_id("agent:a") == uuid5(ID_NAMESPACE, "agent:a")
    agent = Agent.model_validate(AGENT)
    assert agent.stable_id == uuid5(ID_NAMESPACE, "agent:a")
    own = UUID("11111111-1111-4111-8111-111111111111")
    assert Agent.model_validate({**AGENT, "id": str(own)}).stable_id == own
    provider = Provider.model_validate(
        {"kind": "provider", "name": "p", "type": "STS", "config": {"image": "i"}}
    )
    assert provider.stable_id == uuid5(ID_NAMESPACE, "provider:p")


def test_suggestions() -> None:
    assert suggest("agnet", ["agent", "provider"]) == " (did you mean 'agent'?)"
    assert suggest("zzz", ["agent", "provider"]) == ""
    assert suggest("providr", iter(["provider", "providers"])) == " (did you mean 'provider'?)"
    assert AGENT_NAME_RE.match("a" * 40) and not AGENT_NAME_RE.match("a" * 41)
    assert not AGENT_NAME_RE.match("-a") and AGENT_NAME_RE.match("0-a")


def test_a_document_gives_the_line_of_the_deepest_written_field() -> None:
    doc = Document("f.yaml", 3, {}, {("a",): 4, ("a", "b"): 5})
    assert doc.line_of(("a", "b", "c")) == 5
    assert doc.line_of(("a", "x")) == 4
    assert doc.line_of(("z",)) == 3
    assert doc.line_of(()) == 3
    assert Document("f.yaml", 1, {}).lines == {}


def test_the_plans_views() -> None:
    secret = Secret(secret="KEY")
    provider = Container("sts", "avr-sts-a", "i", (("A", "1"), ("K", secret)), 6000, ())
    core = Container("core", "avr-core-a", "c", (("S", Secret(secret="S2")),), 5000, ())
    assert provider.literal_env == (("A", "1"),)
    assert provider.secret_env == (("K", "KEY"),)
    agent = AgentPlan("a", "id", "sts", None, (provider, core))
    assert agent.core is core
    assert agent.project == "avr-a"
    assert agent.secrets == frozenset({"KEY", "S2"})
    other = AgentPlan("b", "id2", "sts", None, (core,))
    plan = Plan(NetworkSettings(), {"a": agent, "b": other}, {})
    assert plan.secrets == frozenset({"KEY", "S2"})
    assert plan.target == "compose"
    assert Plan(NetworkSettings(), {}, {}).secrets == frozenset()


TEMPLATE = {"name": "t", "title": "T", "type": "ASR", "image": "img", "tag": "1"}


def test_a_templates_defaults() -> None:
    template = ProviderTemplate.model_validate(TEMPLATE)
    assert template.image_ref == "img:1"
    assert template.url_path == "/speech-to-text-stream"
    assert template.takes_ami is False
    assert ProviderTemplate.model_validate({**TEMPLATE, "type": "LLM"}).takes_ami is True
    assert ProviderTemplate.model_validate({**TEMPLATE, "type": "STS"}).url_path == ""
    own = ProviderTemplate.model_validate({**TEMPLATE, "path": "/own", "ami": True})
    assert (own.url_path, own.takes_ami) == ("/own", True)
    assert ProviderTemplate.model_validate({**TEMPLATE, "path": ""}).url_path == ""
    sts = ProviderTemplate.model_validate({**TEMPLATE, "type": "STS", "ami": False})
    assert sts.takes_ami is False
    keys = ProviderTemplate.model_validate(
        {**TEMPLATE, "required": ["A"], "optional": {"B": ""}, "secrets": ["A"]}
    )
    assert keys.known_keys == frozenset({"A", "B"})


def test_a_templates_keys_must_agree() -> None:
    assert errors_of(
        ProviderTemplate, {**TEMPLATE, "required": ["A", "B"], "optional": {"A": "", "B": ""}}
    ) == [((), "Value error, keys both required and optional: A, B")]
    assert errors_of(ProviderTemplate, {**TEMPLATE, "secrets": ["Z", "Y"]}) == [
        ((), "Value error, secrets names keys that are neither required nor optional: Y, Z")
    ]
    assert errors_of(ProviderTemplate, {**TEMPLATE, "optional": {"A": ""}, "help": {"B": "x"}}) == [
        ((), "Value error, help names keys that are neither required nor optional: B")
    ]


def test_port_range_membership_is_inclusive() -> None:
    r = PortRange(low=10, high=12)
    assert [p for p in range(8, 15) if p in r] == [10, 11, 12]
    assert r.size == 3


def test_a_templates_source_reads_as_one_line() -> None:
    both = Source(repository="github.com/x/y", document="README.md", version="1.2.0", note="n")
    assert str(both) == "github.com/x/y 1.2.0 (README.md); n"
    assert str(Source(document="https://docs")) == "https://docs"
    with pytest.raises(ValidationError):
        Source()
