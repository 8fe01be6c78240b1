"""Values are what you wrote: hostile env values, written in a blueprint in every YAML scalar
style, reach the container unchanged as the real `docker compose config` reads the rendered
files (compose file + env files), for provider env, agent env and core env alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import dockerenv
import pytest
from conftest import Avrgen, run_process

# (name, the scalar as written after `NAME: ` in the blueprint, the value it must arrive as)
VALUES: list[tuple[str, str, str]] = [
    # plain scalars: YAML 1.1 would turn these into bools, numbers or null
    ("NO", "no", "no"),
    ("ON", "on", "on"),
    ("YES", "YES", "YES"),
    ("TRUE", "True", "True"),
    ("OCTAL", "0123", "0123"),
    ("EXP", "1e3", "1e3"),
    ("HEX", "0x1F", "0x1F"),
    ("FLOAT", "1.50", "1.50"),
    ("SEXAGESIMAL", "1:30", "1:30"),
    ("DATE", "2001-12-14", "2001-12-14"),
    ("TILDE", "~", "~"),
    ("NULL", "null", "null"),
    ("EMPTY_PLAIN", "", ""),
    ("HOME", "$HOME", "$HOME"),
    ("BRACES", "${X}", "${X}"),
    ("DEFAULT", "${X:-fallback}", "${X:-fallback}"),
    ("DOLLARS", "$$", "$$"),
    ("DOLLAR_END", "5$", "5$"),
    ("HASH_INSIDE", "a#b", "a#b"),
    ("BACKSLASHES", r"C:\Users\me\new", r"C:\Users\me\new"),
    ("UNICODE", "héllo wörld ☎ 日本語 🎧", "héllo wörld ☎ 日本語 🎧"),
    ("QUOTES_INSIDE", """it's "quoted" """.strip(), """it's "quoted\""""),
    ("EQUALS", "a=b=c", "a=b=c"),
    ("PLAIN_FOLDED", "first\n  second", "first second"),
    # single-quoted
    ("SQ_LEADING", "'  leading spaces'", "  leading spaces"),
    ("SQ_TRAILING", "'trailing spaces   '", "trailing spaces   "),
    ("SQ_APOSTROPHE", "'it''s'", "it's"),
    ("SQ_HASH", "' # not a comment'", " # not a comment"),
    ("SQ_REQUIRED", "'${X:?must be set}'", "${X:?must be set}"),
    ("SQ_EMPTY", "''", ""),
    ("SQ_BACKSLASH_N", r"'a\nb'", r"a\nb"),
    ("SQ_TAB", "'a\tb'", "a\tb"),
    ("SQ_DOUBLE_QUOTES", """'"double" inside'""", '"double" inside'),
    ("SQ_NO", "'no'", "no"),
    # double-quoted, with escapes
    ("DQ_TAB", r'"tab\there"', "tab\there"),
    ("DQ_NEWLINE", r'"line1\nline2"', "line1\nline2"),
    ("DQ_CRLF", r'"crlf\r\nend"', "crlf\r\nend"),
    ("DQ_UNICODE", r'"\u00e9\u2603 \U0001F3A7"', "é☃ 🎧"),
    ("DQ_QUOTES", r'''"say \"hi\" and 'bye'"''', """say "hi" and 'bye'"""),
    ("DQ_BACKSLASHES", r'"back\\slash \\\\ two"', "back\\slash \\\\ two"),
    ("DQ_LITERAL_BACKSLASH_N", r'"\\n is not a newline"', "\\n is not a newline"),
    ("DQ_SPACES", '"  lead and trail  "', "  lead and trail  "),
    ("DQ_TRAILING_TAB", r'"trailing tab\t"', "trailing tab\t"),
    ("DQ_DOLLARS", '"$$HOME and $ alone and ${Y} and $"', "$$HOME and $ alone and ${Y} and $"),
    ("DQ_HASH", '"# hash first"', "# hash first"),
    ("DQ_EMPTY", '""', ""),
    ("DQ_ONLY_SPACE", '" "', " "),
    ("DQ_C1_CONTROL", r'"a\x94b\x7f"', "a\x94b\x7f"),
    ("DQ_LINE_SEPARATORS", r'"a\u2028b\u2029c\x85d"', "a\u2028b\u2029c\x85d"),
    ("DQ_ESCAPE_SEQUENCE", r'"\e[31mred\e[0m"', "\x1b[31mred\x1b[0m"),
    ("DQ_BOM", r'"\ufeffx"', "\ufeffx"),
    # block scalars
    (
        "BLOCK_LITERAL",
        "|\n  line one\n    indented two\n  three # not a comment\n  $HOME ${X} 'q' \"qq\"",
        "line one\n  indented two\nthree # not a comment\n$HOME ${X} 'q' \"qq\"\n",
    ),
    ("BLOCK_STRIP", "|-\n  a\n  b", "a\nb"),
    ("BLOCK_KEEP", "|+\n  kept\n", "kept\n\n"),  # + the blank line that joins entries
    ("BLOCK_FOLDED", ">\n  folded\n  text\n\n  new paragraph", "folded text\nnew paragraph\n"),
    ("BLOCK_LEADING", "|2\n    four spaces lead\n  two", "  four spaces lead\ntwo\n"),
]

# names that end up in labels (compose file, not env files)
PROVIDER_YAML = """'Hostile "STS" $HOME #1: ☎ ${X} it''s'"""
PROVIDER = """Hostile "STS" $HOME #1: ☎ ${X} it's"""
TENANT_YAML = r'"tenant \x94\u2028 $$ \\ end"'
TENANT = "tenant \x94\u2028 $$ \\ end"
SECRET = "RT_API_KEY"
SECRET_VALUE = "s3cr3t $x 'y' \"z\""


def env_block(prefix: str, extra: str = "") -> str:
    lines = [f"{prefix}{name}: {text}".rstrip(" ") for name, text, _ in VALUES]
    return "\n".join(lines) + "\n" + extra


def blueprint_text() -> str:
    def under(indent: int, block: str) -> str:
        return textwrap.indent(block, " " * indent)

    return (
        "kind: settings\n"
        "core:\n"
        "  env:\n"
        f"{under(4, env_block('S_'))}"
        "---\n"
        "kind: provider\n"
        f"name: {PROVIDER_YAML}\n"
        "type: STS\n"
        "config:\n"
        "  image: example/avr-sts-hostile:1.0.0\n"
        "  env:\n"
        f"{under(4, env_block('P_', f'{SECRET}: {{secret: {SECRET}}}'))}\n"
        "---\n"
        "kind: agent\n"
        "name: hostile\n"
        "mode: sts\n"
        f"providers: {{sts: {PROVIDER_YAML}}}\n"
        f"tenant: {TENANT_YAML}\n"
        "env:\n"
        f"{under(2, env_block('A_'))}"
        "core:\n"
        "  env:\n"
        f"{under(4, env_block('C_'))}"
    )


def expected(prefix: str) -> dict[str, str]:
    return {f"{prefix}{name}": value for name, _, value in VALUES}


def unescape_compose(value: str) -> str:
    """`docker compose config` prints a literal `$` as `$$`; undo that."""
    return value.replace("$$", "$")


def compose_config(
    binary: Path, folder: Path, secrets: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return dockerenv.run_compose(binary, folder, "config", "--format", "json", secrets=secrets)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile blueprint rendered once; returns the agent's output folder."""
    root = tmp_path_factory.mktemp("roundtrip")
    (root / "blueprints").mkdir()
    (root / "blueprints" / "hostile.yaml").write_text(blueprint_text(), encoding="utf-8")
    result = run_process("render", "-b", "blueprints", "-o", "output", cwd=root)
    assert result.returncode == 0, result.stderr
    return root / "output" / "hostile"


def test_the_values_table_is_what_a_yaml_1_2_reader_sees() -> None:
    """Sanity of the table itself: avrgen's own loader reads each scalar as `expected`."""
    from avrgen.pipeline.load import parse_documents

    (settings, provider, agent) = parse_documents(blueprint_text(), "hostile.yaml")
    assert settings.data["core"]["env"] == expected("S_")
    assert agent.data["env"] == expected("A_")
    assert agent.data["core"]["env"] == expected("C_")
    assert provider.data["config"]["env"] == {**expected("P_"), SECRET: {"secret": SECRET}}


def test_values_reach_the_containers_unchanged(compose_binary: Path, rendered: Path) -> None:
    result = compose_config(compose_binary, rendered, {SECRET: SECRET_VALUE})
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    sts = {k: unescape_compose(v) for k, v in services["sts"]["environment"].items()}
    core = {k: unescape_compose(v) for k, v in services["core"]["environment"].items()}

    for key, value in {**expected("P_"), **expected("A_")}.items():
        assert sts.get(key) == value, f"sts {key}: {sts.get(key)!r} != {value!r}"
    for key, value in {**expected("S_"), **expected("C_")}.items():
        assert core.get(key) == value, f"core {key}: {core.get(key)!r} != {value!r}"
    assert sts[SECRET] == SECRET_VALUE  # resolved from the environment at `up`, verbatim
    assert not any(k.startswith(("P_", "A_")) for k in core)
    assert not any(k.startswith(("S_", "C_")) for k in sts)


def test_a_secret_stays_a_reference(compose_binary: Path, rendered: Path) -> None:
    compose_text = (rendered / "docker-compose.yml").read_text()
    assert f'{SECRET}: "${{{SECRET}:?secret {SECRET} is not set}}"' in compose_text
    for path in rendered.iterdir():
        assert "s3cr3t" not in path.read_text()
        if path.suffix == ".env":
            assert SECRET not in path.read_text()
    missing = compose_config(compose_binary, rendered, {})
    assert missing.returncode != 0
    assert f"secret {SECRET} is not set" in missing.stderr


def test_hostile_compose_file_passes_compose_config_quiet(
    compose_binary: Path, rendered: Path
) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(rendered), SECRET: "x"}
    result = subprocess.run(
        [str(compose_binary), "config", "--quiet"],
        cwd=rendered,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_avrgen_render_check_accepts_its_own_hostile_output(avrgen: Avrgen, rendered: Path) -> None:
    root = rendered.parent.parent
    result = avrgen("render", "--check", "-b", "blueprints", "-o", "output", cwd=root)
    assert result.exit_code == 0, result.stderr


def test_names_reach_the_labels_unchanged(compose_binary: Path, rendered: Path) -> None:
    result = compose_config(compose_binary, rendered, {SECRET: "x"})
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    for service in services.values():
        labels = {k: unescape_compose(v) for k, v in service["labels"].items()}
        assert labels["tenant"] == TENANT
    sts_labels = {k: unescape_compose(v) for k, v in services["sts"]["labels"].items()}
    assert sts_labels["avrgen.provider"] == PROVIDER
    sts_env = {k: unescape_compose(v) for k, v in services["sts"]["environment"].items()}
    assert sts_env["PROVIDER_STS_NAME"] == PROVIDER
