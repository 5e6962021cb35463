"""`import s3presign` and one presign() stay cheap: what they must not load
(the time itself is measured in benchmarks/presign.py, never asserted)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import s3presign

HEAVY = ["typing", "datetime", "ipaddress", "urllib.parse", "dataclasses", "functools", "hashlib", "re",
         "json", "http.client", "configparser", "s3presign.core.providers", "s3presign.core.sigv2"]


def _loaded(code: str) -> set[str]:
    probe = f"{code}\nloaded = [m for m in {HEAVY!r} if m in sys.modules]\nprint(__import__('json').dumps(loaded))\n"
    # -S: no site, so no machine's .pth files; the package's own directory is the only path added
    env = {**os.environ, "PYTHONPATH": str(Path(s3presign.__file__).parent.parent)}
    out = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, check=True, env=env)
    return set(json.loads(out.stdout))


def test_one_presign_loads_only_the_core():
    before = _loaded("import sys")
    code = (
        "import sys, s3presign\n"
        "s3presign.Presigner(s3presign.Credentials('AKIDEXAMPLE', 'secret')).presign('GET', 'my-bucket', 'k')\n"
        "s3presign.Presigner(s3presign.Credentials('AKIDEXAMPLE', 'secret'), 'eu-west-1').presign(\n"
        "    'PUT', 'my-bucket', 'k', sse=s3presign.SSE.kms('alias/x'), expires_in='15m')"
    )
    # json is imported by the print line itself, after the check
    assert _loaded(code) - before == set()
