"""The engine of one of `hosts` (issue 18): the docker flags each kind of endpoint gets, and
a missing TLS file named before any connection is tried."""

from __future__ import annotations

from pathlib import Path

import pytest

from avrgen.engine.compose import Docker
from avrgen.engine.docker import Engine, client_for, docker_flags
from avrgen.errors import ComposeError
from avrgen.model.blueprint import Host, HostTls


def flags(host: Host | None) -> list[str]:
    """The flags avrgen's own docker commands get, checked to be python-on-whales's too."""
    assert docker_flags(host) == [str(part) for part in client_for(host).docker_cmd[1:]]
    return docker_flags(host)


def test_each_endpoint_kind_gets_dockers_own_flags() -> None:
    assert flags(None) == []
    assert flags(Host(docker="ssh://ops@10.0.0.11")) == ["--host", "ssh://ops@10.0.0.11"]
    assert flags(Host(docker="lab")) == ["--context", "lab"]
    tls = HostTls(ca="c/ca.pem", cert="c/cert.pem", key="c/key.pem")
    assert flags(Host(docker="tcp://10.0.0.12:2376", tls=tls)) == [
        *("--host", "tcp://10.0.0.12:2376"),
        *("--tlscacert", "c/ca.pem", "--tlscert", "c/cert.pem", "--tlskey", "c/key.pem"),
        "--tlsverify",
    ]


def test_compose_runs_on_the_hosts_engine(tmp_path: Path) -> None:
    docker = Docker(host=("edge-1", Host(docker="tcp://10.0.0.12:2375")))
    client = docker.compose_client(tmp_path / "docker-compose.yml", "avr-x")
    command = [str(part) for part in client.compose.docker_compose_cmd]
    assert command[1:3] == ["--host", "tcp://10.0.0.12:2375"]
    assert "avr-x" in command and str(tmp_path / "docker-compose.yml") in command
    assert docker.where == "host 'edge-1' (tcp://10.0.0.12:2375)"
    assert Docker().where == ""


def test_a_missing_tls_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    tls = HostTls(ca=str(tmp_path / "ca.pem"), cert=str(tmp_path / "cert.pem"), key="k.pem")
    engine = Engine(host=("edge-2", Host(docker="tcp://10.0.0.12:2376", tls=tls)))
    with pytest.raises(ComposeError) as caught:
        engine.check(compose=False)
    assert str(caught.value) == (
        f"host 'edge-2' (tcp://10.0.0.12:2376): its TLS file tls.cert {tmp_path / 'cert.pem'}"
        " is missing"
    )
