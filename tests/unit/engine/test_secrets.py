"""Secrets for `avrgen up`: resolution and redaction (no Docker needed; the secrets file's
dialect is tests/unit/fs/test_dotenv.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from avrgen.engine.secrets import redact, resolve_secrets
from avrgen.errors import SecretsError
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


def test_redact_hides_the_longest_value_whole_and_keeps_short_ones() -> None:
    assert redact("token abcdef, abc, ab", ["abc", "abcdef", "ab"]) == "token ***, ***, ab"
    assert redact("nothing here", []) == "nothing here"


def test_others_secrets_are_resolved_and_missing_ones_named_with_who_needs_them() -> None:
    others = {"AMI_PASSWORD": ["telephony"], "A": ["telephony"]}
    secrets = resolve_secrets([agent("one", "A")], {"A": "a1", "AMI_PASSWORD": "p2"}, None, others)
    assert secrets.values == {"A": "a1", "AMI_PASSWORD": "p2"}
    with pytest.raises(SecretsError) as caught:
        resolve_secrets([agent("one", "A")], {}, None, others)
    message = str(caught.value)
    assert "  A (needed by one, telephony)" in message
    assert "  AMI_PASSWORD (needed by telephony)" in message
