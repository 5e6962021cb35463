"""Per-group ceph/s3-tests figures of one run, beside Ceph RGW 16's on the same tests.

usage: python scripts/conformance_report.py RESULTS.json HARNESS_DIR [--markdown]

RESULTS.json is run.sh's results file; HARNESS_DIR the s3-tests kit (groups/*.txt and
RGW-BASELINE.tsv). Only the tests the run selected count, in our column and in RGW's.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def group_members(harness: Path) -> dict[str, list[str]]:
    groups = {}
    for f in sorted((harness / "groups").glob("*.txt")):
        ids = [line.split("#", 1)[0].strip() for line in f.read_text().splitlines()]
        groups[f.stem] = [i for i in ids if i]
    return groups


def rgw_outcomes(harness: Path) -> dict[str, str]:
    path = harness / "RGW-BASELINE.tsv"
    if not path.exists():
        return {}
    with path.open() as fh:
        return {row["nodeid"]: row["outcome"] for row in csv.DictReader(fh, delimiter="\t")}


def table(results: dict, harness: Path) -> list[tuple[str, int, int, int, int, int]]:
    """(group, tests, passed, failed, skipped, rgw passed) per group the run touched."""
    tests = results["tests"]
    rgw = rgw_outcomes(harness)
    rows = []
    for name, members in group_members(harness).items():
        ran = [m for m in members if m in tests]
        if not ran:
            continue
        passed = sum(tests[m]["outcome"] == "passed" for m in ran)
        failed = sum(tests[m]["outcome"] in ("failed", "error") for m in ran)
        rows.append((name, len(ran), passed, failed, len(ran) - passed - failed,
                     sum(rgw.get(m) == "passed" for m in ran)))
    return rows


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    results = json.loads(Path(sys.argv[1]).read_text())
    rows = table(results, Path(sys.argv[2]))
    total = len(results["tests"])
    passed = sum(t["outcome"] == "passed" for t in results["tests"].values())
    rgw = rgw_outcomes(Path(sys.argv[2]))
    rgw_passed = sum(rgw.get(n) == "passed" for n in results["tests"])
    if "--markdown" in sys.argv:
        print("| group | tests | s3presign pass / fail / skip | RGW 16.2 pass |")
        print("|---|---|---|---|")
        for g, n, p, f, s, r in rows:
            print(f"| {g} | {n} | {p} / {f} / {s} | {r} |")
        print(f"| **all (distinct tests)** | **{total}** | **{passed}** / {total - passed} | **{rgw_passed}** |")
    else:
        print("%-18s %5s %5s %5s %5s %9s" % ("group", "tests", "pass", "fail", "skip", "rgw-pass"))
        for g, n, p, f, s, r in rows:
            print("%-18s %5d %5d %5d %5d %9d" % (g, n, p, f, s, r))
        print("%-18s %5d %5d %5s %5s %9d" % ("all (distinct)", total, passed, "", "", rgw_passed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
