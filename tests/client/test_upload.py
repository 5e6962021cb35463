"""`s3presign upload` (multipart through pre-signed requests) and `download`,
as subprocesses against the real server over HTTPS."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

SIZE = 11 * 1024 * 1024 + 3  # three parts of 5 MiB
MODES = {  # --sse value -> what the server reports and stores
    "none": "AES256",
    "s3": "AES256",
    "kms": "aws:kms",
    "dsse": "aws:kms:dsse",
    "c": "SSE-C (AES256)",
    "c-key": "SSE-C (AES256)",
}


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    path = tmp_path_factory.mktemp("payload") / "payload.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


@pytest.mark.parametrize("mode", list(MODES))
def test_upload_then_download_in_each_sse_mode(cli, bucket, key_file, payload, mode):
    key_args = ["--sse-c-key-file", key_file] if mode.startswith("c") else []
    out = cli.run("upload", f"s3://{bucket}/dir/{mode}.bin", payload, "--sse", mode, *key_args,
                  "--part-size", "5MiB", "--concurrency", "3")
    assert out.returncode == 0, out.stderr
    assert f"{SIZE} bytes in 3 part(s)".encode() in out.stdout and f"SSE {MODES[mode]}".encode() in out.stdout
    if mode in ("none", "s3"):
        assert b"parts' MD5s verified against the ETags" in out.stdout
    s3 = cli.endpoint.client()
    extra = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key_file.read_bytes()} if key_args else {}
    head = s3.head_object(Bucket=bucket, Key=f"dir/{mode}.bin", **extra)
    assert head["ContentLength"] == SIZE and head["ETag"].endswith('-3"')
    assert head.get("ServerSideEncryption", "SSE-C") == MODES[mode].split(" ")[0]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    out = cli.run("download", f"s3://{bucket}/dir/{mode}.bin", *(["--sse", "c"] if key_args else []), *key_args)
    assert out.returncode == 0, out.stderr
    assert (cli.cwd / f"{mode}.bin").read_bytes() == payload.read_bytes()


def test_upload_and_download_with_sigv2(cli, bucket, payload):
    out = cli.run("upload", f"s3://{bucket}/v2.bin", payload, "--signature-version", "v2", "--part-size", "5MiB")
    assert out.returncode == 0, out.stderr
    out = cli.run("download", f"s3://{bucket}/v2.bin", "-o", "back.bin", "--signature-version", "v2")
    assert out.returncode == 0, out.stderr
    assert (cli.cwd / "back.bin").read_bytes() == payload.read_bytes()


def test_sigv2_with_kms_is_refused_before_anything_is_created(cli, bucket, payload):
    out = cli.run("upload", f"s3://{bucket}/k", payload, "--signature-version", "v2", "--sse", "kms")
    assert out.returncode == 2
    assert out.stderr.decode().startswith("s3presign: error: SSE-KMS requires Signature Version 4")
    assert cli.endpoint.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def _uploads(s3, bucket, key):
    """The bucket's multipart uploads of ``key`` (ListMultipartUploads)."""
    try:
        uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NotImplemented":
            pytest.skip("the endpoint does not implement ListMultipartUploads yet")
        raise
    return [u for u in uploads if u["Key"] == key]


def _start_big_upload(cli, bucket, tmp_path):
    """An upload of a sparse 1 GiB file, returned once parts are on the server (mid-transfer)."""
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:  # sparse: 1 GiB of zeros costs no disk here
        f.truncate(1024 ** 3)
    s3 = cli.endpoint.client()
    proc = cli.popen("upload", f"s3://{bucket}/big.bin", big, "--part-size", "5MiB", "--concurrency", "2",
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    parts = []
    while proc.poll() is None and not parts:
        uploads = _uploads(s3, bucket, "big.bin")
        if uploads:
            parts = s3.list_parts(Bucket=bucket, Key="big.bin", UploadId=uploads[0]["UploadId"]).get("Parts", [])
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail(f"the upload ended before it could be interrupted: {proc.communicate()}")
    return proc, big


def _nothing_left(cli, bucket):
    s3 = cli.endpoint.client()
    assert _uploads(s3, bucket, "big.bin") == []
    with pytest.raises(ClientError) as info:
        s3.head_object(Bucket=bucket, Key="big.bin")
    assert info.value.response["Error"]["Code"] == "404"


def test_ctrl_c_mid_upload_leaves_no_object_and_no_upload(cli, bucket, tmp_path):
    proc, _ = _start_big_upload(cli, bucket, tmp_path)
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert b"aborted, nothing left behind" in err and b"Traceback" not in err
    _nothing_left(cli, bucket)


def test_a_failure_mid_upload_aborts_it(cli, bucket, tmp_path):
    proc, big = _start_big_upload(cli, bucket, tmp_path)
    try:
        os.truncate(big, 6 * 1024 * 1024)  # the file shrinks under the upload: its parts cannot be sent
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    text = err.decode()
    assert text.startswith("s3presign: error:") and "big.bin became shorter" in text and "Traceback" not in text
    assert "  hint: the multipart upload" in text and "was aborted, nothing left behind" in text
    _nothing_left(cli, bucket)
