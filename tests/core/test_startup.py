"""`import s3presign` and one presign() stay cheap: what they must not load
(the time itself is measured in benchmarks/presign.py, never asserted)."""

import json
import subprocess
import sys

HEAVY = ["typing", "datetime", "ipaddress", "urllib.parse", "dataclasses", "functools", "hashlib", "re",
         "json", "http.client", "configparser", "s3presign.core.providers", "s3presign.core.sigv2"]


def test_one_presign_loads_only_the_core():
    code = (
        "import sys, s3presign\n"
        "s3presign.Presigner(s3presign.Credentials('AKIDEXAMPLE', 'secret')).presign('GET', 'my-bucket', 'k')\n"
        "s3presign.Presigner(s3presign.Credentials('AKIDEXAMPLE', 'secret'), 'eu-west-1').presign(\n"
        "    'PUT', 'my-bucket', 'k', sse=s3presign.SSE.kms('alias/x'), expires_in='15m')\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\nprint(__import__('json').dumps(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # json is imported by the print line itself, after the check
    assert json.loads(out.stdout) == []
