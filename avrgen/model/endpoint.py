"""How to reach one Docker engine of the settings' `hosts`, in plain dataclasses: what the
engine layer needs of a host (its endpoint, and the client's TLS files: paths only, never
their contents), as the render cache records it, so that `ps` over hosts reaches them
without the blueprints' models (pydantic)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from avrgen.model.blueprint import Host


def is_context(docker: str) -> bool:
    """A docker context's name, not an address (`ssh://`, `tcp://`, `unix://`)."""
    return "://" not in docker


@dataclass(frozen=True)
class TlsFiles:
    """The client's files of a TLS-protected tcp:// engine (paths relative to where avrgen
    runs, as validate made them)."""

    ca: str
    cert: str
    key: str


@dataclass(frozen=True)
class Endpoint:
    """One host's engine: `docker` (an address or a docker context's name) and `tls`."""

    docker: str
    tls: TlsFiles | None = None

    @property
    def is_context(self) -> bool:
        return is_context(self.docker)


def endpoints(hosts: Mapping[str, Host]) -> dict[str, Endpoint]:
    """The settings' `hosts` as Endpoints, by name in sorted order."""
    return {
        name: Endpoint(
            str(host.docker),
            None if host.tls is None else TlsFiles(host.tls.ca, host.tls.cert, host.tls.key),
        )
        for name, host in sorted(hosts.items())
    }
