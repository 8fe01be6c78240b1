"""tests/mandatory_tests.py: in CI (AVRGEN_TESTS_MANDATORY=1) a skipped test fails the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def run_pytest(folder: Path, mandatory: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "AVRGEN_TESTS_MANDATORY"}
    if mandatory:
        env["AVRGEN_TESTS_MANDATORY"] = "1"
    env["PYTHONPATH"] = str(REPO / "tests")
    # only the plugin under test: the installed ones (hypothesis, syrupy) cost each run seconds
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "mandatory_tests", "-c", os.devnull, "--rootdir", str(folder), str(folder)]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def test_a_skip_fails_only_when_tests_are_mandatory(tmp_path: Path) -> None:
    (tmp_path / "test_sample.py").write_text(
        "import pytest\n\ndef test_needs_engine():\n    pytest.skip('no engine here')\n\n"
        "def test_plain():\n    pass\n"
    )
    relaxed = run_pytest(tmp_path, mandatory=False)
    assert relaxed.returncode == 0, relaxed.stdout
    strict = run_pytest(tmp_path, mandatory=True)
    assert strict.returncode == 1, strict.stdout
    assert "test_needs_engine: Skipped: no engine here" in strict.stdout
    (tmp_path / "test_sample.py").write_text("def test_plain():\n    pass\n")
    assert run_pytest(tmp_path, mandatory=True).returncode == 0
