"""Drift: how compose's dry run and a container's env are read (no Docker needed; the
docker tests in tests/docker/test_status.py compare real containers)."""

from __future__ import annotations

from avrgen.engine.differences import env_differences
from avrgen.engine.dry_run import parse_dry_run


def test_parse_dry_run() -> None:
    text = (
        " DRY-RUN MODE -  Container avr-core-x  Running\n"
        " DRY-RUN MODE -  Container avr-sts-x  Recreate\n"
        " DRY-RUN MODE -  Container avr-sts-x  Recreated\n"
        " DRY-RUN MODE -  Container 3ce7889e80b5_avr-sts-x  Starting\n"
    )
    actions = parse_dry_run(text)
    assert actions["avr-core-x"] == {"Running"}
    assert actions["avr-sts-x"] == {"Recreate", "Recreated"}


def test_env_differences() -> None:
    expected = {"A": "1", "B": "2", "NEW": "x", "SECRET_KEY": None}
    actual = {"A": "1", "B": "3", "OLD": "y", "SECRET_KEY": "whatever", "PATH": "/bin"}
    changed, missing, extra = env_differences(expected, actual, {"PATH": "/bin"})
    assert (changed, missing, extra) == (["B"], ["NEW"], ["OLD"])
    # a key the image sets, overridden by an old config, is extra; the image default is not
    assert env_differences({}, {"PATH": "/x"}, {"PATH": "/bin"})[2] == ["PATH"]
