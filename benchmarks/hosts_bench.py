"""The engine figures over a hosts inventory of two engines (issue 20; inventories: issue 18).

The same measurements as benchmarks/engine_bench.py (`status`, `up --all` unchanged, `ps`,
`up --all` with one agent changed, `down --all`, each against the floor, with the same
targets), with the 100 agents on two Docker engines named in the settings' `hosts:`, 50 on
each (agent i on edge-(i mod 2 + 1), so each half of the agents, as the down figure splits
them, is spread over both).

The two engines are hosts of their own on this machine: network namespaces, each with its
own dockerd (tests/cluster.py's Cluster, with a prefix and addresses of this benchmark's
own: avrb-*, 10.79.0.N; the tests use avrt, avrh and avrs). They are reached over their
`unix://` sockets, the simplest kind of endpoint: no ssh or TLS handshake in the figures,
which then time avrgen's work across two engines rather than a transport. The stand-in
images without healthcheck are built on the machine's engine and loaded into both.

The floor: each engine's `docker ps` plus `docker inspect` of its containers, the two
engines asked at once (as avrgen asks the hosts of an inventory), timed from the first
start to the last exit. The engine's stop time: `docker stop` + `docker rm` of each engine's
share of half the agents, on both engines at once.

Everything started (containers, the dockerds, the namespaces, the bridge and its iptables
rule) is removed at the end, also on failure or Ctrl-C. It runs only as root, with ip,
nsenter, iptables and dockerd at hand; otherwise it records why it was skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import engine_bench  # beside this file
from engine_bench import Engine

if TYPE_CHECKING:
    from bench import Bench

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import cluster  # tests/cluster.py: several engines on one machine

PREFIX, NET = "avrb", "10.79.0"
HOSTS = ("edge-1", "edge-2")


def why_not() -> str | None:
    """None when the two engines can be made here (and the stand-ins built), else why not."""
    return cluster.why_not() or engine_bench.why_not()


def measure(bench: Bench) -> None:
    reason = why_not()
    if reason is not None:
        label = f"{engine_bench.AGENTS} agents on {len(HOSTS)} hosts"
        engine_bench.skipped(bench, f"hosts figures of {label}", reason)
        return
    hosts = cluster.Cluster(len(HOSTS), images=engine_bench.STAND_INS, prefix=PREFIX, net=NET)
    engines = [Engine(name, node.host) for name, node in zip(HOSTS, hosts.nodes, strict=True)]
    try:
        with hosts.running():
            try:
                engine_bench.figures(bench, engines, "hosts", prefix="2 hosts: ")
            finally:  # containers gone before the engines stop (no stop periods waited for)
                engine_bench.on_each(engines, Engine.remove_everything)
    except (RuntimeError, AssertionError) as exc:  # an engine that did not come up or go
        raise SystemExit(f"the hosts' engines: {exc}") from exc
