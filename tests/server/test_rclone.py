"""rclone (an independent client) fills a versioned bucket and purges it: every
version and delete marker goes (rclone lists versions), no ERROR, the bucket is gone."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest

from .helpers import MAIN


@pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone not installed (apt-get install rclone)")
def test_rclone_purge_of_a_versioned_bucket(endpoint, tmp_path):
    s3 = endpoint.client()
    bucket = f"rc-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for n in range(3):
        s3.put_object(Bucket=bucket, Key="dir/file.txt", Body=f"version {n}".encode())
    s3.delete_object(Bucket=bucket, Key="dir/file.txt")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.bin").write_bytes(os.urandom(10_000))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, "RCLONE_CONFIG_S3P_TYPE": "s3", "RCLONE_CONFIG_S3P_PROVIDER": "Other",
           "RCLONE_CONFIG_S3P_ENDPOINT": endpoint.url, "RCLONE_CONFIG_S3P_ACCESS_KEY_ID": MAIN[0],
           "RCLONE_CONFIG_S3P_SECRET_ACCESS_KEY": MAIN[1], "RCLONE_CONFIG_S3P_REGION": "us-east-1",
           "RCLONE_CONFIG": str(tmp_path / "none.conf")}

    def rclone(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["rclone", *args], env=env, capture_output=True, text=True, timeout=120)

    copied = rclone("copy", str(tmp_path / "src"), f"s3p:{bucket}/up")
    assert copied.returncode == 0, copied.stderr
    listed = rclone("lsf", "-R", "--s3-versions", f"s3p:{bucket}")
    assert listed.returncode == 0 and "up/a.bin" in listed.stdout, listed.stderr
    purged = rclone("purge", "--s3-versions", f"s3p:{bucket}")
    assert purged.returncode == 0 and "ERROR" not in purged.stderr, purged.stderr
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
