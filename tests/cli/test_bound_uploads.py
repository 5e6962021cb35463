"""Bound uploads against the real server: a PUT URL that signs a size or a digest
accepts that body and S3's error for any other."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zlib

import httpx
import pytest

from tests.cli.conftest import new_bucket
from tests.server.helpers import MAIN, error_of

BODY = b"exactly this body\n"
OTHER = b"exactly that body\n"  # same length, other bytes


def put(request, body):
    return httpx.put(request.url, headers=request.headers, content=body, timeout=30)


def test_content_length_binds_the_size(http_endpoint):
    bucket = new_bucket(http_endpoint)
    request = http_endpoint.presigner().presign("PUT", bucket, "sized", content_length=len(BODY))
    assert request.headers == {"content-length": str(len(BODY))}
    assert put(request, BODY).status_code == 200
    # a longer or shorter body is sent with its own Content-Length: the signature no longer matches
    for body in (BODY + b"x", BODY[:-1], b""):
        response = httpx.put(request.url, content=body, timeout=30)
        assert response.status_code == 403 and error_of(response)["Code"] == "SignatureDoesNotMatch"


def test_content_md5_binds_the_content(http_endpoint):
    bucket = new_bucket(http_endpoint)
    md5 = base64.b64encode(hashlib.md5(BODY).digest()).decode()
    request = http_endpoint.presigner().presign("PUT", bucket, "md5", content_md5=md5)
    assert request.headers == {"content-md5": md5}
    response = put(request, OTHER)
    assert response.status_code == 400 and error_of(response)["Code"] == "BadDigest"
    assert put(request, BODY).status_code == 200
    got = http_endpoint.client().get_object(Bucket=bucket, Key="md5")["Body"].read()
    assert got == BODY


def _digest(alg, data):
    if alg == "crc32":
        return zlib.crc32(data).to_bytes(4, "big")
    if alg == "crc32c":
        import crc32c

        return crc32c.crc32c(data).to_bytes(4, "big")
    return hashlib.new(alg, data).digest()


@pytest.mark.parametrize("alg", ["sha256", "sha1", "crc32", "crc32c"])
@pytest.mark.parametrize("sig", ["v4", "v2"])
def test_checksum_binds_the_content(http_endpoint, alg, sig):
    bucket = new_bucket(http_endpoint)
    value = base64.b64encode(_digest(alg, BODY)).decode()
    request = http_endpoint.presigner(sig).presign("PUT", bucket, "sum", checksum=(alg, value))
    assert request.headers == {f"x-amz-checksum-{alg}": value}
    response = put(request, OTHER)
    assert response.status_code == 400 and error_of(response)["Code"] == "BadDigest"
    assert alg.upper() in error_of(response)["Message"]
    # dropping the signed checksum header breaks the signature
    response = httpx.put(request.url, content=OTHER, timeout=30)
    assert response.status_code == 403
    assert put(request, BODY).status_code == 200


def test_size_and_checksum_together(http_endpoint):
    bucket = new_bucket(http_endpoint)
    value = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    request = http_endpoint.presigner().presign("PUT", bucket, "both", content_length=len(BODY),
                                                checksum=("SHA256", value))
    assert sorted(request.headers) == ["content-length", "x-amz-checksum-sha256"]
    assert error_of(put(request, OTHER))["Code"] == "BadDigest"
    assert put(request, BODY).status_code == 200


def cli(endpoint, *args, env=None):
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update(AWS_ACCESS_KEY_ID=MAIN[0], AWS_SECRET_ACCESS_KEY=MAIN[1], AWS_REGION=endpoint.region,
                AWS_ENDPOINT_URL=endpoint.url, AWS_EC2_METADATA_DISABLED="true")
    base.update(env or {})
    base = {k: v for k, v in base.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "s3presign", *args], capture_output=True, text=True, env=base,
                          timeout=60)


@pytest.mark.parametrize("alg", [None, "crc32", "crc32c", "sha1"])
def test_for_file_binds_the_file(http_endpoint, tmp_path, alg):
    bucket = new_bucket(http_endpoint)
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(70_000))
    extra = ["--checksum", alg] if alg else []
    out = cli(http_endpoint, "url", "PUT", f"s3://{bucket}/file", "--for-file", str(path), *extra, "--output", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    name = f"x-amz-checksum-{alg or 'sha256'}"
    assert data["headers"]["content-length"] == "70000" and name in data["headers"]
    tampered = bytearray(path.read_bytes())
    tampered[1234] ^= 1
    response = httpx.put(data["url"], headers=data["headers"], content=bytes(tampered), timeout=30)
    assert response.status_code == 400 and error_of(response)["Code"] == "BadDigest"
    response = httpx.put(data["url"], headers=data["headers"], content=path.read_bytes(), timeout=30)
    assert response.status_code == 200
    # and through the curl command the CLI prints
    out = cli(http_endpoint, "url", "PUT", f"s3://{bucket}/curl", "--for-file", str(path), "--output", "curl")
    command = out.stdout.strip().replace("--upload-file FILE", f"--upload-file {path}")
    assert subprocess.run(["bash", "-c", command + " -s -o /dev/null"], timeout=60).returncode == 0
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "<Code>BadDigest</Code>" in done.stdout


def test_cli_bound_flags(http_endpoint):
    bucket = new_bucket(http_endpoint)
    md5 = base64.b64encode(hashlib.md5(BODY).digest()).decode()
    crc = base64.b64encode(zlib.crc32(BODY).to_bytes(4, "big")).decode()
    out = cli(http_endpoint, "url", "PUT", f"s3://{bucket}/k", "--content-length", str(len(BODY)),
              "--content-md5", md5, "--checksum", f"crc32:{crc}", "--output", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["headers"] == {"content-length": str(len(BODY)), "content-md5": md5, "x-amz-checksum-crc32": crc}
    assert httpx.put(data["url"], headers=data["headers"], content=OTHER, timeout=30).status_code == 400
    assert httpx.put(data["url"], headers=data["headers"], content=BODY, timeout=30).status_code == 200
