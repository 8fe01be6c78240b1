"""The pre-commit hooks in .pre-commit-hooks.yaml run real avrgen commands that pass on a
fresh checkout and fail when the output is stale."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import yaml
from conftest import REPO, Avrgen

HOOKS = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())


def test_hook_definitions() -> None:
    by_id = {hook["id"]: hook for hook in HOOKS}
    assert set(by_id) == {"avrgen-validate", "avrgen-render-check"}
    for hook in HOOKS:
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is False
        assert hook["entry"].split()[0] == "avrgen"
    assert by_id["avrgen-render-check"]["entry"] == "avrgen render --check"


def test_hooks_pass_then_catch_a_stale_output(avrgen: Avrgen, tmp_path: Path) -> None:
    shutil.copytree(REPO / "blueprints", tmp_path / "blueprints")
    shutil.copytree(REPO / "output", tmp_path / "output")
    shutil.copytree(REPO / "schema", tmp_path / "schema")
    for hook in HOOKS:
        args = shlex.split(hook["entry"])[1:]
        result = avrgen(*args, cwd=tmp_path)
        assert result.exit_code == 0, (hook["id"], result.stderr)
    providers = tmp_path / "blueprints" / "providers.yaml"
    providers.write_text(providers.read_text().replace("OPENAI_VOICE: alloy", "OPENAI_VOICE: echo"))
    stale = avrgen("render", "--check", cwd=tmp_path)
    assert stale.exit_code == 1 and "output/bookings/sts.env" in stale.stderr
