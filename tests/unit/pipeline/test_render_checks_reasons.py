"""The render stage's own contract, called directly: the parse-back checks' reasons (the
agent, the file, the role and what differs, the exact differing keys of an env file), the
escaping filters' bytes, StrictUndefined, the target and templates folder refused, and the
checks that wait until check() runs them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from avrgen.errors import TemplateError
from avrgen.fs.lock import read_set_id
from avrgen.fs.package import default_templates
from avrgen.model.plan import Plan
from avrgen.pipeline import escape, render
from avrgen.pipeline.catalog import load_catalog
from avrgen.pipeline.checks import check_compose, check_env_file, check_stack, read_rendered
from avrgen.pipeline.load import load_blueprints
from avrgen.pipeline.plan import plan
from avrgen.pipeline.render import Renderer
from avrgen.pipeline.validate import validate
from tests.conftest import BUNDLED_BLUEPRINTS


@pytest.fixture(scope="module")
def bundled_plan() -> Plan:
    validated = validate(load_blueprints(BUNDLED_BLUEPRINTS), load_catalog())
    return plan(validated.blueprint, {}, load_catalog(), read_set_id(BUNDLED_BLUEPRINTS) or "")


def rendered(bundled_plan: Plan, target: str, name: str) -> dict[str, str]:
    files = Renderer(target=target).render(bundled_plan, only={name})
    return {path: data.decode() for path, data in files.items()}


def refused(call, *args: object) -> str:
    with pytest.raises(TemplateError) as caught:
        call(*args)
    return str(caught.value)


# -- compose -----------------------------------------------------------------------------------

COMPOSE_CASES = {
    # edit of the rendered text -> the reason after "does not match the plan ("
    "container name": (
        lambda t: t.replace('container_name: "avr-core-billing"', 'container_name: "x"'),
        "core: container name differs",
    ),
    "environment": (
        lambda t: t.replace(":?secret DEEPGRAM_API_KEY is not set}", "}", 1),
        "asr: environment differs",
    ),
    "networks": (
        lambda t: t.replace('    networks:\n      - "avr"', '    networks:\n      - "other"', 1),
        "asr: networks differ",
    ),
    "external": (
        lambda t: t.replace("external: true", "external: false"),
        "network is not external",
    ),
    "image": (
        lambda t: t.replace('image: "agentvoiceresponse/avr-core', 'image: "x/avr-core'),
        "core: image differs",
    ),
    "services": (lambda t: t.replace("  tts:\n", "  speech:\n"), "services differ"),
    "missing": (
        lambda t: t.replace('    container_name: "avr-llm-billing"\n', ""),
        "'container_name'",
    ),
}


@pytest.mark.parametrize("case", sorted(COMPOSE_CASES))
def test_a_compose_file_that_differs_names_the_role_and_what(case: str, bundled_plan: Plan) -> None:
    edit, reason = COMPOSE_CASES[case]
    agent = bundled_plan.agents["billing"]
    text = rendered(bundled_plan, "compose", "billing")["billing/docker-compose.yml"]
    check_compose(agent, bundled_plan.network, text)  # as rendered: it matches
    changed = edit(text)
    assert changed != text
    message = refused(check_compose, agent, bundled_plan.network, changed)
    prefix = "agent 'billing': docker-compose.yml: the rendered file does not match the plan ("
    assert message == f"{prefix}{reason})"


def test_a_compose_file_that_does_not_read_back_names_where() -> None:
    with pytest.raises(ValueError) as caught:
        read_rendered("a: [\n")
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("YAML parse error at line")


# -- env files ---------------------------------------------------------------------------------


def test_an_env_file_that_differs_names_exactly_the_differing_keys(bundled_plan: Plan) -> None:
    agent = bundled_plan.agents["billing"]
    core = agent.core
    text = rendered(bundled_plan, "compose", "billing")["billing/core.env"]
    check_env_file(agent, core, text)
    lines = text.split("\n")
    first_key = next(line for line in lines if line and not line.startswith("#")).split("=")[0]
    without = "\n".join(line for line in lines if not line.startswith(first_key + "="))
    extra = text + 'ZZ_EXTRA="1"\nAA_EXTRA="2"\n'
    changed_value = text.replace(f'{first_key}="', f'{first_key}="x', 1)
    assert refused(check_env_file, agent, core, without) == (
        f"agent 'billing': core.env does not match the plan: {first_key}"
    )
    assert refused(check_env_file, agent, core, extra) == (
        "agent 'billing': core.env does not match the plan: AA_EXTRA, ZZ_EXTRA"
    )
    assert refused(check_env_file, agent, core, changed_value) == (
        "agent 'billing': core.env does not match the plan: (values)"
    )
    assert refused(check_env_file, agent, core, text + "BAD=unquoted\n") == (
        "agent 'billing': core.env: not a double-quoted value"
    )


def test_comments_and_empty_lines_of_an_env_file_are_not_values(bundled_plan: Plan) -> None:
    agent = bundled_plan.agents["billing"]
    text = rendered(bundled_plan, "compose", "billing")["billing/asr.env"]
    check_env_file(agent, agent.containers[0], "# note=\n\n" + text + '\n#X="1"\n')


# -- stack -------------------------------------------------------------------------------------

STACK_CASES = {
    "container_name": (
        lambda t: t.replace("    image:", '    container_name: "x"\n    image:', 1),
        "sts: container_name in a stack",
    ),
    "environment": (
        lambda t: t.replace('AGENT_NAME: "bookings"', 'AGENT_NAME: "b"', 1),
        "sts: environment differs",
    ),
    "alias": (lambda t: t.replace('- "avr-sts-bookings"', '- "x"'), "sts: network alias differs"),
    "endpoint": (
        lambda t: t.replace("endpoint_mode: dnsrr", "endpoint_mode: vip", 1),
        "sts: endpoint_mode is not dnsrr",
    ),
    "replicas": (lambda t: t.replace("replicas: 1", "replicas: 2", 1), "sts: replicas differ"),
    "placement": (
        lambda t: t.replace("node.labels.tenant == restaurant", "node.labels.t == r", 1),
        "sts: placement differs",
    ),
    "restart": (lambda t: t.replace('delay: "5s"', 'delay: "6s"', 1), "sts: restart differs"),
    "resources": (lambda t: t.replace('memory: "1G"', 'memory: "2G"', 1), "sts: resources differ"),
    "service labels": (
        lambda t: t.replace('"avrgen.role": "sts"', '"avrgen.role": "x"', 1),
        "sts: service labels differ",
    ),
    "network": (
        lambda t: t.replace("external: true", "external: false"),
        "network is not external",
    ),
}


@pytest.mark.parametrize("case", sorted(STACK_CASES))
def test_a_stack_file_that_differs_names_the_role_and_what(case: str, bundled_plan: Plan) -> None:
    edit, reason = STACK_CASES[case]
    agent = bundled_plan.agents["bookings"]
    text = rendered(bundled_plan, "swarm", "bookings")["bookings/stack.yml"]
    args = (agent, bundled_plan.network, bundled_plan.swarm)
    check_stack(*args, text, secret_ref=escape.secret_ref)
    changed = edit(text)
    assert changed != text, case
    with pytest.raises(TemplateError) as caught:
        check_stack(*args, changed, secret_ref=escape.secret_ref)
    prefix = "agent 'bookings': stack.yml: the rendered file does not match the plan ("
    assert str(caught.value) == f"{prefix}{reason})"


def test_a_stack_files_container_labels_and_published_ports_are_checked(
    bundled_plan: Plan,
) -> None:
    agent = bundled_plan.agents["bookings"]
    text = rendered(bundled_plan, "swarm", "bookings")["bookings/stack.yml"]
    data = read_rendered(text)
    core = data["services"]["core"]
    assert core["ports"], "bookings publishes its core"
    args = (agent, bundled_plan.network, bundled_plan.swarm)

    def reason(edited: str) -> str:
        with pytest.raises(TemplateError) as caught:
            check_stack(*args, edited, secret_ref=escape.secret_ref)
        return str(caught.value)

    assert "mode: host" in text and "protocol: tcp" in text
    assert "(a published port is not in host mode)" in reason(
        text.replace("mode: host", "mode: ingress", 1)
    )
    assert "(port mapping)" in reason(text.replace("protocol: tcp", "protocol: udp", 1))
    first = agent.core.published[0]
    assert "(port mapping)" in reason(text.replace(f"target: {first}", f"target: {first + 1}", 1))
    # the containers' labels (not the service's): avrgen's own are the service's only
    container = '    labels:\n      "app": "AVR"\n'
    assert container in text
    assert "sts: labels differ" in reason(
        text.replace(container, container + '      "x": "y"\n', 1)
    )


# -- the renderer ------------------------------------------------------------------------------


def test_an_unknown_target_is_refused() -> None:
    with pytest.raises(TemplateError) as caught:
        Renderer(target="kubernetes")  # type: ignore[arg-type]
    assert str(caught.value) == "unknown target 'kubernetes'; expected compose or swarm"


def test_a_missing_templates_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        Renderer(tmp_path / "nope")
    assert str(caught.value) == f"{tmp_path / 'nope'}: templates folder not found"


@pytest.mark.parametrize(
    ("target", "missing"),
    [
        ("compose", "docker-compose.yml.j2"),
        ("compose", "service.env.j2"),
        ("swarm", "stack.yml.j2"),
    ],
)
def test_a_templates_folder_without_a_template_is_named(
    tmp_path: Path, target: str, missing: str
) -> None:
    for path in default_templates().iterdir():
        if path.name != missing:
            (tmp_path / path.name).write_bytes(path.read_bytes())
    with pytest.raises(TemplateError) as caught:
        Renderer(tmp_path, target)  # type: ignore[arg-type]
    assert str(caught.value).startswith(f"{tmp_path}: ")
    assert missing in str(caught.value)


def test_the_default_templates_are_the_repositorys_when_not_installed() -> None:
    assert default_templates() == Path(__file__).resolve().parents[3] / "templates"


@pytest.mark.parametrize("target", ["compose", "swarm"])
def test_an_undefined_name_in_a_template_is_an_error(
    tmp_path: Path, target: str, bundled_plan: Plan
) -> None:
    for path in default_templates().iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    name = "stack.yml.j2" if target == "swarm" else "docker-compose.yml.j2"
    path = tmp_path / name
    path.write_text(path.read_text() + "# {{ no_such_name }}\n")
    with pytest.raises(TemplateError) as caught:
        Renderer(tmp_path, target).render(bundled_plan)  # type: ignore[arg-type]
    assert str(caught.value) == "rendering agent 'billing': 'no_such_name' is undefined"


def test_an_undefined_name_in_an_env_template_is_an_error(
    tmp_path: Path, bundled_plan: Plan
) -> None:
    for path in default_templates().iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    path = tmp_path / "service.env.j2"
    path.write_text(path.read_text() + "# {{ container.nope }}\n")
    with pytest.raises(TemplateError) as caught:
        Renderer(tmp_path).render(bundled_plan)
    assert str(caught.value).startswith("rendering agent 'billing': ")
    assert "nope" in str(caught.value)


def test_a_key_filter_refusal_names_the_agent(tmp_path: Path, bundled_plan: Plan) -> None:
    for path in default_templates().iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    path = tmp_path / "docker-compose.yml.j2"
    path.write_text(path.read_text() + "# {{ 'a b' | key }}\n")
    with pytest.raises(TemplateError) as caught:
        Renderer(tmp_path).render(bundled_plan, only={"bookings"})
    assert str(caught.value) == "rendering agent 'bookings': refusing to emit 'a b' as a key"


def test_render_gives_every_file_of_the_chosen_agents_sorted(bundled_plan: Plan) -> None:
    renderer = Renderer()
    files = renderer.render(bundled_plan, only={"billing", "bookings"})
    assert list(files) == [
        "billing/asr.env",
        "billing/core.env",
        "billing/docker-compose.yml",
        "billing/llm.env",
        "billing/tts.env",
        "bookings/core.env",
        "bookings/docker-compose.yml",
        "bookings/sts.env",
        # the telephony stack, whatever agents are chosen: its dialplan has all their ports
        "_telephony/docker-compose.yml",
        "_telephony/my_ari.conf",
        "_telephony/my_extensions.conf",
        "_telephony/my_manager.conf",
        "_telephony/my_pjsip.conf",
    ]
    assert renderer.pending == {}
    committed = BUNDLED_BLUEPRINTS.parent / "output"
    for path, data in files.items():
        assert data == (committed / path).read_bytes(), path
    swarm = Renderer(target="swarm").render(bundled_plan)
    assert {path for path in swarm if not path.startswith("_telephony/")} == {
        f"{name}/stack.yml" for name in bundled_plan.agents
    }


def test_checks_wait_until_check_runs_them(bundled_plan: Plan) -> None:
    renderer = Renderer()
    files = renderer.render(bundled_plan, only={"bookings"}, check=False)
    # the compose file was checked at once: its content hashes are of it parsed back
    compose = "bookings/docker-compose.yml"
    assert set(renderer.pending) == set(files) - {compose}
    renderer.check(["bookings/core.env", "not/rendered.env"])
    assert set(renderer.pending) == set(files) - {"bookings/core.env", compose}
    renderer.check()
    assert renderer.pending == {}


def test_a_waiting_check_fails_when_it_runs(tmp_path: Path, bundled_plan: Plan) -> None:
    for path in default_templates().iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    path = tmp_path / "docker-compose.yml.j2"
    broken = path.read_text().replace("external: true", "external: false")
    path.write_text(broken)
    with pytest.raises(TemplateError) as at_once:  # the content hash needs the file parsed
        Renderer(tmp_path).render(bundled_plan, only={"bookings"}, check=False)
    assert "agent 'bookings': docker-compose.yml:" in str(at_once.value)
    # an own template without the content-hash label: its check waits
    label = "      {{ content_hash_label | yaml }}: {{ c.role | content_hash }}\n"
    assert label in broken
    path.write_text(broken.replace(label, ""))
    renderer = Renderer(tmp_path)
    renderer.render(bundled_plan, only={"bookings"}, check=False)
    renderer.check(["bookings/core.env"])
    with pytest.raises(TemplateError) as caught:
        renderer.check(["bookings/docker-compose.yml"])
    assert "agent 'bookings': docker-compose.yml:" in str(caught.value)


def test_reused_files_are_taken_as_given(bundled_plan: Plan) -> None:
    renderer = Renderer()
    asked: list[str] = []

    def reuse(agent):  # type: ignore[no-untyped-def]
        asked.append(agent.name)
        return {f"{agent.name}/x": b"old"} if agent.name == "bookings" else None

    files = renderer.render(bundled_plan, only={"bookings", "concierge"}, reuse=reuse)
    assert sorted(asked) == ["bookings", "concierge"]
    assert files["bookings/x"] == b"old"
    assert "bookings/docker-compose.yml" not in files
    assert "concierge/docker-compose.yml" in files
    swarm = Renderer(target="swarm")
    stacks = swarm.render(bundled_plan, only={"bookings"}, reuse=reuse)
    assert {k: v for k, v in stacks.items() if not k.startswith("_telephony/")} == {
        "bookings/x": b"old"
    }


# -- the escaping filters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "compose", "yaml"),
    [
        ("plain", '"plain"', '"plain"'),
        ("$HOME", '"$$HOME"', '"$HOME"'),
        ('a"b\\c', '"a\\"b\\\\c"', '"a\\"b\\\\c"'),
        ("é\n", '"é\\n"', '"é\\n"'),
        (
            "\x7f\x85\u2028\u2029\ufeff\ufffe\uffff",
            '"\\u007f\\u0085\\u2028\\u2029\\ufeff\\ufffe\\uffff"',
            None,
        ),
        ("\x9f~", '"\\u009f~"', None),
        (12, '"12"', '"12"'),
    ],
)
def test_compose_and_yaml_values(value: object, compose: str, yaml: str | None) -> None:
    assert escape.compose_value(value) == compose
    assert escape.yaml_value(value) == (yaml or compose)
    assert read_rendered(f"v: {escape.yaml_value(value)}\n") == {"v": str(value)}


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("plain", '"plain"'),
        ('\\"\n\r\t$', '"\\\\\\"\\n\\r\\t$$"'),
        ("$$", '"$$$$"'),
        ('a\\b"\n', '"a\\\\b\\"\\n"'),  # escapes without a `$`
        ("é", '"é"'),
    ],
)
def test_dotenv_values_round_trip(value: str, quoted: str) -> None:
    assert escape.dotenv_value(value) == quoted
    assert escape.dotenv_decode(quoted) == value


@pytest.mark.parametrize("bad", ['"', "", "plain", '"open', 'close"'])
def test_dotenv_decode_refuses_what_is_not_double_quoted(bad: str) -> None:
    with pytest.raises(ValueError) as caught:
        escape.dotenv_decode(bad)
    assert str(caught.value) == "not a double-quoted value"


def test_dotenv_decode_of_the_shortest_value() -> None:
    assert escape.dotenv_decode('""') == ""


def test_secret_refs_and_keys() -> None:
    assert escape.secret_ref("API_KEY") == '"${API_KEY:?secret API_KEY is not set}"'
    for key in ("A", "_a.b-c", "9x", "a_b"):
        assert escape.safe_key(key) == key
    for bad in ("", "-a", ".a", "a b", "a:b", "a\n", "é"):
        with pytest.raises(TemplateError) as caught:
            escape.safe_key(bad)
        assert str(caught.value) == f"refusing to emit {bad!r} as a key"


def test_remembered_filters_give_the_same_bytes_for_any_value() -> None:
    calls: list[object] = []

    def upper(value: object) -> str:
        calls.append(value)
        return str(value).upper()

    filtered = escape.remembered(upper)
    assert filtered("a") == "A"
    assert filtered("a") == "A"
    assert calls == ["a"]
    assert filtered(["x"]) == "['X']"
    assert filtered(["x"]) == "['X']"
    assert calls == ["a", ["x"], ["x"]]
    # equal but of other types (1 == 1.0 == True): each escaped as itself
    assert [filtered(1), filtered(1.0), filtered(True)] == ["1", "1.0", "TRUE"]


def test_rendered_files_read_dates_and_times_as_text() -> None:
    """compose reads `2001-01-01` as text: the parse-back check must too."""
    assert read_rendered("a: 2001-01-01\nb: 2001-01-01T10:00:00Z\n") == {
        "a": "2001-01-01",
        "b": "2001-01-01T10:00:00Z",
    }


def test_a_template_changed_in_place_is_compiled_again(tmp_path: Path, bundled_plan: Plan) -> None:
    """Renderers of one process share their compiled templates (by file and source): a
    template edited between two renders gives the new bytes, never the old compiled one."""
    for path in default_templates().iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    first = Renderer(tmp_path).render(bundled_plan, only={"billing"})
    env_file = tmp_path / "service.env.j2"
    env_file.write_text(env_file.read_text() + "# edited\n")
    second = Renderer(tmp_path).render(bundled_plan, only={"billing"})
    assert second["billing/core.env"] == first["billing/core.env"] + b"# edited\n"
    assert Renderer(tmp_path).render(bundled_plan, only={"billing"}) == second
    # the bundled templates' compiled code is not the copy's: another file, its own entry
    assert Renderer().render(bundled_plan, only={"billing"}) == first


def test_compiled_templates_past_the_limit_start_again(
    tmp_path: Path, bundled_plan: Plan, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = Renderer().render(bundled_plan, only={"billing"})
    for path in default_templates().iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(render.COMPILED, "limit", 1)
    assert Renderer(tmp_path).render(bundled_plan, only={"billing"}) == bundled
    assert len(render.COMPILED.compiled) == 1  # the copy's templates: only the last one kept
    assert Renderer(tmp_path).render(bundled_plan, only={"billing"}) == bundled
