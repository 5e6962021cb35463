"""The AWS CLI v2 (Debian's awscli package), an independent client, against the real
server over HTTPS: `aws s3 cp --sse-c` up and down with a file large enough for a
multipart upload. The CLI sends the SSE-C key on CreateMultipartUpload and
UploadPart but not on CompleteMultipartUpload, as S3 allows."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import botocore.exceptions
import pytest

from .helpers import MAIN


def _aws_v2() -> str | None:
    """The AWS CLI v2 executable (a pip-installed v1 may come first on PATH)."""
    for candidate in ("/usr/bin/aws", shutil.which("aws")):
        if candidate and os.path.exists(candidate):
            out = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=60)
            if out.stdout.startswith("aws-cli/2."):
                return candidate
    return None


AWS = _aws_v2()


@pytest.mark.skipif(AWS is None, reason="AWS CLI v2 not installed (apt-get install awscli)")
def test_aws_cli_v2_sse_c_multipart_up_and_down(tls_endpoint, tmp_path):
    s3 = tls_endpoint.client()
    bucket = f"cli-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    key = os.urandom(32)
    (tmp_path / "key").write_bytes(key)
    data = os.urandom(12 * 1024 * 1024 + 5)  # 3 parts of 5 MiB
    (tmp_path / "big.bin").write_bytes(data)
    (tmp_path / "config").write_text(
        "[default]\nregion = us-east-1\n"
        f"ca_bundle = {tls_endpoint.ca}\n"
        "s3 =\n  multipart_threshold = 5MB\n  multipart_chunksize = 5MB\n")
    (tmp_path / "credentials").write_text(
        f"[default]\naws_access_key_id = {MAIN[0]}\naws_secret_access_key = {MAIN[1]}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    env.update({"AWS_CONFIG_FILE": str(tmp_path / "config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
                "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tmp_path)})
    sse = ["--sse-c", "AES256", "--sse-c-key", f"fileb://{tmp_path / 'key'}"]

    def aws(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([AWS, "--endpoint-url", tls_endpoint.url, "--no-cli-pager", *args],
                              env=env, capture_output=True, text=True, timeout=300)

    up = aws("s3", "cp", str(tmp_path / "big.bin"), f"s3://{bucket}/dir/big.bin", *sse)
    assert up.returncode == 0, up.stderr
    head = s3.head_object(Bucket=bucket, Key="dir/big.bin", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')  # it went in parts
    down = aws("s3", "cp", f"s3://{bucket}/dir/big.bin", str(tmp_path / "back.bin"), *sse)
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "back.bin").read_bytes() == data
    refused = aws("s3", "cp", f"s3://{bucket}/dir/big.bin", str(tmp_path / "nokey.bin"))
    assert refused.returncode != 0 and not (tmp_path / "nokey.bin").exists()
    with pytest.raises(botocore.exceptions.ClientError):
        s3.get_object(Bucket=bucket, Key="dir/big.bin")
