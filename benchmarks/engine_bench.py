"""The engine part of the benchmark: status, up, ps and down of 100+ running agents.

Runs only where a Docker Engine answers, with the local stand-in images (tests/docker/
images, built by tests/dockerenv.py); otherwise it records why it was skipped. 100 STS
agents (200 containers) on their own network and port ranges are brought up once; then,
each as a whole `avrgen` process timed from spawn to exit:

- the floor, timed in the same run: one `docker ps` of these containers plus one
  `docker inspect` of all of them (the least any tool must ask the engine);
- `status` with every agent in sync (`--exit-code`: a drifted agent fails the run);
- `up --all` with nothing changed (no container may change, no compose may run);
- `up --all` with one agent changed, against that agent's own `up`;
- `ps`;
- `down --all` of half the agents, against the engine's own stop and removal of the
  other half (`docker stop` + `docker rm` of their containers: the engine's stop time).

Everything it starts is removed again, also on failure. The engine is shared with whatever
else runs on the machine: the load average is in the result.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from bench import Bench, Series

ROOT = Path(__file__).resolve().parent.parent
AGENTS = int(os.environ.get("AVRGEN_BENCH_AGENTS", "100"))
NETWORK, SUBNET = "avrgen-speed", "10.214.64.0/23"
PORTS = "{core: 41000-41199, http: 43000-43199, providers: 42000-42199}"
# the stand-in images without their healthcheck: 200 containers each running one every
# second (or every 5 s: docker 20.10 has no --start-interval) kept this 2-CPU machine at a
# load of 100-200, failing checks and timing the checks, not avrgen. HEALTHCHECK NONE fails
# `up --wait`, so each is built from its test image's folder, the HEALTHCHECK left out:
# `up --wait` then waits for running, and the figures time avrgen and the engine's answers.
STAND_INS = {
    "avrgen-bench/provider:1": ROOT / "tests" / "docker" / "images" / "provider",
    "avrgen-bench/core:1": ROOT / "tests" / "docker" / "images" / "core",
}
PROVIDER_IMAGE, CORE_IMAGE = STAND_INS
T = TypeVar("T")


def without_healthcheck(dockerfile: str) -> str:
    """The Dockerfile with its HEALTHCHECK instruction (and its continued lines) left out."""
    kept: list[str] = []
    skipping = False
    for line in dockerfile.splitlines():
        if line.startswith("HEALTHCHECK"):
            skipping = True
        if not skipping:
            kept.append(line)
        elif not line.rstrip().endswith("\\"):
            skipping = False
    return "\n".join(kept) + "\n"


CHANGED = f"speed-{AGENTS // 2:03d}"  # the agent the one-change runs edit


@dataclass(frozen=True)
class Engine:
    """An engine the agents run on: its host's name in the blueprints (None: the default
    engine, no `hosts:`) and how the docker CLI reaches it."""

    host: str | None = None
    endpoint: str | None = None  # `docker -H ENDPOINT`; None: the default engine

    @property
    def cli(self) -> list[str]:
        return ["docker", *(("-H", self.endpoint) if self.endpoint else ())]

    def docker(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.cli, *args], capture_output=True, text=True, timeout=300, check=False
        )

    def ours(self, *filters: str) -> list[str]:
        """Ids of this benchmark's containers (on its network), with more `--filter`s."""
        proc = self.docker(
            "ps", "-aq", "--no-trunc", "--filter", f"network={NETWORK}",
            *(f for flt in filters for f in ("--filter", flt)),
        )  # fmt: skip
        return proc.stdout.split()

    def remove_everything(self) -> None:
        listed = self.docker(
            "ps", "-a", "--filter", "label=avrgen.agent",
            "--format", '{{.ID}} {{.Label "avrgen.agent"}}',
        ).stdout.split("\n")  # fmt: skip
        mine = [line.split()[0] for line in listed if " speed-" in line]
        if mine:
            self.docker("rm", "-f", *mine)
        self.docker("network", "rm", NETWORK)


def agent_doc(index: int, revision: str = "0", host: str | None = None) -> str:
    return (
        f"kind: agent\nname: speed-{index:03d}\nmode: sts\nproviders: {{sts: Speed STS}}\n"
        + (f"host: {host}\n" if host else "")
        + f'core: {{env: {{REVISION: "{revision}"}}}}\n'
    )


def blueprints(folder: Path, revision: str = "0", engines: Sequence[Engine] = (Engine(),)) -> None:
    """AGENTS STS agents on the stand-in images; agent CHANGED at `revision`. Over several
    engines, a `hosts:` inventory (each engine's endpoint) and the agents dealt out in turn
    (agent i on engine i mod n): each half of the agents is spread over every engine."""
    folder.mkdir(parents=True, exist_ok=True)
    inventory = "".join(
        f'  {e.host}: {{docker: "{e.endpoint}"}}\n' for e in engines if e.host is not None
    )
    text = (
        "kind: settings\n"
        f"network: {{name: {NETWORK}, subnet: {SUBNET}}}\n"
        f"ports: {PORTS}\n"
        f'core: {{image: "{CORE_IMAGE}", env: {{CHECK_INTERVAL: "10"}}}}\n'
        + (f"hosts:\n{inventory}" if inventory else "")
        + "---\n"
        "kind: provider\nname: Speed STS\ntype: STS\n"
        f'config: {{image: "{PROVIDER_IMAGE}"}}\n'
    )
    for i in range(AGENTS):
        name = f"speed-{i:03d}"
        host = engines[i % len(engines)].host
        text += "---\n" + agent_doc(i, revision if name == CHANGED else "0", host)
    (folder / "agents.yaml").write_text(text, encoding="utf-8")


def why_not() -> str | None:
    """None when the measurement can run, else the reason it cannot."""
    if shutil.which("docker") is None:
        return "no docker CLI"
    if Engine().docker("info").returncode != 0:
        return "no Docker Engine answers (`docker info` failed)"
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import dockerenv  # the helper that builds the local test images

        dockerenv.ensure_test_images()
    except Exception as exc:  # an image that will not build: say why, do not crash
        return f"the test images could not be built: {exc}"
    for image, context in STAND_INS.items():
        with tempfile.TemporaryDirectory(prefix="avrgen-bench-image-") as folder:
            copy = Path(folder) / "context"
            shutil.copytree(context, copy)  # with the busybox ensure_test_images put there
            dockerfile = (copy / "Dockerfile").read_text(encoding="utf-8")
            (copy / "Dockerfile").write_text(without_healthcheck(dockerfile), encoding="utf-8")
            built = subprocess.run(
                ["docker", "build", "-q", "-t", image, str(copy)],
                capture_output=True, text=True, env={**os.environ, "DOCKER_BUILDKIT": "0"},
                timeout=300, check=False,
            )  # fmt: skip
        if built.returncode != 0:
            return f"{image} could not be built: {built.stderr.strip()[-300:]}"
    return None


def on_each(engines: Sequence[Engine], step: Callable[[Engine], T]) -> list[T]:
    """`step` on every engine at once, as avrgen works on the hosts of an inventory."""
    with ThreadPoolExecutor(max_workers=len(engines)) as pool:
        return list(pool.map(step, engines))


def ours(engines: Sequence[Engine], *filters: str) -> list[str]:
    """Ids of this benchmark's containers on every engine (ids are unique across engines)."""
    return [i for found in on_each(engines, lambda e: e.ours(*filters)) for i in found]


def skipped(bench: Bench, what: str, reason: str) -> None:
    """Say (and record in the JSON) that the figures `what` were not measured, and why."""
    from bench import NAME_WIDTH

    print(f"{what:<{NAME_WIDTH}} skipped: {reason}", flush=True)
    bench.report.skipped.append(f"{what}: {reason}")


def measure(bench: Bench) -> None:
    """The figures on the machine's own engine, when one answers."""
    reason = why_not()
    if reason is not None:
        skipped(bench, f"engine figures of {AGENTS} agents", reason)
        return
    engine = Engine()
    try:
        figures(bench, [engine], "engine")
    finally:
        engine.remove_everything()


def figures(bench: Bench, engines: Sequence[Engine], where: str, prefix: str = "") -> None:
    """Every figure with the agents on `engines` (blueprints and output in bench.work /
    `where`); each figure's name starts with `prefix`. The caller removes what runs."""
    from bench import AVRGEN, Series, run

    n = bench.repeat

    def add(name: str, value: float, unit: str, target: str = "", ok: bool | None = None,
            detail: Mapping[str, object] | None = None) -> None:  # fmt: skip
        bench.report.add(prefix + name, value, unit, target, ok, **(detail or {}))

    label = f"{AGENTS} agents"
    folder = bench.work / where
    shutil.rmtree(folder, ignore_errors=True)
    bp = folder / "blueprints"
    blueprints(bp, engines=engines)
    paths = ["-b", str(bp), "-o", str(folder / "output")]

    def avrgen(*args: str) -> list[str]:
        return [AVRGEN, *args, *paths]

    def timed(argv: list[str], times: int = n) -> Series:
        series = Series()
        for _ in range(times):
            series.add(run(argv, folder))
        return series

    on_each(engines, Engine.remove_everything)
    run(avrgen("render"), folder)
    started = run(avrgen("up", "--all", "--parallel", "8"), folder)
    add(f"up --all {label} from nothing (--parallel 8)", started.seconds, "s")
    for engine in engines:
        up = len(engine.ours())
        if up != 2 * AGENTS // len(engines):
            raise SystemExit(
                f"{up} containers up on {engine.cli}, not {2 * AGENTS // len(engines)}"
            )
    containers = ours(engines)

    # the floor: one docker ps plus one docker inspect of every container involved; over
    # several engines, each engine's pair, all engines at once (as avrgen asks them)
    def floor_on(engine: Engine) -> tuple[float, float]:
        listed = run(
            [*engine.cli, "ps", "-aq", "--no-trunc", "--filter", f"network={NETWORK}"], folder
        )
        inspected = run([*engine.cli, "inspect", *listed.stdout.split()], folder)
        return listed.seconds + inspected.seconds, listed.cpu + inspected.cpu

    floor = Series()
    for _ in range(n * 2):
        start = time.perf_counter()
        pairs = on_each(engines, floor_on)
        seconds = time.perf_counter() - start if len(engines) > 1 else pairs[0][0]
        floor.runs.append(seconds)
        floor.cpu.append(sum(cpu for _, cpu in pairs))
    add(
        f"floor: docker ps + inspect of {len(containers)} containers",
        floor.median, "s", detail={"load": round(os.getloadavg()[0], 2), **floor.summary()},
    )  # fmt: skip

    def against(command: str, name: str, series: Series, times: float, base: float = 0.0) -> None:
        add(name, series.median, "s", detail=series.summary())
        ratio = (series.median - base) / floor.median
        what = f"{command} / floor" + (" (own start taken off)" if base else "")
        add(what, ratio, "x", f"< {times:.2f}x", ratio < times)

    status = timed(avrgen("status", "--exit-code"))
    against("status,", f"status, {label} in sync", status, 4.0)

    before = sorted(ours(engines))
    unchanged = timed(avrgen("up", "--all"))
    if sorted(ours(engines)) != before:
        raise SystemExit("up --all with nothing changed replaced containers")
    against("up", f"up --all, {label}, nothing changed", unchanged, 6.0)

    ps = timed(avrgen("ps"))
    against("ps,", f"ps, {label}", ps, 3.0)

    # one agent changed: up --all, against that agent's own up (edits alternate)
    all_one, own = Series(), Series()
    for i in range(max(2, n // 2)):
        blueprints(bp, revision=f"a{i}", engines=engines)
        kept = set(ours(engines, f"label=avrgen.agent={CHANGED}"))
        all_one.add(run(avrgen("up", "--all"), folder))
        replaced = set(ours(engines)) ^ set(before)
        if not replaced <= kept | set(ours(engines, f"label=avrgen.agent={CHANGED}")):
            raise SystemExit("up --all with one agent changed replaced other agents")
        before = sorted(ours(engines))
        blueprints(bp, revision=f"b{i}", engines=engines)
        own.add(run([*avrgen("up"), CHANGED], folder))
        before = sorted(ours(engines))
    add(f"up {CHANGED} alone, changed (its own start)", own.median, "s", detail=own.summary())
    against("up", f"up --all, {label}, one changed", all_one, 6.0, base=own.median)

    # down: half the agents by the engine itself (every engine at once: its own stop and
    # removal of its share), the other half by avrgen down --all
    half = [f"speed-{i:03d}" for i in range(AGENTS // 2)]

    def stop_half(engine: Engine) -> int:
        ids = [c for name in half for c in engine.ours(f"label=avrgen.agent={name}")]
        engine.docker("stop", *ids)
        engine.docker("rm", *ids)
        return len(ids)

    start = time.perf_counter()
    stopped = sum(on_each(engines, stop_half))
    engine_stop = time.perf_counter() - start
    add(f"engine: docker stop + rm of {stopped} containers", engine_stop, "s")
    rest = len(ours(engines))
    down = run(avrgen("down", "--all"), folder)
    if ours(engines):
        raise SystemExit("down --all left containers")
    add(f"down --all, {rest} containers", down.seconds, "s")
    over = (down.seconds - engine_stop) / floor.median
    add(
        "down --all - engine stop time, / floor", over, "x", "< 3.00x", over < 3.0,
        detail={"cpu_s": round(down.cpu, 3), "load": round(os.getloadavg()[0], 2)},
    )  # fmt: skip


def median(values: list[float]) -> float:
    return statistics.median(values)
