"""The render cache's record of the set (SetView, with the hosts inventory ps needs to
reach each engine): stored by a render, read back checked (set_view_of), and from the
entry's header line alone as a hint (last_set_view: ps and status start no read of the
default engine when the last render recorded `hosts`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from blueprint_folder import write_blueprints

from avrgen.app.project import Paths, Project
from avrgen.app.render import recorded_set, render
from avrgen.model.endpoint import Endpoint, TlsFiles
from avrgen.pipeline import cache
from avrgen.pipeline.cache.store import entry_path
from avrgen.pipeline.cache.views import SetView, set_view_of

BLUEPRINTS = """\
kind: settings
hosts:
  edge-2:
    docker: "tcp://10.0.0.12:2376"
    tls: {ca: tls/ca.pem, cert: tls/cert.pem, key: tls/key.pem}
  edge-1: {docker: "ssh://ops@10.0.0.11"}
---
kind: provider
name: Echo
type: STS
config: {image: example/sts:1}
---
kind: agent
name: alpha
mode: sts
providers: {sts: Echo}
host: edge-1
---
kind: agent
name: beta
mode: sts
providers: {sts: Echo}
"""
VIEW = {"set_id": "0f2c", "network": "avr", "target": "compose", "hosts": {}}


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path / "xdg-cache"


def _entry(output: Path, header: dict[str, object]) -> None:
    path = entry_path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(json.dumps(header).encode() + b"\n{}\n")


def test_a_render_records_the_hosts_inventory_and_each_agent_s_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_blueprints(tmp_path / "blueprints", {"all.yaml": BLUEPRINTS})
    monkeypatch.chdir(tmp_path)
    project = Project(Paths(Path("blueprints"), Path("output")))
    for _ in range(2):  # the first render writes the lock: the second is recorded
        render(project, use_cache=True)
    recorded = recorded_set(project)
    assert recorded is not None
    tls = TlsFiles(
        *(os.path.join("blueprints", "tls", f) for f in ("ca.pem", "cert.pem", "key.pem"))
    )
    assert recorded.hosts == {
        "edge-1": Endpoint("ssh://ops@10.0.0.11"),
        "edge-2": Endpoint("tcp://10.0.0.12:2376", tls),
    }
    assert list(recorded.hosts) == ["edge-1", "edge-2"]  # by name
    assert {n: a.host for n, a in recorded.agents.items()} == {"alpha": "edge-1", "beta": None}
    assert [c.role for c in recorded.agents["alpha"].containers] == ["sts", "core"]
    the_plan = project.plan()[0]
    assert {n: h.docker for n, h in the_plan.hosts.items()} == {
        n: e.docker for n, e in recorded.hosts.items()
    }
    assert the_plan.hosts["edge-2"].tls is not None and the_plan.hosts["edge-2"].tls.ca == tls.ca
    last = cache.last_set_view(project.paths.output)
    assert last is not None and last.hosts == recorded.hosts


def test_a_set_view_is_read_back_checked() -> None:
    assert set_view_of(None) is None  # an entry of an older avrgen, without one
    assert set_view_of(VIEW) == SetView("0f2c", "avr", "compose")
    tls = {"ca": "a", "cert": "b", "key": "c"}
    hosts = {"e": {"docker": "unix:///x.sock", "tls": tls}}
    assert set_view_of({**VIEW, "hosts": hosts}) == SetView(
        "0f2c", "avr", "compose", {"e": Endpoint("unix:///x.sock", TlsFiles("a", "b", "c"))}
    )
    for bad in (
        {**VIEW, "set_id": 1},
        {**VIEW, "hosts": True},  # as an older avrgen recorded it
        {**VIEW, "hosts": {"e": {"docker": 5, "tls": None}}},
        {**VIEW, "hosts": {"e": {"docker": "x", "tls": {**tls, "key": None}}}},
    ):
        with pytest.raises(ValueError, match="bad set view"):
            set_view_of(bad)


def test_the_last_set_view_is_the_header_s(tmp_path: Path) -> None:
    output = tmp_path / "output"
    assert cache.last_set_view(output) is None  # no entry
    hosts = {"e": {"docker": "ssh://e", "tls": None}}
    _entry(output, {"format": cache.FORMAT, "set": {**VIEW, "hosts": hosts}})
    last = cache.last_set_view(output)
    assert last is not None and last.hosts == {"e": Endpoint("ssh://e")}
    _entry(output, {"format": cache.FORMAT, "set": None})  # an older avrgen's
    assert cache.last_set_view(output) is None
    _entry(output, {"format": cache.FORMAT - 1, "set": VIEW})
    assert cache.last_set_view(output) is None
    _entry(output, {"format": cache.FORMAT, "set": {"hosts": {}}})  # not a whole view
    assert cache.last_set_view(output) is None
    entry_path(output).write_bytes(b"[1,\n")
    assert cache.last_set_view(output) is None
