"""The behavioural suite against the distributed shape: ``S3PRESIGN_TARGET=stack``.

Every server a test asks for (tests/server/helpers.py ``start_server``) is then one
deployment of deploy/stack.sh, started once per session: HAProxy with TLS in front
of 3 `s3presign serve` instances over PostgreSQL and a Ceph RGW bucket, with the
suite's users imported into the database. Tests that need a server of their own
configuration (another region, other flags, its data dir on disk) are skipped, and
the few that look at an embedded server's insides are deselected (tests/conftest.py).

    S3PRESIGN_TARGET=stack python -m pytest tests/server/test_objects.py ...

``S3PRESIGN_STACK_DIR=DIR`` reuses (and leaves running) a deployment this module
started before in DIR.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STACK_SH = ROOT / "deploy" / "stack.sh"
DOMAIN = "s3.test"
# `serve` options of the suite's servers that the deployment has (TLS is at the balancer)
_SAME = {"--domain", DOMAIN, "--allow-insecure-ssec", "--tls-self-signed", "--new-bucket-defaults", "legacy"}

# The behavioural suite CI runs against the deployment (`.ci/run`): ~2 min after a ~40 s start.
SUITE = [f"tests/server/test_{name}.py" for name in (
    "objects", "versioning", "multipart", "copy", "post", "minio", "sse_table", "buckets", "auth", "payload",
    "cors", "errors", "rclone", "access_acl", "access_policy", "access_accounts", "access_tagging",
    "access_attributes")]
# Tests that look inside an embedded server (its blob files, its SQLite, `kms --data-dir`): the
# distributed shape's own tests cover the same ground (tests/deploy: the RGW and database scans,
# `kms --metadata-url`).
EMBEDDED_ONLY = (
    "tests/server/test_multipart.py::test_unfinished_upload_is_never_an_object_and_abort_frees_space",
    "tests/server/test_multipart.py::test_completion_moves_the_parts_and_frees_the_unused_ones",
    "tests/server/test_sse_table.py::test_disabled_kms_key",
    "tests/server/test_sse_table.py::test_marker_and_keys_are_nowhere_on_disk",
    "tests/server/test_sse_table.py::test_flipped_byte_and_moved_sealed_key_are_errors",
    "tests/server/test_tamper.py",
)

_endpoint = None
_failed: str | None = None


class _Deployment:
    """Stands in for the server process: the deployment lives for the whole session."""

    returncode = None

    def poll(self):
        return None


def _start() -> tuple:
    from tests.server.helpers import CREDENTIALS_FILE, Endpoint

    class StackEndpoint(Endpoint):
        def stop(self) -> int:  # shared by every test: stopped at exit
            return 0

    reuse = os.environ.get("S3PRESIGN_STACK_DIR")
    directory = Path(reuse) if reuse else Path(tempfile.mkdtemp(prefix="s3presign-suite-"))
    if not (reuse and (directory / "env").exists()):
        missing = [b for b in ("radosgw", "ceph-mon", "ceph-osd", "haproxy") if shutil.which(b) is None]
        if not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
            missing.append("postgresql")
        if missing:
            pytest.skip(f"S3PRESIGN_TARGET=stack needs {' '.join(missing)}: apt-get install radosgw ceph-mon "
                        "ceph-osd ceph-common postgresql haproxy")
        users = directory / "suite-credentials"
        users.write_text(CREDENTIALS_FILE)
        # the suite's two servers: plain HTTP with SSE-C allowed over it (`endpoint`) and HTTPS
        # (`tls_endpoint`): one balancer with both ports, the instances as the embedded `endpoint` is
        env = {**os.environ, "PYTHON": sys.executable, "STACK_TLS": "1", "LB_ALSO_HTTP": "1",
               "STACK_CREDENTIALS": str(users),
               "STACK_SERVE_ARGS": f"--domain {DOMAIN} --new-bucket-defaults legacy --allow-insecure-ssec"}
        proc = subprocess.run([str(STACK_SH), "start", str(directory), "3"], capture_output=True, text=True,
                              timeout=400, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"deploy/stack.sh start failed:\n{proc.stderr[-4000:]}")
        if not reuse:
            atexit.register(_stop, directory)
    values = dict(line.split("=", 1) for line in (directory / "env").read_text().splitlines() if "=" in line)
    os.environ.setdefault("SSL_CERT_FILE", values["S3_CA_BUNDLE"])  # plain httpx calls trust the balancer too
    data, log = directory / "instance-1" / "data", directory / "instance-1" / "log"
    return (StackEndpoint(values["S3_HTTP_ENDPOINT"], data, log, _Deployment(), "us-east-1", "", DOMAIN, None),
            StackEndpoint(values["S3_ENDPOINT"], data, log, _Deployment(), "us-east-1", "", DOMAIN,
                          values["S3_CA_BUNDLE"]))


def _stop(directory: Path) -> None:
    subprocess.run([str(STACK_SH), "stop", str(directory)], capture_output=True, timeout=300)
    shutil.rmtree(directory, ignore_errors=True)


def stack_endpoint(args: tuple[str, ...], *, env: dict | None, credentials: bool, region: str):
    """The session's deployment, if it is the server this test asked for."""
    global _endpoint, _failed
    if region != "us-east-1" or env or not credentials or not set(args) <= _SAME or (
            "--domain" in args and args[args.index("--domain") + 1] != DOMAIN):
        pytest.skip("needs a server of its own configuration: embedded target only")
    if _failed:
        raise RuntimeError(_failed)
    if _endpoint is None:
        try:
            _endpoint = _start()
        except RuntimeError as exc:
            _failed = str(exc)
            raise
    return _endpoint[1 if "--tls-self-signed" in args else 0]
