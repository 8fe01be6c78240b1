"""`make mutation`: mutmut over the pipeline modules, a fixed-seed sample per module, and
the score of each (killed / (tested - equivalent)) against the floor of issue 14.

Run from the repository's root (the Makefile does): mutmut's settings are pyproject.toml's
[tool.mutmut]; it copies the project into ./mutants/ and runs the tests there.

    python tests/mutation_run.py [--per-module N] [--seed S] [--report-only]

The steps: generate the mutants (on covered lines only) and list them from mutmut's
.meta files; draw N per module with random.Random(seed) over the sorted names; run those
(`mutmut run NAMES...`); read the verdicts back and print one line per module. Mutants
listed in docs/testing.md as equivalent (the table's `mutant` column) are left out of the
denominator. Exit status 1 when a module is under the floor.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MUTANTS = REPO / "mutants"
MUTMUT = Path(sys.executable).parent / "mutmut"
FLOOR = 95.0
SEED = 14
PER_MODULE = 60
# a module is a file, or a package folder counted as one (validate/, write/, model/)
PACKAGES = ("avrgen/pipeline/validate", "avrgen/pipeline/write", "avrgen/model")
KILLED = {1, 3}
# timeouts are kills too (the mutant made the tests run far longer than they do)
TIMEOUT = {36, -24, 24, 152, 255}
NOT_RUN = {None, 33, 5}
EQUIVALENT_ROW = re.compile(r"^\|\s*`([\w.ǁ]+__mutmut_\d+)`\s*\|")


def module_of(meta: Path) -> str:
    source = meta.relative_to(MUTANTS).as_posix().removesuffix(".meta")
    for package in PACKAGES:
        if source.startswith(package + "/"):
            return package + "/"
    return source


def generate() -> None:
    """Mutants and coverage only, as `mutmut run` starts (its own functions, in order)."""
    code = (
        "from mutmut.__main__ import copy_src_dir, copy_also_copy_files, setup_source_paths, "
        "store_lines_covered_by_tests, create_mutants\n"
        "import os\n"
        "os.makedirs('mutants', exist_ok=True)\n"
        "copy_src_dir(); copy_also_copy_files(); setup_source_paths()\n"
        "store_lines_covered_by_tests(); create_mutants(os.cpu_count() or 2)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def verdicts() -> dict[str, dict[str, int | None]]:
    """Every mutant of every mutated module with mutmut's exit code (None: not run)."""
    by_module: dict[str, dict[str, int | None]] = defaultdict(dict)
    for meta in sorted((MUTANTS / "avrgen").rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        by_module[module_of(meta)].update(codes)
    return dict(sorted(by_module.items()))


def sample(by_module: dict[str, dict[str, int | None]], per_module: int, seed: int) -> list[str]:
    chosen: list[str] = []
    for names in by_module.values():
        ordered = sorted(names)
        rng = random.Random(seed)
        chosen += ordered if len(ordered) <= per_module else sorted(rng.sample(ordered, per_module))
    return chosen


def equivalent() -> set[str]:
    doc = REPO / "docs" / "testing.md"
    return {
        m.group(1) for line in doc.read_text().splitlines() if (m := EQUIVALENT_ROW.match(line))
    }


def report(by_module: dict[str, dict[str, int | None]], chosen: set[str]) -> bool:
    same = equivalent()
    ok = True
    print(f"{'module':34} {'sampled':>7} {'killed':>6} {'survived':>8} {'equiv':>5} {'score':>7}")
    for module, codes in by_module.items():
        tested = {name: code for name, code in codes.items() if name in chosen}
        equiv = sorted(name for name in tested if name in same)
        counted = {name: code for name, code in tested.items() if name not in same}
        killed = sum(code in KILLED | TIMEOUT for code in counted.values())
        survivors = sorted(n for n, c in counted.items() if c not in KILLED | TIMEOUT)
        score = 100.0 * killed / len(counted) if counted else 100.0
        ok &= score >= FLOOR
        print(
            f"{module:34} {len(tested):7} {killed:6} {len(survivors):8} "
            f"{len(equiv):5} {score:6.1f}%"
        )
        for name in survivors:
            print(f"    survived: {name} (exit {codes[name]})")
        for name in equiv:  # the list is of the last run's names: numbers follow covered lines
            if tested[name] in KILLED | TIMEOUT:
                print(f"    listed as equivalent but killed (a stale entry?): {name}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-module", type=int, default=PER_MODULE)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--report-only", action="store_true", help="read the last run's verdicts")
    args = parser.parse_args()
    if not args.report_only:
        shutil.rmtree(MUTANTS, ignore_errors=True)
        generate()
    chosen = sample(verdicts(), args.per_module, args.seed)
    if not args.report_only:
        print(f"seed {args.seed}, {len(chosen)} mutants ({args.per_module} a module at most)")
        subprocess.run([str(MUTMUT), "run", *chosen], cwd=REPO, stdout=subprocess.DEVNULL)
    ok = report(verdicts(), set(chosen))
    print(f"floor {FLOOR}% a module: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
