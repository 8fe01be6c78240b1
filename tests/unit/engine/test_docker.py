"""What both targets share: docker's error text made short, log tails, role order."""

from __future__ import annotations

from python_on_whales.exceptions import DockerException

from avrgen.engine.docker import last_line, last_lines, quoted_log, role_rank, tail


def test_last_line_names_the_cause() -> None:
    exc = DockerException(["docker", "x"], 1, b"out", b"Usage...\nError: the cause\n\n")
    assert last_line(exc) == "Error: the cause"
    assert last_line(DockerException(["docker", "x"], 1, b"only stdout\n", None)) == "only stdout"
    # the docker CLI's own closing `exit status N` line names nothing: the line above it does
    refused = b"Error response from daemon: network n has active endpoints\nexit status 1\n"
    reason = "Error response from daemon: network n has active endpoints"
    assert last_line(DockerException(["docker", "network", "rm"], 1, b"", refused)) == reason
    assert (
        last_line(DockerException(["docker", "x"], 3, b"", b"exit status 3\n")) == "exit status 3"
    )


def test_tails() -> None:
    assert tail(["a", " b ", "c"], 2) == "  b\n  c"
    assert last_lines("one\n\n  \ntwo\nthree\n", 2) == ["two", "three"]


def test_quoted_log() -> None:
    def hide(text: str) -> str:
        return text.replace("s3cret", "***")

    assert quoted_log(["token s3cret"], hide) == ["    | token ***"]
    assert quoted_log([], hide) == ["    | (no output)"]
    assert quoted_log([], hide, None) == []


def test_roles_in_pipeline_order_then_core_then_the_rest() -> None:
    roles = ["core", "other", "tts", "asr", "sts", "llm"]
    assert sorted(roles, key=role_rank) == ["asr", "llm", "tts", "sts", "core", "other"]


def test_a_repeated_log_line_is_quoted_once_with_its_count() -> None:
    """A crash loop logs the same error at each start: one line, counted, in the report."""
    lines = ["start", "Error: bad key", "Error: bad key", "Error: bad key", "exit", "start"]
    assert quoted_log(lines, str) == [
        "    | start",
        "    | Error: bad key (x3)",
        "    | exit",
        "    | start",
    ]
