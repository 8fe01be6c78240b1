"""Secrets for `avrgen up`: the dotenv reader and the resolution (no Docker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from avrgen.engine.secrets import resolve_secrets
from avrgen.errors import SecretsError
from avrgen.fs.dotenv import read_secrets_file
from avrgen.model.blueprint import Secret
from avrgen.model.plan import AgentPlan, Container


def agent(name: str, *secrets: str) -> AgentPlan:
    env = tuple((f"KEY_{i}", Secret(secret=s)) for i, s in enumerate(secrets))
    core = Container("core", f"avr-core-{name}", "img", env, 5000, ())
    return AgentPlan(name, "id", "sts", None, (core,))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secrets.env"
    path.write_text(text, encoding="utf-8")
    return path


def test_dotenv_values_are_the_text_written(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "# a comment\n"
        "\n"
        "PLAIN=abc def  # trailing comment\n"
        "export EXPORTED=yes\n"
        "SINGLE='$HOME \\n #not a comment'\n"
        'DOUBLE="line1\\nline2 \\"q\\" \\\\ \\$X"\n'
        'MULTI="first\n'
        'second"\n'
        "EMPTY=\n"
        "HASH=a#b\n"
        "SPACES =  padded  \n",
    )
    assert read_secrets_file(path) == {
        "PLAIN": "abc def",
        "EXPORTED": "yes",
        "SINGLE": "$HOME \\n #not a comment",
        "DOUBLE": 'line1\nline2 "q" \\ $X',
        "MULTI": "first\nsecond",
        "EMPTY": "",
        "HASH": "a#b",
        "SPACES": "padded",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("NOT A LINE\n", "secrets.env:1: expected NAME=value"),
        ("OK=1\n1BAD=x\n", "secrets.env:2: expected NAME=value"),
        ("K='open\n", "secrets.env:1: K: unterminated single quote"),
        ('K="open\nstill open\n', "secrets.env:1: K: unterminated double quote"),
        ("K='v' junk\n", "secrets.env:1: K: unexpected text after the quoted value"),
    ],
)
def test_dotenv_errors_name_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SecretsError) as info:
        read_secrets_file(write(tmp_path, text))
    assert str(info.value).endswith(message)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match="cannot read the secrets file"):
        read_secrets_file(tmp_path / "missing.env")


def test_environment_wins_over_the_file_and_only_needed_names_are_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "A=from-file\nB=file-b\nDOCKER_HOST=tcp://evil:2375\n")
    secrets = resolve_secrets([agent("one", "A", "B")], {"A": "from-env"}, path)
    assert dict(secrets.values) == {"A": "from-env", "B": "file-b"}
    assert secrets.for_agent(agent("x", "B")) == {"B": "file-b"}
    assert "from-env" not in repr(secrets) and "file-b" not in repr(secrets)


def test_missing_and_empty_secrets_name_every_agent(tmp_path: Path) -> None:
    path = write(tmp_path, "EMPTY=\n")
    agents = [agent("one", "A", "EMPTY"), agent("two", "A"), agent("three", "SET")]
    with pytest.raises(SecretsError) as info:
        resolve_secrets(agents, {"SET": "v"}, path)
    assert str(info.value) == (
        f"2 secret(s) not set in the environment or {path}; nothing was started:\n"
        "  A (needed by one, two)\n"
        "  EMPTY (needed by one)\n"
        "set them in the environment"
    )


def test_redact_hides_every_value() -> None:
    secrets = resolve_secrets([agent("one", "A", "B")], {"A": "s3cret", "B": "s3cret-longer"})
    assert secrets.redact("x s3cret-longer y s3cret z") == "x *** y *** z"
