"""Per-group ceph/s3-tests figures of one run, beside Ceph RGW 16's on the same tests.

usage: python scripts/conformance_report.py RESULTS.json HARNESS_DIR [--markdown] [--notes FILE]

RESULTS.json is run.sh's results file; HARNESS_DIR the s3-tests kit (groups/*.txt and
RGW-BASELINE.tsv). Only the tests the run selected count, in our column and in RGW's.
The "rgw-answer" column counts the failures that FILE (default docs/CONFORMANCE.md) lists
in its section of tests expecting RGW's answer; a group whose passes plus those stay below
RGW's passes is marked BELOW, and the exit status is then 3 (the report is still printed).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

NOTES = Path(__file__).resolve().parent.parent / "docs" / "CONFORMANCE.md"
_SECTION = "## Tests that expect RGW's answer"


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


def documented(notes: Path) -> set[str]:
    """Test names in the notes' section of tests that expect RGW's answer (up to the next ##)."""
    if not notes.exists():
        return set()
    text = notes.read_text()
    start = text.find(_SECTION)
    if start < 0:
        return set()
    end = text.find("\n## ", start + len(_SECTION))
    return set(re.findall(r"`(test_[A-Za-z0-9_]+)(?:\[[^`]*\])?`", text[start:end if end > 0 else None]))


def _name(nodeid: str) -> str:
    return nodeid.rsplit("::", 1)[-1].split("[", 1)[0]


def table(results: dict, harness: Path, notes: set[str] = frozenset()) -> list[tuple]:
    """(group, tests, passed, failed, skipped, rgw passed, documented failures) per group the run touched."""
    tests = results["tests"]
    rgw = rgw_outcomes(harness)
    rows = []
    for name, members in group_members(harness).items():
        ran = [m for m in members if m in tests]
        if not ran:
            continue
        passed = sum(tests[m]["outcome"] == "passed" for m in ran)
        failed = sum(tests[m]["outcome"] in ("failed", "error") for m in ran)
        rgw_answer = sum(tests[m]["outcome"] != "passed" and _name(m) in notes for m in ran)
        rows.append((name, len(ran), passed, failed, len(ran) - passed - failed,
                     sum(rgw.get(m) == "passed" for m in ran), rgw_answer))
    return rows


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    results = json.loads(Path(sys.argv[1]).read_text())
    notes_path = Path(sys.argv[sys.argv.index("--notes") + 1]) if "--notes" in sys.argv else NOTES
    notes = documented(notes_path)
    rows = table(results, Path(sys.argv[2]), notes)
    total = len(results["tests"])
    passed = sum(t["outcome"] == "passed" for t in results["tests"].values())
    answered = sum(t["outcome"] != "passed" and _name(n) in notes for n, t in results["tests"].items())
    rgw = rgw_outcomes(Path(sys.argv[2]))
    rgw_passed = sum(rgw.get(n) == "passed" for n in results["tests"])
    below = [g for g, n, p, f, s, r, d in rows if p + d < r]
    if "--markdown" in sys.argv:
        print("| group | tests | s3presign pass / fail / skip | RGW 16.2 pass | failures expecting RGW's answer |")
        print("|---|---|---|---|---|")
        for g, n, p, f, s, r, d in rows:
            print(f"| {g} | {n} | {p} / {f} / {s} | {r} | {d}{' (BELOW)' if g in below else ''} |")
        print(f"| **all (distinct tests)** | **{total}** | **{passed}** / {total - passed} | **{rgw_passed}** | {answered} |")
    else:
        print("%-18s %5s %5s %5s %5s %9s %11s" % ("group", "tests", "pass", "fail", "skip", "rgw-pass", "rgw-answer"))
        for g, n, p, f, s, r, d in rows:
            print("%-18s %5d %5d %5d %5d %9d %11d%s" % (g, n, p, f, s, r, d, "  BELOW" if g in below else ""))
        print("%-18s %5d %5d %5s %5s %9d %11d" % ("all (distinct)", total, passed, "", "", rgw_passed, answered))
    if below:
        print(f"groups below RGW even with the tests of {notes_path.name} set aside: {', '.join(below)}",
              file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
