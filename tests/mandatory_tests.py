"""A pytest plugin: with AVRGEN_TESTS_MANDATORY=1 (as .ci/run sets), a skipped test fails
the run. Locally, tests that need an engine, a tmpfs, the compose binary or setpriv skip
with their reason; in CI each of them is part of what a green run promises."""

from __future__ import annotations

import os

import pytest

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("AVRGEN_TESTS_MANDATORY") == "1" and _skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if os.environ.get("AVRGEN_TESTS_MANDATORY") == "1" and _skipped:
        terminalreporter.section("mandatory tests skipped (AVRGEN_TESTS_MANDATORY=1)", red=True)
        for line in _skipped:
            terminalreporter.line(line)
