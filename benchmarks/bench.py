"""avrgen's benchmark: whole-process, cold timings of validate/render at scale, against targets.

Run it with `make bench` (or `.venv/bin/python benchmarks/bench.py`). It generates the blueprint
sets deterministically (1,000 agents: half pipeline, half STS, 200 providers, wide port ranges;
and 10,000 agents), runs every measurement as a fresh `avrgen` process several times, reports the
median and the spread (min-max), measures the floor (a plain Python script that only writes the
same bytes into the same files, timed in the same run), the ratios and the peak memory (maxrss of
each child, from os.wait4), prints every figure beside its target with PASS/FAIL, and writes a
JSON result to benchmarks/results/. Benchmarks are not tests: this prints figures; the test suite
checks behaviour. Exit status: 0 when every target is met, 1 otherwise.

From scratch: no output folder, no lock, an empty render cache. Old outputs are moved aside,
not deleted, until the last measurement (see Bench.fresh: on this machine's file system,
deleting thousands of files slows whoever creates files next); the last step times render
and floor with the old output deleted first, for the record.
"""

from __future__ import annotations

import argparse
import json
import marshal
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
BIN = Path(sys.executable).parent
AVRGEN = str(BIN / "avrgen")

# Wide port ranges: room for 10,000 agents (10,000 core, 10,000 http, 20,000 provider ports).
PORTS = {"core": "10000-24999", "http": "25000-39999", "providers": "40000-64999"}
PROVIDER_TYPES = ("ASR", "LLM", "TTS", "STS")
PIPELINE_SLOTS = ("asr", "llm", "tts")
AGENTS_PER_FILE = 50
PROVIDERS_PER_FILE = 20
NAME_WIDTH = 54  # of a figure's name in the printed table


# -- the blueprint sets --------------------------------------------------------------------------


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def provider_name(kind: str, index: int) -> str:
    return f"{kind} provider {index:03d}"


def provider_doc(kind: str, index: int) -> str:
    """One provider; every fourth STS one uses the bundled sts-deepgram catalog template."""
    name = provider_name(kind, index)
    lines = ["kind: provider", f"name: {_q(name)}", f"type: {kind}"]
    key = f"{kind}_{index:03d}_API_KEY"
    env = [
        f"    {key}: {{secret: {key}}}",
        f"    MODEL: {kind.lower()}-model-{index % 7}",
        f"    LANGUAGE: {('en', 'de', 'fr', 'it')[index % 4]}",
        "    PROMPT: " + _q(f"You are provider {index}: say 'no', \"$HOME\", #1, 0123 and yes."),
        "    FLAG: no",
    ]
    if kind == "STS" and index % 4 == 0:
        lines.append("template: sts-deepgram")
        env = [
            "    DEEPGRAM_API_KEY: {secret: DEEPGRAM_API_KEY}",
            f"    AGENT_PROMPT: {_q(f'You are STS agent number {index}.')}",
            "    DEEPGRAM_ASR_MODEL: nova-3",
        ]
    lines += [
        "config:",
        f"  image: avrgen-bench/{kind.lower()}-{index % 10}:1.{index % 5}.0",
        "  env:",
        *env,
    ]
    return "\n".join(lines) + "\n"


def agent_doc(index: int, providers_per_type: int) -> str:
    """Even agents run a pipeline, odd ones STS; every provider is used by several agents."""
    name = f"agent-{index:05d}"
    pick = index // 2 % providers_per_type
    lines = ["kind: agent", f"name: {name}"]
    if index % 2 == 0:
        lines.append("mode: pipeline")
        slots = ", ".join(
            f"{slot}: {_q(provider_name(slot.upper(), (pick + k) % providers_per_type))}"
            for k, slot in enumerate(PIPELINE_SLOTS)
        )
        lines.append(f"providers: {{{slots}}}")
    else:
        lines.append("mode: sts")
        lines.append(f"providers: {{sts: {_q(provider_name('STS', pick))}}}")
    lines.append(f"tenant: tenant-{index % 37:02d}")
    lines.append(f"env: {{LOG_LEVEL: {('info', 'debug')[index % 2]}, REGION: eu-{index % 3}}}")
    lines += [
        "core:",
        "  env:",
        f"    SYSTEM_MESSAGE: {_q(f'Hello from agent {index}, how can I help?')}",
    ]
    if index % 5 == 0:
        lines.append(f"    WEBHOOK_SECRET: {{secret: WEBHOOK_SECRET_{index % 10}}}")
    if index % 3 == 0:
        lines.append("  publish: true")
    return "\n".join(lines) + "\n"


def generate(folder: Path, agents: int, providers: int = 200) -> None:
    """Write a blueprint set into `folder` (emptied first); the same arguments, the same bytes."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "providers").mkdir(parents=True)
    (folder / "agents").mkdir()
    ports = ", ".join(f"{k}: {v}" for k, v in PORTS.items())
    (folder / "settings.yaml").write_text(
        "kind: settings\n"
        # a set id of its own: without one, each render without a lock would make one up
        "set: avrgen-bench\n"
        "network: {name: avr-bench, subnet: 172.29.0.0/16}\n"
        f"ports: {{{ports}}}\n"
        "core: {env: {INTERRUPT_LISTENING: 'true'}}\n",
        encoding="utf-8",
    )
    per_type = providers // len(PROVIDER_TYPES)
    docs = [provider_doc(kind, i) for kind in PROVIDER_TYPES for i in range(per_type)]
    for start in range(0, len(docs), PROVIDERS_PER_FILE):
        chunk = docs[start : start + PROVIDERS_PER_FILE]
        path = folder / "providers" / f"providers-{start // PROVIDERS_PER_FILE:03d}.yaml"
        path.write_text("---\n".join(chunk), encoding="utf-8")
    for start in range(0, agents, AGENTS_PER_FILE):
        chunk = [agent_doc(i, per_type) for i in range(start, min(agents, start + AGENTS_PER_FILE))]
        path = folder / "agents" / f"agents-{start // AGENTS_PER_FILE:04d}.yaml"
        path.write_text("---\n".join(chunk), encoding="utf-8")


# -- running and timing processes ----------------------------------------------------------------


@dataclass
class Run:
    seconds: float  # wall time, spawn to exit: what the targets are about
    cpu: float  # user + system time of the process (less sensitive to a busy machine)
    maxrss_mb: float
    stdout: str


def run(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """One whole process, timed from spawn to exit; its own peak RSS from wait4."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{text[-3000:]}")
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text)


@dataclass
class Series:
    runs: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    maxrss_mb: float = 0.0

    def add(self, result: Run) -> None:
        self.runs.append(result.seconds)
        self.cpu.append(result.cpu)
        self.maxrss_mb = max(self.maxrss_mb, result.maxrss_mb)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def summary(self) -> dict[str, object]:
        return {
            "median_s": round(self.median, 4),
            "min_s": round(min(self.runs), 4),
            "max_s": round(max(self.runs), 4),
            "runs_s": [round(r, 4) for r in self.runs],
            "cpu_median_s": round(statistics.median(self.cpu), 4),
            "peak_rss_mb": round(self.maxrss_mb, 1),
        }


def measure(
    times: int,
    argv: Sequence[str],
    cwd: Path,
    before: Callable[[int], None] | None = None,
    after: Callable[[int, Run], None] | None = None,
) -> Series:
    series = Series()
    for i in range(times):
        if before:
            before(i)
        result = run(argv, cwd)
        if after:
            after(i, result)
        series.add(result)
    return series


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder` with its inode and mtime: what a write would change."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            st = path.stat()
            found[path.relative_to(folder).as_posix()] = (st.st_ino, st.st_mtime_ns)
    return found


def read_tree(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


LIBRARY_IMPORTS = "import click, jinja2, pydantic, yaml, yaml_rs; from pydantic import BaseModel"

FLOOR_SCRIPT = f"""\
import marshal, os, sys
if "--libraries" in sys.argv:  # what any render built on them pays before its first byte
    {LIBRARY_IMPORTS}
with open(sys.argv[1], "rb") as handle:
    files = marshal.load(handle)
made = set()
for path, data in files.items():
    folder = os.path.dirname(path)
    if folder not in made:
        os.makedirs(folder, exist_ok=True)
        made.add(folder)
    with open(path, "wb") as handle:
        handle.write(data)
if "--sync" in sys.argv:  # durable, as render makes them: one sync() of the file system
    os.sync()
"""


# -- the report ----------------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    target: str
    ok: bool | None  # None: informational, no target
    detail: dict[str, object] = field(default_factory=dict)


class Report:
    def __init__(self) -> None:
        self.figures: list[Figure] = []
        self.skipped: list[str] = []

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        target: str = "",
        ok: bool | None = None,
        **detail: object,
    ) -> None:
        figure = Figure(name, value, unit, target, ok, dict(detail))
        self.figures.append(figure)
        print(self.row(figure), flush=True)

    @staticmethod
    def fmt(value: float, unit: str) -> str:
        if unit == "s":
            return f"{value:.3f} s"
        if unit == "x":
            return f"{value:.2f}x"
        if unit == "MB":
            return f"{value:.0f} MB"
        return f"{value:g} {unit}".strip()

    def row(self, f: Figure) -> str:
        verdict = "" if f.ok is None else ("PASS" if f.ok else "FAIL")
        spread = cpu = ""
        if "min_s" in f.detail:
            spread = f"({f.detail['min_s']:.3f}-{f.detail['max_s']:.3f})"
            cpu = f"{f.detail['cpu_median_s']:.3f}"
        value = self.fmt(f.value, f.unit)
        return f"{f.name:<{NAME_WIDTH}} {value:>10} {spread:<14} {cpu:>6} {f.target:<10} {verdict}"

    def markdown(self) -> str:
        lines = [
            "| measurement | median (min-max), wall | CPU (median) | target | |",
            "|---|---|---|---|---|",
        ]
        for f in self.figures:
            value, cpu = self.fmt(f.value, f.unit), ""
            if "min_s" in f.detail:
                value += f" ({f.detail['min_s']:.3f}-{f.detail['max_s']:.3f})"
                cpu = f"{f.detail['cpu_median_s']:.3f} s"
            verdict = "" if f.ok is None else ("PASS" if f.ok else "**FAIL**")
            lines.append(f"| {f.name} | {value} | {cpu} | {f.target} | {verdict} |")
        for reason in self.skipped:
            lines.append(f"| skipped: {reason} | | | | |")
        return "\n".join(lines)

    @property
    def passed(self) -> bool:
        return all(f.ok is not False for f in self.figures)


# -- the measurements ----------------------------------------------------------------------------


class Bench:
    def __init__(self, work: Path, repeat: int, report: Report) -> None:
        self.work = work
        self.repeat = repeat
        self.report = report
        self.state: dict[str, tuple[int, int]] = {}  # the output before a timed render
        self.trash = work / "trash"  # outputs moved aside by fresh()
        self.cache = work / "cache"  # avrgen's render cache ($XDG_CACHE_HOME), set by main()
        self.floor_argv: list[str] = []  # the floor script and its files, made by thousand()

    def args(self, command: str, blueprints: Path, output: Path, *extra: str) -> list[str]:
        return [AVRGEN, command, "-b", str(blueprints), "-o", str(output), *extra]

    def fresh(self, blueprints: Path, output: Path) -> Callable[[int], None]:
        """From scratch: no output folder, no lock, an empty render cache.

        The old output is moved aside, not deleted: on this machine's ext4 (mounted with
        `discard`) creating thousands of files in the minute after deleting thousands costs
        the kernel up to ~1.4 s, which would time the file system's cleanup, not the render
        (or the floor). The moved trees are deleted after the last measurement (`tidy`).
        """

        def before(_: int) -> None:
            if output.exists():
                self.trash.mkdir(exist_ok=True)
                output.rename(self.trash / f"{output.name}-{time.time_ns()}")
            (blueprints / "avrgen.lock").unlink(missing_ok=True)
            shutil.rmtree(self.cache, ignore_errors=True)

        return before

    def deleted(self, blueprints: Path, output: Path) -> Callable[[int], None]:
        """From scratch the way `rm -rf output` gets there: the old output deleted."""

        def before(_: int) -> None:
            shutil.rmtree(output, ignore_errors=True)
            (blueprints / "avrgen.lock").unlink(missing_ok=True)
            shutil.rmtree(self.cache, ignore_errors=True)

        return before

    def tidy(self) -> None:
        """Delete the outputs `fresh` moved aside, and let the file system settle."""
        shutil.rmtree(self.trash, ignore_errors=True)
        os.sync()

    def help(self) -> None:
        series = measure(self.repeat * 2, [AVRGEN, "--help"], self.work)
        self.report.add(
            "avrgen --help", series.median, "s", "< 0.150 s", series.median < 0.15,
            **series.summary(),
        )  # fmt: skip

    def paths(self, agents: int) -> tuple[Path, Path]:
        """The blueprint and output folders of the `agents` set."""
        return self.work / f"bp-{agents}", self.work / f"out-{agents}"

    def scale(self, agents: int) -> tuple[Path, Path]:
        blueprints, output = self.paths(agents)
        generate(blueprints, agents)
        return blueprints, output

    def thousand(self) -> Series:
        report, n = self.report, self.repeat
        blueprints, output = self.scale(1000)
        label = "1,000 agents"

        validate = measure(n, self.args("validate", blueprints, output), self.work)
        report.add(
            f"validate {label}", validate.median, "s", "< 0.500 s", validate.median < 0.5,
            **validate.summary(),
        )  # fmt: skip

        render_argv = self.args("render", blueprints, output)
        scratch = measure(n, render_argv, self.work, before=self.fresh(blueprints, output))
        files = read_tree(output)
        files_lock = {"avrgen.lock": (blueprints / "avrgen.lock").read_bytes()}

        # The floor: a plain Python script that writes the same bytes into the same files.
        blob = self.work / "floor.marshal"
        everything = {str(output / rel): data for rel, data in files.items()}
        everything.update({str(blueprints / rel): data for rel, data in files_lock.items()})
        blob.write_bytes(marshal.dumps(everything))
        script = self.work / "floor.py"
        script.write_text(FLOOR_SCRIPT, encoding="utf-8")
        self.floor_argv = [sys.executable, str(script), str(blob)]
        durable_argv = [*self.floor_argv, "--sync"]
        floor = measure(n, self.floor_argv, self.work, before=self.fresh(blueprints, output))
        if read_tree(output) != files:
            raise SystemExit("the floor script did not write the same bytes")
        durable = measure(n, durable_argv, self.work, before=self.fresh(blueprints, output))
        # Interleave once more, so a noisy neighbour hits every series alike.
        for _ in range(n):
            self.fresh(blueprints, output)(0)
            scratch.add(run(render_argv, self.work))
            self.fresh(blueprints, output)(0)
            floor.add(run(self.floor_argv, self.work))
            self.fresh(blueprints, output)(0)
            durable.add(run(durable_argv, self.work))
        if read_tree(output) != files:
            raise SystemExit("the floor script did not write the same bytes")
        self.fresh(blueprints, output)(0)
        run(render_argv, self.work)  # leave avrgen's own output (and lock) in place
        if read_tree(output) != files:
            raise SystemExit("render from scratch is not deterministic")

        report.add(
            f"render {label} from scratch", scratch.median, "s", "< 1.000 s",
            scratch.median < 1.0, files=len(files) + 1, **scratch.summary(),
        )  # fmt: skip
        report.add(
            "floor: plain Python writing the same files", floor.median, "s", "", None,
            files=len(everything), **floor.summary(),
        )  # fmt: skip
        report.add(
            "floor, durable: the same and one sync()", durable.median, "s", "", None,
            **durable.summary(),
        )  # fmt: skip
        ratio = scratch.median / durable.median
        report.add("render from scratch / durable floor", ratio, "x", "< 2.50x", ratio < 2.5)
        report.add("render from scratch / floor (no sync)", scratch.median / floor.median, "x")
        report.add("peak memory, render 1,000 agents", scratch.maxrss_mb, "MB")

        # What bounds that ratio from below: a Python process importing the libraries avrgen
        # is built on (pydantic, jinja2, click, PyYAML, yaml-rs) and doing nothing else.
        imports = measure(n * 2, [sys.executable, "-c", LIBRARY_IMPORTS], self.work)
        report.add(
            "imports alone (pydantic, jinja2, click, yaml)", imports.median, "s", "", None,
            **imports.summary(),
        )  # fmt: skip
        report.add("imports alone / floor", imports.median / floor.median, "x")
        # The durable floor in a process that imports those libraries first: the least any
        # render built on them takes, with no validation, plan or template work at all.
        bound = measure(
            n, [*durable_argv, "--libraries"], self.work, before=self.fresh(blueprints, output)
        )
        report.add(
            "bound: the durable floor, libraries imported first", bound.median, "s", "", None,
            **bound.summary(),
        )  # fmt: skip
        report.add("bound / durable floor", bound.median / durable.median, "x")

        # Nothing changed: nothing may be written.
        def unchanged(_: int, result: Run) -> None:
            if "nothing changed" not in result.stdout:
                raise SystemExit(f"a no-change render wrote something:\n{result.stdout[-500:]}")

        state = snapshot(output)
        same = measure(n, render_argv, self.work, after=unchanged)
        if snapshot(output) != state:
            raise SystemExit("a no-change render touched files")
        report.add(
            "render, nothing changed (writes nothing)", same.median, "s", "< 0.150 s",
            same.median < 0.15, **same.summary(),
        )  # fmt: skip

        # One agent changed: only its files may be written.
        agent = "agent-00500"
        source = blueprints / "agents" / f"agents-{500 // AGENTS_PER_FILE:04d}.yaml"
        original = source.read_text(encoding="utf-8")
        marker = "Hello from agent 500,"
        assert marker in original

        def edit(i: int) -> None:
            source.write_text(original.replace(marker, f"Hello from agent 500 (edit {i}),"))
            self.state = snapshot(output)

        def only_that_agent(_: int, result: Run) -> None:
            now = snapshot(output)
            before = self.state
            touched = sorted(k for k in set(now) | set(before) if now.get(k) != before.get(k))
            if not touched or any(not k.startswith(f"{agent}/") for k in touched):
                raise SystemExit(f"one-agent render touched {touched[:10]}")

        one = measure(n, render_argv, self.work, before=edit, after=only_that_agent)
        source.write_text(original, encoding="utf-8")
        report.add(
            "render, one agent changed (writes only it)", one.median, "s", "< 0.500 s",
            one.median < 0.5, **one.summary(),
        )  # fmt: skip
        return scratch

    def after_delete(self) -> None:
        """Render and floor again, each with the old output deleted right before it (as
        `rm -rf output` would): this file system charges its cleanup of the deleted files to
        whoever creates files next. Informational; run last, as it slows what follows."""
        n, report = self.repeat, self.report
        blueprints, output = self.paths(1000)
        render_argv = self.args("render", blueprints, output)
        deleted = self.deleted(blueprints, output)
        render = measure(n, render_argv, self.work, before=deleted)
        floor = measure(n, self.floor_argv, self.work, before=deleted)
        report.add(
            "render 1,000 agents, old output deleted first", render.median, "s", "", None,
            **render.summary(),
        )  # fmt: skip
        report.add(
            "floor, old output deleted first", floor.median, "s", "", None, **floor.summary()
        )
        report.add("render / floor, old output deleted first", render.median / floor.median, "x")

    def ten_thousand(self, thousand: Series) -> None:
        report = self.report
        blueprints, output = self.scale(10_000)
        times = max(3, self.repeat // 2)
        big = measure(
            times, self.args("render", blueprints, output), self.work,
            before=self.fresh(blueprints, output),
        )  # fmt: skip
        report.add("render 10,000 agents from scratch", big.median, "s", "", None, **big.summary())
        ratio = big.median / thousand.median
        report.add("10,000 / 1,000 agents", ratio, "x", "< 11.00x", ratio < 11.0)
        report.add(
            "peak memory, render 10,000 agents", big.maxrss_mb, "MB", "< 300 MB",
            big.maxrss_mb < 300,
        )  # fmt: skip
        val = measure(times, self.args("validate", blueprints, output), self.work)
        report.add("validate 10,000 agents", val.median, "s", "", None, **val.summary())


def engine_measurement(bench: Bench) -> None:
    """status, up, ps and down of 100 running agents against the engine's floor, on a real
    engine (when there is one): benchmarks/engine_bench.py."""
    import engine_bench  # beside this file

    engine_bench.measure(bench)


def hosts_measurement(bench: Bench) -> None:
    """The same figures over a hosts inventory of two engines (network namespaces with a
    dockerd each, when this machine can make them): benchmarks/hosts_bench.py."""
    import hosts_bench  # beside this file

    hosts_bench.measure(bench)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per measurement (default 7)")
    parser.add_argument("--work", type=Path, default=RESULTS / "work", help="scratch folder")
    parser.add_argument("--json", type=Path, default=None, help="result file")
    parser.add_argument("--quick", action="store_true", help="1,000 agents only, no engine")
    parser.add_argument("--no-up", action="store_true", help="skip the docker engine figures")
    parser.add_argument("--engine-only", action="store_true", help="only the engine figures")
    parser.add_argument(
        "--hosts-only", action="store_true", help="only the figures over two engines as hosts"
    )
    options = parser.parse_args(argv)

    work: Path = options.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    # Measure avrgen as installed: pip writes its bytecode at install time. Without this, an
    # editable checkout run with PYTHONDONTWRITEBYTECODE=1 (as on this machine) compiles
    # avrgen's modules from source in every run (~35 ms) that no installed copy pays.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "avrgen")], check=True)
    # avrgen's render cache (avrgen/pipeline/cache/) starts empty in every run and lives in the
    # scratch folder, not in ~/.cache: the figures do not depend on earlier runs
    report = Report()
    bench = Bench(work, options.repeat, report)
    shutil.rmtree(bench.cache, ignore_errors=True)
    os.environ["XDG_CACHE_HOME"] = str(bench.cache)
    print(
        f"avrgen benchmark: {options.repeat} cold runs each; wall median (min-max),"
        " CPU (user+sys) median",
        flush=True,
    )
    print(
        f"{'measurement':<{NAME_WIDTH}} {'median':>10} {'(spread)':<14} {'cpu':>6} target",
        flush=True,
    )
    started = time.perf_counter()
    load_before = os.getloadavg()
    only = options.engine_only or options.hosts_only
    if not only:
        bench.help()
        thousand = bench.thousand()
        if not options.quick:
            bench.ten_thousand(thousand)
    if not (options.quick or options.no_up or options.hosts_only):
        engine_measurement(bench)
    if not (options.quick or options.no_up or options.engine_only):
        hosts_measurement(bench)
    if not only:
        bench.after_delete()
    bench.tidy()
    elapsed = time.perf_counter() - started

    load_after = os.getloadavg()
    verdict = "every target met" if report.passed else "SOME TARGETS MISSED"
    load = f"load average {load_before[0]:.1f} -> {load_after[0]:.1f}"
    print(f"\n{verdict} ({elapsed:.0f} s; {load})")
    for reason in report.skipped:
        print(f"skipped: {reason}")
    result = {
        "passed": report.passed,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        },
        "repeat": options.repeat,
        "figures": [asdict(f) for f in report.figures],
        "skipped": report.skipped,
        "markdown": report.markdown(),
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = options.json or RESULTS / f"bench-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"result: {out}")
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
