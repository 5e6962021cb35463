"""Fixtures: a real single-node Ceph cluster with radosgw (deploy/rgw.sh), shared per session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
RGW_SH = ROOT / "deploy" / "rgw.sh"
CEPH_BINARIES = ("radosgw", "radosgw-admin", "ceph-mon", "ceph-osd", "ceph", "monmaptool", "ceph-authtool")


@dataclass
class Rgw:
    dir: Path
    endpoint: str
    access_key: str
    secret_key: str
    region: str
    env: dict

    def run(self, command: str) -> None:
        subprocess.run([str(RGW_SH), command, str(self.dir)], check=True, capture_output=True, timeout=120)

    def boto3(self):
        import boto3
        from botocore.config import Config

        # RGW 16 cannot read boto3's aws-chunked checksum trailers: checksums only when required
        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=self.region,
            config=Config(request_checksum_calculation="when_required",
                          response_checksum_validation="when_required", s3={"addressing_style": "path"}),
        )


def ceph_missing() -> list[str]:
    return [b for b in CEPH_BINARIES if shutil.which(b) is None]


@pytest.fixture(scope="session")
def rgw(tmp_path_factory) -> Iterator[Rgw]:
    missing = ceph_missing()
    if missing:
        pytest.skip(f"Ceph binaries not installed ({', '.join(missing)}): "
                    "apt-get install radosgw ceph-mon ceph-osd ceph-common")
    directory = tmp_path_factory.mktemp("rgw")
    proc = subprocess.run([str(RGW_SH), "start", str(directory)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        subprocess.run([str(RGW_SH), "stop", str(directory)], capture_output=True, timeout=120)
        raise RuntimeError(f"deploy/rgw.sh start failed:\n{proc.stderr}\n{proc.stdout}")
    env = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    server = Rgw(directory, env["RGW_ENDPOINT"], env["RGW_ACCESS_KEY"], env["RGW_SECRET_KEY"], env["RGW_REGION"], env)
    try:
        yield server
    finally:
        subprocess.run([str(RGW_SH), "stop", str(directory)], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def rgw_bucket(rgw) -> str:
    name = f"blobs-{uuid.uuid4().hex[:8]}"
    rgw.boto3().create_bucket(Bucket=name)
    return name


@dataclass
class Stack:
    """deploy/stack.sh's deployment: HAProxy (TLS) -> N instances -> PostgreSQL + RGW."""

    dir: Path
    env: dict
    users: dict  # section -> (access key, secret key)

    @property
    def endpoint(self) -> str:
        return self.env["S3_ENDPOINT"]

    @property
    def instances(self) -> list[str]:
        return [f"http://{h}" for h in self.env["INSTANCES"].split(",")]

    def pids(self) -> list[int]:
        return [int(line.split()[1]) for line in (self.dir / "instances.pids").read_text().splitlines()]

    def client(self, endpoint: str | None = None, user: str = "main", retries: int = 1):
        import boto3
        from botocore.config import Config

        access, secret = self.users[user]
        return boto3.client(
            "s3", endpoint_url=endpoint or self.endpoint, region_name="us-east-1",
            aws_access_key_id=access, aws_secret_access_key=secret, verify=self.env["S3_CA_BUNDLE"],
            config=Config(signature_version="s3v4", retries={"max_attempts": retries, "mode": "standard"},
                          s3={"addressing_style": "path"},
                          connect_timeout=10, read_timeout=60),
        )

    def rgw(self):
        import boto3
        from botocore.config import Config

        rgw = json.loads((self.dir / "rgw" / "env.json").read_text())
        return boto3.client("s3", endpoint_url=rgw["RGW_ENDPOINT"], region_name="us-east-1",
                            aws_access_key_id=rgw["RGW_ACCESS_KEY"], aws_secret_access_key=rgw["RGW_SECRET_KEY"],
                            config=Config(request_checksum_calculation="when_required",
                                          response_checksum_validation="when_required"))


def stack_missing() -> list[str]:
    missing = ceph_missing()
    if shutil.which("haproxy") is None:
        missing.append("haproxy")
    if not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
        missing.append("postgresql")
    return missing


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """A 3-instance deployment with TLS at the balancer (SSE-C needs HTTPS), under /tmp
    (PostgreSQL's user must be able to enter it)."""
    import configparser
    import sys
    import tempfile

    reuse = os.environ.get("S3PRESIGN_TEST_STACK")  # a running deploy/stack.sh DIR (3 instances, STACK_TLS=1)
    if reuse:
        yield _stack(Path(reuse), (Path(reuse) / "env").read_text())
        return
    missing = stack_missing()
    if missing:
        pytest.skip(f"needs {' '.join(missing)} (apt-get install radosgw ceph-mon ceph-osd ceph-common postgresql haproxy)")
    directory = Path(tempfile.mkdtemp(prefix="s3presign-dist-"))
    script = ROOT / "deploy" / "stack.sh"
    env = {**os.environ, "PYTHON": sys.executable, "STACK_TLS": "1", "STACK_GC_GRACE": "30"}
    proc = subprocess.run([str(script), "start", str(directory), "3"], capture_output=True, text=True,
                          timeout=400, env=env)
    try:
        if proc.returncode != 0:
            raise RuntimeError(f"deploy/stack.sh start failed:\n{proc.stderr[-4000:]}")
        yield _stack(directory, proc.stdout)
    finally:
        subprocess.run([str(script), "stop", str(directory)], capture_output=True, timeout=300, env=env)
        shutil.rmtree(directory, ignore_errors=True)


def _stack(directory: Path, out: str) -> Stack:
    import configparser

    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    parser = configparser.ConfigParser()
    parser.read(directory / "credentials")
    users = {s: (parser[s]["aws_access_key_id"], parser[s]["aws_secret_access_key"]) for s in parser.sections()}
    return Stack(directory, values, users)
