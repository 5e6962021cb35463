"""Fixtures: a real single-node Ceph cluster with radosgw (deploy/rgw.sh), shared per session."""

from __future__ import annotations

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
