"""rclone (an independent client) fills a versioned bucket and purges it: every
version and delete marker goes (rclone lists versions), no ERROR, the bucket is gone."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import uuid

import botocore.exceptions
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


def _rclone_env(endpoint, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"RCLONE_CONFIG_S3P_TYPE": "s3", "RCLONE_CONFIG_S3P_PROVIDER": "Other",
                "RCLONE_CONFIG_S3P_ENDPOINT": endpoint.url, "RCLONE_CONFIG_S3P_ACCESS_KEY_ID": MAIN[0],
                "RCLONE_CONFIG_S3P_SECRET_ACCESS_KEY": MAIN[1], "RCLONE_CONFIG_S3P_REGION": "us-east-1",
                "RCLONE_CONFIG": str(tmp_path / "none.conf")})
    return env


@pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone not installed (apt-get install rclone)")
def test_rclone_sse_c_multipart_upload_and_download(tls_endpoint, tmp_path):
    """rclone sends the SSE-C headers on CreateMultipartUpload and every UploadPart but
    not on CompleteMultipartUpload, as S3 allows; the object then reads back only with
    the key."""
    s3 = tls_endpoint.client()
    bucket = f"rc-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    key = os.urandom(32)
    data = os.urandom(13 * 1024 * 1024 + 7)  # above the cutoff: 3 parts of 5 MiB
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "big.bin").write_bytes(data)
    env = _rclone_env(tls_endpoint, tmp_path)
    sse = ["--ca-cert", tls_endpoint.ca, "--s3-sse-customer-algorithm", "AES256",
           "--s3-sse-customer-key-base64", base64.b64encode(key).decode(),
           "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", "--s3-no-check-bucket"]

    def rclone(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["rclone", *args, *sse], env=env, capture_output=True, text=True, timeout=300)

    up = rclone("copy", "-vv", str(tmp_path / "src"), f"s3p:{bucket}")
    assert up.returncode == 0 and "ERROR" not in up.stderr, up.stderr
    assert "multipart upload" in up.stderr.lower(), up.stderr  # it really went in parts
    head = s3.head_object(Bucket=bucket, Key="big.bin", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')
    down = rclone("copy", f"s3p:{bucket}/big.bin", str(tmp_path / "back"))
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "back" / "big.bin").read_bytes() == data
    without = subprocess.run(["rclone", "cat", "--ca-cert", tls_endpoint.ca, f"s3p:{bucket}/big.bin"], env=env,
                             capture_output=True, timeout=120)
    assert not without.stdout  # no key, no bytes
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.get_object(Bucket=bucket, Key="big.bin")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
