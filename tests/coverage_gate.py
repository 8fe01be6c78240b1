"""`make coverage`'s gate: the whole suite's line and branch coverage, and every module's.

Reads the JSON report coverage.py wrote (`coverage json`); prints each module under its
floor and exits 1 when the totals or a module fall short.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LINES, BRANCHES, MODULE_LINES = 95.0, 90.0, 90.0


def percent(done: int, total: int) -> float:
    return 100.0 if total == 0 else 100.0 * done / total


def main(report: Path) -> int:
    data = json.loads(report.read_text())
    totals = data["totals"]
    lines = percent(totals["covered_lines"], totals["num_statements"])
    branches = percent(totals["covered_branches"], totals["num_branches"])
    failed = []
    print(
        f"lines {lines:.1f}% (floor {LINES:.0f}%), branches {branches:.1f}% (floor {BRANCHES:.0f}%)"
    )
    if lines < LINES:
        failed.append("lines")
    if branches < BRANCHES:
        failed.append("branches")
    for name, file in sorted(data["files"].items()):
        summary = file["summary"]
        covered = percent(summary["covered_lines"], summary["num_statements"])
        if covered < MODULE_LINES:
            print(f"  {name}: {covered:.1f}% of lines (floor {MODULE_LINES:.0f}%)")
            failed.append(name)
    if failed:
        print(f"coverage under its floor: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ".coverage-data/coverage.json")))
