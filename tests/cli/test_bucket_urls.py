"""Bucket-level URLs (ListObjectsV2, HeadBucket, GetBucketLocation), `--recursive`,
and curl output that runs as printed, against the real server."""

from __future__ import annotations

import json
import os
import ssl
import subprocess

import httpx
from defusedxml import ElementTree

from tests.cli.conftest import new_bucket
from tests.cli.test_bound_uploads import cli

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def test_list_objects_v2_url(http_endpoint):
    bucket = new_bucket(http_endpoint)
    s3 = http_endpoint.client()
    for key in ("logs/a.txt", "logs/b c.txt", "logs/sub/d.txt", "other.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    presigner = http_endpoint.presigner()
    listing = presigner.presign_list_objects(bucket, prefix="logs/", delimiter="/", max_keys=10)
    response = httpx.get(listing.url, timeout=30)
    assert response.status_code == 200, response.text
    root = ElementTree.fromstring(response.content)
    assert [e.text for e in root.iter(NS + "Key")] == ["logs/a.txt", "logs/b c.txt"]
    assert [e.text for e in root.iter(NS + "Prefix") if e.text == "logs/sub/"] == ["logs/sub/"]
    one = httpx.get(presigner.presign_list_objects(bucket, max_keys=1, encoding_type="url").url, timeout=30)
    root = ElementTree.fromstring(one.content)
    assert root.findtext(NS + "IsTruncated") == "true" and len(list(root.iter(NS + "Contents"))) == 1
    # v2 signatures too
    v2 = http_endpoint.presigner("v2").presign_list_objects(bucket, prefix="other")
    assert b"<Key>other.txt</Key>" in httpx.get(v2.url, timeout=30).content


def test_head_bucket_and_location(http_endpoint):
    bucket = new_bucket(http_endpoint)
    for sig in ("v4", "v2"):
        presigner = http_endpoint.presigner(sig)
        assert httpx.head(presigner.presign_head_bucket(bucket).url, timeout=30).status_code == 200
        missing = httpx.head(presigner.presign_head_bucket("no-such-bucket-here").url, timeout=30)
        assert missing.status_code == 404
        location = httpx.get(presigner.presign_bucket_location(bucket).url, timeout=30)
        assert location.status_code == 200 and b"LocationConstraint" in location.content


def test_cli_bucket_level(http_endpoint):
    bucket = new_bucket(http_endpoint)
    http_endpoint.client().put_object(Bucket=bucket, Key="p/one", Body=b"1")
    out = cli(http_endpoint, "url", "GET", f"s3://{bucket}", "--prefix", "p/", "--max-keys", "5")
    assert out.returncode == 0, out.stderr
    assert b"<Key>p/one</Key>" in httpx.get(out.stdout.strip(), timeout=30).content
    out = cli(http_endpoint, "url", "HEAD", f"s3://{bucket}/")
    assert httpx.head(out.stdout.strip(), timeout=30).status_code == 200
    out = cli(http_endpoint, "url", "GET", f"s3://{bucket}", "--location")
    assert b"LocationConstraint" in httpx.get(out.stdout.strip(), timeout=30).content


def test_recursive_streams_one_url_per_object(http_endpoint):
    bucket = new_bucket(http_endpoint)
    s3 = http_endpoint.client()
    keys = [f"share/{i:04d} file+{i}.txt" for i in range(2100)] + ["share/deep/é x", "elsewhere"]
    # the server's ListObjectsV2 pages at 1000: three pages here
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=k.encode()), keys))
    out = cli(http_endpoint, "url", "GET", f"s3://{bucket}/share/", "--recursive", "--expires-in", "15m")
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert sorted(item["key"] for item in lines) == sorted(k for k in keys if k.startswith("share/"))
    assert all(item["method"] == "GET" and "X-Amz-Expires=900" in item["url"] for item in lines)
    for item in lines[:3] + [i for i in lines if i["key"] == "share/deep/é x"]:
        response = httpx.get(item["url"], headers=item["headers"], timeout=30)
        assert response.status_code == 200 and response.content == item["key"].encode()
    refused = cli(http_endpoint, "url", "PUT", f"s3://{bucket}/share/", "--recursive")
    assert refused.returncode == 2 and "GET, HEAD or DELETE" in refused.stderr


def test_curl_with_custom_ca_and_ssec_key_file(https_endpoint, tmp_path):
    """The printed curl lines run as they are: --cacert from AWS_CA_BUNDLE, and the
    SSE-C key's base64 and MD5 computed from key.bin."""
    bucket = new_bucket(https_endpoint)
    (tmp_path / "key.bin").write_bytes(os.urandom(32))
    (tmp_path / "FILE").write_bytes(b"secret payload")
    env = {"AWS_CA_BUNDLE": https_endpoint.ca}
    out = cli(https_endpoint, "url", "PUT", f"s3://{bucket}/k", "--sse", "c", "--output", "curl", env=env)
    assert out.returncode == 0, out.stderr
    assert f"--cacert {https_endpoint.ca}" in out.stdout and "key.bin" in out.stdout
    assert "SSE-C writes are blocked" not in out.stderr  # a custom endpoint, not AWS
    put = subprocess.run(["bash", "-c", out.stdout], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert put.returncode == 0, put.stdout + put.stderr
    out = cli(https_endpoint, "url", "GET", f"s3://{bucket}/k", "--sse", "c", "--output", "curl", env=env)
    (tmp_path / "FILE").unlink()
    get = subprocess.run(["bash", "-c", out.stdout], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert get.returncode == 0, get.stdout + get.stderr
    assert (tmp_path / "FILE").read_bytes() == b"secret payload"
    # the object really is SSE-C: a plain GET is refused
    plain = httpx.get(https_endpoint.presigner().presign("GET", bucket, "k").url, verify=ssl.create_default_context(cafile=https_endpoint.ca), timeout=30)
    assert plain.status_code == 400


def test_url_warnings(http_endpoint):
    out = cli(http_endpoint, "url", "PUT", "s3://my-bucket/k", "--sse", "c")
    assert out.returncode == 0 and "SSE-C over plain HTTP" in out.stderr
    env = {"AWS_ENDPOINT_URL": None}
    out = cli(http_endpoint, "url", "PUT", "s3://my-bucket/k", "--sse", "c", env=env)
    assert "SSE-C writes are blocked by default" in out.stderr and "BlockedEncryptionTypes NONE" in out.stderr
    out = cli(http_endpoint, "url", "GET", "s3://my-bucket/k", "--sse", "c", env=env)
    assert "blocked" not in out.stderr
