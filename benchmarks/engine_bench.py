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
from pathlib import Path
from typing import TYPE_CHECKING

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


def agent_doc(index: int, revision: str = "0") -> str:
    return (
        f"kind: agent\nname: speed-{index:03d}\nmode: sts\nproviders: {{sts: Speed STS}}\n"
        f'core: {{env: {{REVISION: "{revision}"}}}}\n'
    )


def blueprints(folder: Path, revision: str = "0") -> None:
    """AGENTS STS agents on the stand-in images; agent CHANGED at `revision`."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (
        "kind: settings\n"
        f"network: {{name: {NETWORK}, subnet: {SUBNET}}}\n"
        f"ports: {PORTS}\n"
        f'core: {{image: "{CORE_IMAGE}", env: {{CHECK_INTERVAL: "10"}}}}\n'
        "---\n"
        "kind: provider\nname: Speed STS\ntype: STS\n"
        f'config: {{image: "{PROVIDER_IMAGE}"}}\n'
    )
    for i in range(AGENTS):
        name = f"speed-{i:03d}"
        text += "---\n" + agent_doc(i, revision if name == CHANGED else "0")
    (folder / "agents.yaml").write_text(text, encoding="utf-8")


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=300, check=False
    )


def why_not() -> str | None:
    """None when the measurement can run, else the reason it cannot."""
    if shutil.which("docker") is None:
        return "no docker CLI"
    if docker("info").returncode != 0:
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


def ours(*filters: str) -> list[str]:
    """Ids of this benchmark's containers (on its network), with more `--filter`s."""
    proc = docker(
        "ps", "-aq", "--no-trunc", "--filter", f"network={NETWORK}",
        *(f for flt in filters for f in ("--filter", flt)),
    )  # fmt: skip
    return proc.stdout.split()


def remove_everything() -> None:
    ids = docker("ps", "-aq", "--filter", "label=avrgen.agent").stdout.split()
    mine = [
        i for i in ids
        if docker("inspect", "--format", '{{index .Config.Labels "avrgen.agent"}}', i)
        .stdout.startswith("speed-")
    ]  # fmt: skip
    if mine:
        docker("rm", "-f", *mine)
    docker("network", "rm", NETWORK)


def measure(bench: Bench) -> None:
    from bench import AVRGEN, Series, run

    report, n = bench.report, bench.repeat
    label = f"{AGENTS} agents"
    reason = why_not()
    if reason is not None:
        print(f"{'engine figures, ' + label:<44} skipped: {reason}", flush=True)
        report.skipped.append(f"engine figures of {label}: {reason}")
        return
    folder = bench.work / "engine"
    shutil.rmtree(folder, ignore_errors=True)
    bp = folder / "blueprints"
    blueprints(bp)
    paths = ["-b", str(bp), "-o", str(folder / "output")]

    def avrgen(*args: str) -> list[str]:
        return [AVRGEN, *args, *paths]

    def timed(argv: list[str], times: int = n) -> Series:
        series = Series()
        for _ in range(times):
            series.add(run(argv, folder))
        return series

    try:
        remove_everything()
        run(avrgen("render"), folder)
        started = run(avrgen("up", "--all", "--parallel", "8"), folder)
        report.add(f"up --all {label} from nothing (--parallel 8)", started.seconds, "s")
        containers = ours()
        if len(containers) != 2 * AGENTS:
            raise SystemExit(f"{len(containers)} containers up, not {2 * AGENTS}")

        # the floor: one docker ps plus one docker inspect of every container involved
        floor = Series()
        ps_argv = ["docker", "ps", "-aq", "--no-trunc", "--filter", f"network={NETWORK}"]
        for _ in range(n * 2):
            listed = run(ps_argv, folder)
            inspected = run(["docker", "inspect", *listed.stdout.split()], folder)
            floor.runs.append(listed.seconds + inspected.seconds)
            floor.cpu.append(listed.cpu + inspected.cpu)
        report.add(
            f"floor: docker ps + inspect of {len(containers)} containers", floor.median, "s",
            **floor.summary(),
        )  # fmt: skip

        def against(name: str, series: Series, times: float, base: float = 0.0) -> None:
            report.add(name, series.median, "s", **series.summary())
            ratio = (series.median - base) / floor.median
            what = f"{name.split(' ')[0]} / floor" + (" (own start taken off)" if base else "")
            report.add(what, ratio, "x", f"< {times:.2f}x", ratio < times)

        status = timed(avrgen("status", "--exit-code"))
        against(f"status, {label} in sync", status, 4.0)

        before = sorted(ours())
        unchanged = timed(avrgen("up", "--all"))
        if sorted(ours()) != before:
            raise SystemExit("up --all with nothing changed replaced containers")
        against(f"up --all, {label}, nothing changed", unchanged, 6.0)

        ps = timed(avrgen("ps"))
        against(f"ps, {label}", ps, 3.0)

        # one agent changed: up --all, against that agent's own up (edits alternate)
        all_one, own = Series(), Series()
        for i in range(max(2, n // 2)):
            blueprints(bp, revision=f"a{i}")
            kept = set(ours(f"label=avrgen.agent={CHANGED}"))
            all_one.add(run(avrgen("up", "--all"), folder))
            replaced = set(ours()) ^ set(before)
            if not replaced <= kept | set(ours(f"label=avrgen.agent={CHANGED}")):
                raise SystemExit("up --all with one agent changed replaced other agents")
            before = sorted(ours())
            blueprints(bp, revision=f"b{i}")
            own.add(run([*avrgen("up"), CHANGED], folder))
            before = sorted(ours())
        report.add(f"up {CHANGED} alone, changed (its own start)", own.median, "s", **own.summary())
        against(f"up --all, {label}, one changed", all_one, 6.0, base=own.median)

        # down: half the agents by the engine itself, the other half by avrgen down --all
        half = [f"speed-{i:03d}" for i in range(AGENTS // 2)]
        ids = [c for name in half for c in ours(f"label=avrgen.agent={name}")]
        start = time.perf_counter()
        docker("stop", *ids)
        docker("rm", *ids)
        engine_stop = time.perf_counter() - start
        report.add(f"engine: docker stop + rm of {len(ids)} containers", engine_stop, "s")
        rest = len(ours())
        down = run(avrgen("down", "--all"), folder)
        if ours():
            raise SystemExit("down --all left containers")
        report.add(f"down --all, {rest} containers", down.seconds, "s")
        over = (down.seconds - engine_stop) / floor.median
        report.add(
            "down --all - engine stop time, / floor", over, "x", "< 3.00x", over < 3.0,
            cpu_s=round(down.cpu, 3), load=round(os.getloadavg()[0], 2),
        )  # fmt: skip
    finally:
        remove_everything()


def median(values: list[float]) -> float:
    return statistics.median(values)
