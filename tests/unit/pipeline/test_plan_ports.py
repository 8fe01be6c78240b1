"""The plan stage's exact decisions, on blueprints built in the test: where a new port goes
(its hash, then upwards with wrap-around), pins of every role, the lock kept or not, "no
free port" for every range, and every env value, URL, label and image of the containers.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

import pytest

from avrgen.errors import PlanError
from avrgen.model.blueprint import (
    Agent,
    Blueprint,
    PortSettings,
    Provider,
    Secret,
    Settings,
)
from avrgen.model.catalog import ProviderTemplate
from avrgen.pipeline.plan import allocate_ports, plan

AGENT_ID = "11111111-1111-4111-8111-111111111111"
ROLES_PIPELINE = ("core", "http", "asr", "llm", "tts")


def start_of(key: str, low: int, size: int) -> int:
    """Where a new container's port search starts: sha256 of `agent/role`, 8 bytes, big end."""
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return low + digest % size


def ports(
    core: str = "5000-5999", http: str = "7000-7999", providers: str = "6000-6999"
) -> PortSettings:
    return PortSettings.model_validate({"core": core, "http": http, "providers": providers})


def agent(name: str, mode: str = "sts", **extra: object) -> Agent:
    providers = {"sts": "live"} if mode == "sts" else {"asr": "ear", "llm": "mind", "tts": "voice"}
    return Agent.model_validate(
        {"kind": "agent", "name": name, "mode": mode, "providers": providers, **extra}
    )


def blueprint(*agents: Agent, port_settings: PortSettings | None = None) -> Blueprint:
    return Blueprint(
        settings=Settings(ports=port_settings or ports()),
        providers=PROVIDERS,
        agents={a.name: a for a in agents},
    )


PROVIDERS = {
    p.name: p
    for p in (
        Provider.model_validate(
            {"kind": "provider", "name": "live", "type": "STS", "config": {"image": "sts:1"}}
        ),
        Provider.model_validate(
            {
                "kind": "provider",
                "name": "ear",
                "type": "ASR",
                "id": "22222222-2222-4222-8222-222222222222",
                "template": "asr-own",
                "config": {"env": {"LANG": "de", "KEY": {"secret": "EAR_KEY"}}},
            }
        ),
        Provider.model_validate(
            {
                "kind": "provider",
                "name": "mind",
                "type": "LLM",
                "config": {"image": "llm:2", "env": {"AMI_URL": "http://own-ami:1"}},
            }
        ),
        Provider.model_validate(
            {"kind": "provider", "name": "voice", "type": "TTS", "template": "tts-ami"}
        ),
    )
}
CATALOG = {
    "asr-own": ProviderTemplate.model_validate(
        {
            "name": "asr-own",
            "title": "t",
            "type": "ASR",
            "image": "ear/img",
            "tag": "3",
            "path": "/own-path",
        }
    ),
    "tts-ami": ProviderTemplate.model_validate(
        {"name": "tts-ami", "title": "t", "type": "TTS", "image": "v", "tag": "4", "ami": True}
    ),
}


# -- new ports: the hash, then upwards -------------------------------------------------------


@pytest.mark.parametrize("role", ["core", "http", "sts"])
def test_a_new_port_is_the_hash_of_agent_and_role(role: str) -> None:
    low = {"core": 5000, "http": 7000, "sts": 6000}[role]
    result = allocate_ports(blueprint(agent("solo")), {})
    assert result["solo"][role] == start_of(f"solo/{role}", low, 1000)


@pytest.mark.parametrize("role", ["core", "http", "sts"])
def test_a_taken_hash_port_probes_upwards(role: str) -> None:
    """A collision moves to the next port up: a change of direction would move new agents'
    ports between versions."""
    low = {"core": 5000, "http": 7000, "sts": 6000}[role]
    first = start_of(f"solo/{role}", low, 1000)
    pinned = agent("other", ports={role: first})
    result = allocate_ports(blueprint(agent("solo"), pinned), {})
    assert result["other"][role] == first
    expected = first + 1 if first < low + 999 else low
    assert result["solo"][role] == expected


def test_probing_wraps_around_to_the_low_end() -> None:
    """In a range of two, the port that is not taken is found from either start."""
    for taken in (6000, 6001):
        pin = agent("other", ports={"sts": taken})
        small = ports(providers="6000-6001")
        result = allocate_ports(blueprint(agent("solo"), pin, port_settings=small), {})
        assert result["solo"]["sts"] == 6001 - (taken - 6000)


def test_a_range_of_one_port_is_used() -> None:
    small = ports(core="5100-5100", http="7100-7100", providers="6100-6100")
    result = allocate_ports(blueprint(agent("solo"), port_settings=small), {})
    assert result == {"solo": {"core": 5100, "http": 7100, "sts": 6100}}


@pytest.mark.parametrize("role", ROLES_PIPELINE)
def test_a_pin_of_every_role_wins(role: str) -> None:
    low = {"core": 5000, "http": 7000}.get(role, 6000)
    pin = low + 123
    result = allocate_ports(blueprint(agent("pipe", "pipeline", ports={role: pin})), {})
    assert result["pipe"][role] == pin
    assert sorted(result["pipe"]) == sorted(ROLES_PIPELINE)


@pytest.mark.parametrize("role", ["core", "http", "sts"])
def test_a_pin_wins_over_another_agents_lock(role: str) -> None:
    locked = {"core": 5500, "http": 7500, "sts": 6500}[role]
    lock = {"a": {role: locked}}
    result = allocate_ports(blueprint(agent("a"), agent("b", ports={role: locked})), lock)
    assert result["b"][role] == locked
    assert result["a"][role] != locked


@pytest.mark.parametrize("role", ["core", "http", "sts"])
def test_the_lock_is_kept_where_it_fits(role: str) -> None:
    locked = {"core": 5432, "http": 7432, "sts": 6432}[role]
    result = allocate_ports(blueprint(agent("a")), {"a": {role: locked}})
    assert result["a"][role] == locked


@pytest.mark.parametrize(("role", "outside"), [("core", 7432), ("http", 5432), ("sts", 5999)])
def test_a_lock_entry_outside_its_own_range_is_not_kept(role: str, outside: int) -> None:
    """Each role is checked against its own range (core, http, or the providers')."""
    result = allocate_ports(blueprint(agent("a")), {"a": {role: outside}})
    low = {"core": 5000, "http": 7000, "sts": 6000}[role]
    assert result["a"][role] == start_of(f"a/{role}", low, 1000)


def test_a_lock_entry_another_agent_pinned_goes_to_the_hash() -> None:
    first = start_of("a/sts", 6000, 1000)
    locked = 6000 if first != 6000 else 6001
    lock = {"a": {"sts": locked}}
    result = allocate_ports(blueprint(agent("a"), agent("b", ports={"sts": locked})), lock)
    assert result["a"]["sts"] == first


def test_two_agents_locked_on_one_port_keep_the_first_by_name() -> None:
    lock = {"a": {"sts": 6500}, "b": {"sts": 6500}}
    result = allocate_ports(blueprint(agent("b"), agent("a")), lock)
    assert result["a"]["sts"] == 6500
    assert result["b"]["sts"] == start_of("b/sts", 6000, 1000)


def test_lock_entries_of_agents_and_roles_that_are_gone_are_dropped() -> None:
    lock = {"gone": {"core": 5001}, "a": {"asr": 6001, "sts": 6002}}
    result = allocate_ports(blueprint(agent("a")), lock)
    assert set(result) == {"a"}
    assert set(result["a"]) == {"core", "http", "sts"}
    assert result["a"]["sts"] == 6002


@pytest.mark.parametrize(
    ("kind", "settings", "role"),
    [
        ("core", {"core": "5000-5000"}, "core"),
        ("http", {"http": "7000-7000"}, "http"),
        ("providers", {"providers": "6000-6000"}, "sts"),
    ],
)
def test_no_free_port_names_the_range_the_agent_and_the_setting(
    kind: str, settings: dict[str, str], role: str
) -> None:
    tight = ports(**settings)
    bp = blueprint(agent("a"), agent("b"), port_settings=tight)
    with pytest.raises(PlanError) as caught:
        allocate_ports(bp, {})
    low = next(iter(settings.values()))
    assert str(caught.value) == (
        f"no free port left in the {kind} range {low} for agent 'b' ({role});"
        f" widen `ports.{kind}` in the settings"
    )


# -- the containers ----------------------------------------------------------------------------


def test_a_pipeline_agent_plans_every_value() -> None:
    pinned = {"core": 5001, "http": 7001, "asr": 6001, "llm": 6002, "tts": 6003}
    me = agent(
        "pipe",
        "pipeline",
        id=AGENT_ID,
        tenant="acme",
        ports=pinned,
        env={"SHARED": "agent", "LANG": "en"},
        core={"env": {"CORE_ONLY": "1", "SHARED": "core"}, "publish": True},
    )
    settings = {
        "ports": {"core": "5000-5999", "http": "7000-7999", "providers": "6000-6999"},
        "ami_url": "http://ami:6006",
        "core": {"image": "core:9", "env": {"SHARED": "settings", "FROM_SETTINGS": "s"}},
    }
    bp = Blueprint(
        settings=Settings.model_validate(settings),
        providers=PROVIDERS,
        agents={"pipe": me},
    )
    result = plan(bp, {}, CATALOG, "test-set")
    assert result.lock == {"pipe": pinned}
    assert result.target == "compose"
    pipe = result.agents["pipe"]
    assert (pipe.name, pipe.id, pipe.mode, pipe.tenant) == ("pipe", AGENT_ID, "pipeline", "acme")
    assert pipe.constraints == ()
    asr, llm, tts, core = pipe.containers
    base = (("AGENT_ID", AGENT_ID), ("AGENT_NAME", "pipe"))
    ear_id = "22222222-2222-4222-8222-222222222222"
    assert asr.role == "asr"
    assert asr.name == "avr-asr-pipe"
    assert asr.image == "ear/img:3"
    assert asr.port == 6001
    assert asr.provider == "ear"
    assert asr.http_port is None
    assert asr.published == ()
    assert asr.env == (
        *base,
        ("SHARED", "agent"),
        ("LANG", "de"),
        ("KEY", Secret(secret="EAR_KEY")),
        ("PROVIDER_ASR_ID", ear_id),
        ("PROVIDER_ASR_NAME", "ear"),
        ("PROVIDER_ASR_TYPE", "ASR"),
        ("PORT", "6001"),
    )
    assert asr.labels == (
        ("app", "AVR"),
        ("agentName", "avr-asr-pipe"),
        ("tenant", "acme"),
        ("avrgen.agent", "pipe"),
        ("avrgen.role", "asr"),
        ("avrgen.set", "test-set"),
        ("avrgen.managed", "true"),
        ("avrgen.provider", "ear"),
        ("avrgen.provider-type", "ASR"),
    )
    mind_id = str(PROVIDERS["mind"].stable_id)
    assert llm.image == "llm:2"
    assert llm.env == (
        *base,
        ("SHARED", "agent"),
        ("LANG", "en"),
        ("PROVIDER_LLM_ID", mind_id),
        ("PROVIDER_LLM_NAME", "mind"),
        ("PROVIDER_LLM_TYPE", "LLM"),
        ("PORT", "6002"),
        ("AMI_URL", "http://own-ami:1"),
    )
    voice_id = str(PROVIDERS["voice"].stable_id)
    assert tts.image == "v:4"
    assert tts.env[-2:] == (("PORT", "6003"), ("AMI_URL", "http://ami:6006"))
    assert ("PROVIDER_TTS_ID", voice_id) in tts.env
    assert core.role == "core"
    assert core.name == "avr-core-pipe"
    assert core.image == "core:9"
    assert core.port == 5001
    assert core.http_port == 7001
    assert core.provider is None
    assert core.published == (5001, 7001)
    assert core.env == (
        *base,
        ("PORT", "5001"),
        ("HTTP_PORT", "7001"),
        ("ASR_URL", "http://avr-asr-pipe:6001/own-path"),
        ("LLM_URL", "http://avr-llm-pipe:6002/prompt-stream"),
        ("TTS_URL", "http://avr-tts-pipe:6003/text-to-speech-stream"),
        ("SHARED", "core"),
        ("FROM_SETTINGS", "s"),
        ("CORE_ONLY", "1"),
    )
    assert core.labels == (
        ("app", "AVR"),
        ("agentName", "avr-core-pipe"),
        ("tenant", "acme"),
        ("avrgen.agent", "pipe"),
        ("avrgen.role", "core"),
        ("avrgen.set", "test-set"),
        ("avrgen.managed", "true"),
    )


def test_an_sts_agent_without_template_tenant_or_publish() -> None:
    me = agent("talk", ports={"core": 5002, "http": 7002, "sts": 6002}, core={"image": "mine:1"})
    result = plan(blueprint(me), {}, {}, "test-set")
    sts, core = result.agents["talk"].containers
    assert sts.image == "sts:1"
    assert sts.env[-1] == ("AMI_URL", "http://avr-ami:6006")
    assert ("tenant", "acme") not in sts.labels
    assert [k for k, _ in sts.labels] == [
        "app",
        "agentName",
        "avrgen.agent",
        "avrgen.role",
        "avrgen.set",
        "avrgen.managed",
        "avrgen.provider",
        "avrgen.provider-type",
    ]
    assert dict(core.env)["STS_URL"] == "ws://avr-sts-talk:6002"
    assert core.image == "mine:1"
    assert core.published == ()
    assert result.agents["talk"].id == str(UUID(result.agents["talk"].id))
    assert result.agents["talk"].tenant is None


def test_a_provider_without_image_or_template_has_an_empty_image() -> None:
    bare = Provider.model_validate({"kind": "provider", "name": "live", "type": "STS"})
    bp = Blueprint(
        settings=Settings(ports=ports()), providers={"live": bare}, agents={"a": agent("a")}
    )
    assert plan(bp, {}, {}, "test-set").agents["a"].containers[0].image == ""


def test_the_settings_placement_and_target_reach_the_plan() -> None:
    settings = {"target": "swarm", "swarm": {"placement": {"node": "n1", "labels": {"z": "1"}}}}
    own = agent("own", placement={"labels": {"a": "b"}})
    bp = Blueprint(
        settings=Settings.model_validate(settings),
        providers=PROVIDERS,
        agents={"plain": agent("plain"), "own": own},
    )
    result = plan(bp, {}, {}, "test-set")
    assert result.target == "swarm"
    assert result.swarm == bp.settings.swarm
    assert result.network == bp.settings.network
    assert list(result.agents) == ["own", "plain"]
    assert result.agents["plain"].constraints == ("node.hostname == n1", "node.labels.z == 1")
    assert result.agents["own"].constraints == ("node.labels.a == b",)


def test_the_settings_set_id_wins_over_the_locked_one_and_labels_every_container() -> None:
    bp = Blueprint(
        settings=Settings.model_validate({"set": "support-prod"}),
        providers=PROVIDERS,
        agents={"a": agent("a")},
    )
    named = plan(bp, {}, {}, "from-lock")
    assert named.set_id == "support-prod"
    assert all(("avrgen.set", "support-prod") in c.labels for c in named.agents["a"].containers)
    unnamed_bp = Blueprint(providers=PROVIDERS, agents={"a": agent("a")})
    unnamed = plan(unnamed_bp, {}, {}, "from-lock")
    assert unnamed.set_id == "from-lock"
