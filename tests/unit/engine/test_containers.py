"""A container's status as read from `docker container inspect` (no Docker needed)."""

from __future__ import annotations

from avrgen.engine.containers import ContainerStatus, absent, role_key, status_of
from avrgen.model.plan import Container

RUNNING = {
    "Id": "abc123",
    "Name": "/avr-core-x",
    "Config": {
        "Image": "img:1",
        "Labels": {"avrgen.agent": "x", "avrgen.role": "core", "avrgen.managed": "true"},
    },
    "State": {
        "Status": "running",
        "Running": True,
        "ExitCode": 0,
        "StartedAt": "2026-01-01T00:00:00Z",
        "Health": {"Status": "healthy"},
    },
    "NetworkSettings": {
        "Ports": {
            "5001/tcp": [{"HostIp": "127.0.0.1", "HostPort": "5001"}],
            "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "15000"}],
            "9/tcp": None,
        },
        "Networks": {"zz": {}, "avr": {}},
    },
}


def test_running_container() -> None:
    status = status_of(RUNNING)
    assert status == ContainerStatus(
        agent="x",
        name="avr-core-x",
        role="core",
        state="running",
        health="healthy",
        ports=("5001->5001/tcp", "15000->80/tcp"),
        id="abc123",
        image="img:1",
        started_at="2026-01-01T00:00:00Z",
        networks=("avr", "zz"),
    )
    assert status.ok


def test_exited_container_of_a_compose_project_without_avrgen_labels() -> None:
    data = {
        "Name": "/avr-sts-y",
        "Config": {
            "Labels": {"com.docker.compose.project": "avr-y", "com.docker.compose.service": "sts"}
        },
        "State": {"Status": "exited", "ExitCode": 2, "StartedAt": "0001-01-01T00:00:00Z"},
        "NetworkSettings": {"Ports": {"5001/tcp": [{"HostPort": "5001"}]}},
    }
    status = status_of(data)
    assert (status.agent, status.role, status.state, status.exit_code) == ("y", "sts", "exited", 2)
    assert status.ports == () and status.started_at is None and not status.ok


def test_absent_and_order() -> None:
    core = absent("x", Container("core", "avr-core-x", "img", (), 5000, ()))
    sts = ContainerStatus("x", "avr-sts-x", "sts", "running")
    assert core.state == "absent" and core.image == "img"
    assert sorted([core, sts], key=role_key) == [sts, core]


def test_a_stopped_container_has_no_health_now() -> None:
    """docker keeps the last health status of an exited container; ps must not call it
    unhealthy (or healthy): it is exited."""
    for last in ("unhealthy", "healthy"):
        data = {**RUNNING, "State": {"Status": "exited", "Running": False, "ExitCode": 1,
                                     "Health": {"Status": last}}}  # fmt: skip
        status = status_of(data)
        assert (status.state, status.health, status.exit_code) == ("exited", None, 1)
