"""The engine part of the benchmark: `avrgen up --all` of 20 agents against one at a time.

Runs only where `avrgen up` exists and a Docker Engine answers, with the local test images
(tests/docker/images, built by tests/dockerenv.py); otherwise it records why it was skipped.
Each timed run starts from nothing running (`avrgen down --all`, not timed) and is a whole
`avrgen up` process: `--parallel 1` brings the agents up one by one, the default brings
several up at once. Everything it starts is taken down again, even on failure.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench import Bench

ROOT = Path(__file__).resolve().parent.parent
AGENTS = 20
NETWORK, SUBNET = "avrgen-bench", "10.213.60.0/24"
PROVIDER_IMAGE, CORE_IMAGE = "avrgen-test/provider:1", "avrgen-test/core:1"


def blueprints(folder: Path) -> None:
    """20 STS agents on the test images, on their own network and port ranges."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    text = (
        "kind: settings\n"
        f"network: {{name: {NETWORK}, subnet: {SUBNET}}}\n"
        "ports: {core: 25300-25399, http: 27300-27399, providers: 26300-26399}\n"
        f'core: {{image: "{CORE_IMAGE}", env: {{CHECK_INTERVAL: "1"}}}}\n'
        "---\n"
        "kind: provider\nname: Bench STS\ntype: STS\n"
        f'config: {{image: "{PROVIDER_IMAGE}"}}\n'
    )
    for i in range(AGENTS):
        text += f"---\nkind: agent\nname: bench-{i:02d}\nmode: sts\nproviders: {{sts: Bench STS}}\n"
    (folder / "agents.yaml").write_text(text, encoding="utf-8")


def why_not(avrgen: str) -> str | None:
    """None when the measurement can run, else the reason it cannot."""
    helps = subprocess.run([avrgen, "up", "--help"], capture_output=True, text=True, check=False)
    if helps.returncode != 0 or "--parallel" not in helps.stdout:
        return "`avrgen up --parallel` is not available"
    docker = shutil.which("docker")
    if docker is None:
        return "no docker CLI"
    info = subprocess.run([docker, "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        return "no Docker Engine answers (`docker info` failed)"
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import dockerenv  # the helper that builds the local test images

        dockerenv.ensure_test_images()
    except Exception as exc:  # an image that will not build: say why, do not crash
        return f"the test images could not be built: {exc}"
    return None


def measure(bench: Bench) -> None:
    from bench import AVRGEN, measure, run

    report = bench.report
    reason = why_not(AVRGEN)
    if reason is not None:
        print(f"{'avrgen up --all, 20 agents':<44} skipped: {reason}", flush=True)
        report.skipped.append(f"avrgen up --all of 20 agents: {reason}")
        return
    folder = bench.work / "up"
    blueprints(folder / "blueprints")
    base = [AVRGEN]
    paths = ["-b", str(folder / "blueprints"), "-o", str(folder / "output")]
    down = [*base, "down", "--all", *paths]
    times = max(2, bench.repeat // 3)
    try:
        run([*base, "render", *paths], folder)
        run(down, folder)

        def clean(_: int) -> None:
            run(down, folder)

        serial = measure(
            times, [*base, "up", "--all", "--parallel", "1", *paths], folder, before=clean
        )
        parallel = measure(times, [*base, "up", "--all", *paths], folder, before=clean)
    finally:
        subprocess.run(down, cwd=folder, capture_output=True, check=False)
        docker = shutil.which("docker") or "docker"
        subprocess.run([docker, "network", "rm", NETWORK], capture_output=True, check=False)
    report.add(
        "up 20 agents one by one (--parallel 1)", serial.median, "s", "", None,
        **serial.summary(),
    )  # fmt: skip
    report.add(
        "up --all 20 agents (parallel)", parallel.median, "s", "", None, **parallel.summary()
    )
    ratio = serial.median / parallel.median
    report.add("up: one by one / --all", ratio, "x", ">= 2.00x", ratio >= 2.0)
