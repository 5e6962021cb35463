"""scripts/conformance_report.py: per-group counts beside RGW's, and the check that a group
below RGW is so only by tests the notes list as expecting RGW's answer."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "conformance_report.py"


def _module():
    spec = importlib.util.spec_from_file_location("conformance_report", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _kit(tmp_path: Path) -> tuple[Path, Path]:
    kit = tmp_path / "kit"
    (kit / "groups").mkdir(parents=True)
    ids = [f"s3tests/functional/test_s3.py::test_{n}" for n in ("a", "b", "c")]
    (kit / "groups" / "g.txt").write_text("\n".join(ids) + "\n")
    (kit / "RGW-BASELINE.tsv").write_text("group\tnodeid\toutcome\tmarkers\tmessage\n" +
                                          "".join(f"g\t{i}\tpassed\t\t\n" for i in ids))
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"tests": {ids[0]: {"outcome": "passed"}, ids[1]: {"outcome": "failed"},
                                             ids[2]: {"outcome": "failed"}}}))
    return kit, results


def test_documented_reads_only_the_rgw_section(tmp_path):
    notes = tmp_path / "CONFORMANCE.md"
    notes.write_text("# x\n`test_elsewhere`\n## Tests that expect RGW's answer where S3 documents another\n"
                     "| `test_b`, `test_c[param]` |\n## The other failure\n`test_later`\n")
    assert _module().documented(notes) == {"test_b", "test_c"}


def test_a_group_below_rgw_only_by_documented_tests_passes(tmp_path):
    kit, results = _kit(tmp_path)
    notes = tmp_path / "notes.md"
    notes.write_text("## Tests that expect RGW's answer\n`test_b` `test_c`\n")
    out = subprocess.run([sys.executable, str(SCRIPT), str(results), str(kit), "--notes", str(notes)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[1].split() == ["g", "3", "1", "2", "0", "3", "2"]
    notes.write_text("## Tests that expect RGW's answer\n`test_b`\n")
    out = subprocess.run([sys.executable, str(SCRIPT), str(results), str(kit), "--notes", str(notes), "--markdown"],
                         capture_output=True, text=True)
    assert out.returncode == 3
    assert "| g | 3 | 1 / 2 / 0 | 3 | 1 (BELOW) |" in out.stdout
    assert "below RGW" in out.stderr
