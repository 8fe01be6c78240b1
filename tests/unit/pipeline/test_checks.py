"""The parse-back check (render.py): a custom `--templates` folder whose output does not mean
what the plan says is refused with the agent, the file and the reason, and nothing is written.

The rendered files are read back as compose reads them (YAML 1.2, duplicate keys refused).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from avrgen.pipeline import checks, render
from tests.conftest import Avrgen


def _templates(tmp_path: Path, name: str, edit: Callable[[str], str]) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(render.default_templates(), folder)
    path = folder / name
    text = path.read_text(encoding="utf-8")
    changed = edit(text)
    assert changed != text, "the edit must change the template"
    path.write_text(changed, encoding="utf-8")
    return folder


COMPOSE = "docker-compose.yml.j2"
BROKEN_TEMPLATES = {
    "a duplicate key (compose refuses it)": (
        COMPOSE,
        lambda t: t.replace("    restart: unless-stopped\n", "    restart: unless-stopped\n" * 2),
        "duplicate mapping key: 'restart'",
    ),
    "invalid YAML": (
        COMPOSE,
        lambda t: t.replace("    networks:\n      - {{", "    networks:\n      - [{{"),
        "YAML parse error at line",
    ),
    "a value pasted raw, which YAML reads as another type": (
        COMPOSE,
        lambda t: t.replace("external: true", "external: {{ 'yes' }}"),
        "network is not external",
    ),
    "a service network that is not the plan's": (
        COMPOSE,
        lambda t: t.replace("      - {{ network.name | compose }}", "      - default"),
        "networks differ",
    ),
    "a secret written as a literal": (
        COMPOSE,
        lambda t: t.replace("{{ secret | secret_ref }}", '"literal"'),
        "environment differs",
    ),
    "an env file missing its values": (
        "service.env.j2",
        lambda t: t.replace("{{ key | key }}={{ value | dotenv }}\n", ""),
        ".env does not match the plan",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_TEMPLATES))
def test_a_template_whose_output_differs_from_the_plan_is_refused(
    case: str, avrgen: Avrgen, bundled: Path, tmp_path: Path
) -> None:
    name, edit, reason = BROKEN_TEMPLATES[case]
    templates = _templates(tmp_path, name, edit)
    output = tmp_path / "output"
    lock = (bundled / "avrgen.lock").read_bytes()

    result = avrgen("render", "-b", str(bundled), "-o", str(output), "--templates", str(templates))

    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "agent '" in result.stderr, result.stderr
    assert reason in result.stderr, result.stderr
    assert not output.exists()  # nothing written: not even the folder
    assert (bundled / "avrgen.lock").read_bytes() == lock


def test_a_refused_template_leaves_an_existing_output_as_it_was(
    avrgen: Avrgen, bundled: Path, tmp_path: Path
) -> None:
    output = tmp_path / "output"
    assert avrgen("render", "-b", str(bundled), "-o", str(output)).exit_code == 0
    before = {p: p.read_bytes() for p in sorted(output.rglob("*")) if p.is_file()}
    templates = _templates(tmp_path, COMPOSE, lambda t: t.replace("external: true", "external: 1"))

    result = avrgen("render", "-b", str(bundled), "-o", str(output), "--templates", str(templates))

    assert result.exit_code == 1
    assert "network is not external" in result.stderr
    assert {p: p.read_bytes() for p in sorted(output.rglob("*")) if p.is_file()} == before


def test_a_syntax_error_is_reported_without_quoting_the_file() -> None:
    """yaml-rs quotes the offending lines in its message; only where and what are kept."""
    with pytest.raises(ValueError) as caught:
        checks.read_rendered('services:\n  core:\n    image: "never-shown\n')
    message = str(caught.value)
    assert message.startswith("YAML parse error at line"), message
    assert "\n" not in message
    assert "never-shown" not in message


def test_read_rendered_reads_yaml_1_2_like_compose() -> None:
    """`no` and `on` stay text and `0123` is the decimal 123, as compose reads them (YAML 1.1
    would make two booleans and the octal 83)."""
    assert checks.read_rendered("a: no\nb: on\nc: 0123\nd: true\n") == {
        "a": "no",
        "b": "on",
        "c": 123,
        "d": True,
    }


def test_a_filter_given_an_unhashable_value_still_escapes_it(
    avrgen: Avrgen, bundled: Path, tmp_path: Path
) -> None:
    """The filters remember their results by value; a list from a custom template is not
    hashable, so it is escaped without being remembered (no traceback)."""
    templates = _templates(
        tmp_path,
        COMPOSE,
        lambda t: t.replace(
            "name: {{ agent.project | compose }}",
            "# roles: {{ agent.containers | map(attribute='role') | list | yaml }}\n"
            "name: {{ agent.project | compose }}",
        ),
    )
    output = tmp_path / "output"
    result = avrgen("render", "-b", str(bundled), "-o", str(output), "--templates", str(templates))
    assert result.exit_code == 0, result.stderr
    text = (output / "billing" / "docker-compose.yml").read_text(encoding="utf-8")
    assert "# roles: \"['asr', 'llm', 'tts', 'core']\"\n" in text, text
