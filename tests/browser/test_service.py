"""The console's server side without a browser: the unsigned forms equal the
library's signed ones once signed, the policy file's refusals, the signing
service over plain HTTP (bearer header, preflight), and the serve flags."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
import sys

import httpx
import pytest

from s3presign import SSE, SSE_TABLE, Credentials, PresignError, Presigner
from s3presign.console import signing
from s3presign.console.service import parse_policy
from s3presign.core.canonical import encode_value

from .conftest import UPPY_TOKEN

ENDPOINT = "https://127.0.0.1:9000"


@pytest.mark.parametrize("mode", [m for m in SSE_TABLE if m != "c-key"])
@pytest.mark.parametrize("version", ["v4", "v2"])
@pytest.mark.parametrize("method", ["PUT", "GET"])
def test_page_signature_equals_the_library_signature(mode, version, method):
    shaper = signing.Shaper(ENDPOINT, "eu-west-1")
    spec = {"method": method, "bucket": "bkt", "key": "dir/a b+ü.txt", "sse": {"mode": mode},
            "signature_version": version, "expires_in": 600,
            "headers": {"content-type": "text/plain"} if method == "PUT" else None}
    real = Presigner(Credentials("AKID", "the/secret"), "eu-west-1", ENDPOINT, "path", version)
    try:
        expected = real.presign(method, "bkt", "dir/a b+ü.txt", sse=signing.sse_of({"mode": mode}), expires_in=600,
                                headers=spec["headers"])
    except PresignError as exc:
        with pytest.raises(PresignError) as refused:
            shaper.request("AKID", spec)
        assert str(refused.value) == str(exc)
        return
    shaped = shaper.request("AKID", spec)
    if version == "v4":
        url = signing.sign_v4("the/secret", shaped)
    else:
        sig = base64.b64encode(hmac.digest(b"the/secret", shaped["string_to_sign"].encode(), "sha1")).decode()
        url = shaped["url"].replace("Signature=" + shaped["signature_placeholder"], "Signature=" + encode_value(sig))
    assert url == expected.url  # (same second: both sign "now")


def test_c_key_placeholders_swap_to_the_real_key():
    key = bytes(range(32))
    shaped = signing.Shaper(ENDPOINT, "us-east-1").request("AKID", {
        "method": "PUT", "bucket": "bkt", "key": "k", "sse": {"mode": "c-key"}})
    placeholders = shaped["key_placeholders"]
    real_b64, real_md5 = base64.b64encode(key).decode(), base64.b64encode(hashlib.md5(key).digest()).decode()
    assert real_b64 not in str(shaped)
    swapped = dict(shaped, canonical_request=shaped["canonical_request"].replace(placeholders["key"], real_b64)
                   .replace(placeholders["md5"], real_md5))
    expected = Presigner(Credentials("AKID", "s"), endpoint_url=ENDPOINT, addressing_style="path").presign(
        "PUT", "bkt", "k", sse=SSE.customer(key))
    assert signing.sign_v4("s", swapped) == expected.url


@pytest.mark.parametrize("entry, message", [
    ({"bucket": "b"}, "exactly one of token_sha256"),
    ({"bucket": "b", "token": "short"}, "at least 16"),
    ({"bucket": "b", "token": "x" * 20, "sse": ["c"]}, "SSE-C would send the key"),
    ({"bucket": "b", "token": "x" * 20, "methods": ["PATCH"]}, "unknown"),
    ({"bucket": "b", "token": "x" * 20, "max_expires": 10 ** 7}, "604800"),
    ({"bucket": "b", "token": "x" * 20, "min_size": 5, "max_size": 1}, "above max_size"),
    ({"token": "x" * 20}, "bucket is required"),
])
def test_policy_file_refusals_name_the_fix(entry, message):
    with pytest.raises(PresignError, match=message):
        parse_policy({"clients": [entry]})
    with pytest.raises(PresignError, match="clients"):
        parse_policy([])


def test_service_over_http_with_bearer_header_and_preflight(console):
    base = console.url + "s3"
    origin = console.app_site.origin
    ok = httpx.get(f"{base}/params", params={"filename": "a/b.txt", "type": "text/plain"},
                   headers={"Authorization": f"Bearer {UPPY_TOKEN}", "Origin": origin})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["method"] == "POST" and body["fields"]["key"].startswith("incoming/")
    assert body["fields"]["key"].endswith("-a_b.txt")  # no path from the file name
    assert body["fields"]["x-amz-server-side-encryption"] == "aws:kms"
    assert ok.headers["access-control-allow-origin"] == origin
    assert httpx.get(f"{base}/params").status_code == 401
    assert httpx.get(f"{base}/params", headers={"Authorization": "Bearer wrong-token-0000000"}).status_code == 401
    foreign = httpx.get(f"{base}/params", headers={"Authorization": f"Bearer {UPPY_TOKEN}",
                                                   "Origin": console.other_site.origin})
    assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers
    pre = httpx.options(f"{base}/multipart", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == origin
    refused = httpx.options(f"{base}/multipart", headers={"Origin": console.other_site.origin,
                                                          "Access-Control-Request-Method": "POST"})
    assert refused.status_code == 403
    # Multipart create, list, abort through the service, as Companion's routes do.
    auth = {"Authorization": f"Bearer {UPPY_TOKEN}"}
    created = httpx.post(f"{base}/multipart", json={"filename": "m.bin", "type": "application/octet-stream"},
                         headers=auth).json()
    assert created["uploadId"] and created["key"].startswith("incoming/")
    upload = f"{base}/multipart/{created['uploadId']}"
    assert httpx.get(upload, params={"key": created["key"]}, headers=auth).json() == []
    signed = httpx.get(f"{upload}/batch", params={"key": created["key"], "partNumbers": "1,2"}, headers=auth).json()
    assert sorted(signed["presignedUrls"]) == ["1", "2"]
    assert httpx.get(f"{upload}/0", params={"key": created["key"]}, headers=auth).status_code == 400
    assert httpx.delete(upload, params={"key": created["key"]}, headers=auth).status_code == 200
    gone = httpx.get(upload, params={"key": created["key"]}, headers=auth)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "NoSuchUpload"


def test_serve_flags(tmp_path):
    base = [sys.executable, "-m", "s3presign", "serve", "--port", "0", "--data-dir", str(tmp_path / "d")]
    env_creds = {"AWS_ACCESS_KEY_ID": "AKIDFLAGS0000000", "AWS_SECRET_ACCESS_KEY": "flags-secret"}
    env = {**os.environ, **env_creds}
    policy = tmp_path / "p.json"
    policy.write_text('{"clients": []}')
    alone = subprocess.run([*base, "--console-policy", str(policy)], capture_output=True, text=True, env=env,
                           timeout=30)
    assert alone.returncode != 0 and "--console-address" in alone.stderr
    bad = subprocess.run([*base, "--console-address", "nonsense"], capture_output=True, text=True, env=env,
                         timeout=30)
    assert bad.returncode != 0 and "HOST:PORT" in bad.stderr
    policy.write_text('{"clients": [{"bucket": "b"}]}')
    broken = subprocess.run([*base, "--console-address", "127.0.0.1:0", "--console-policy", str(policy)],
                            capture_output=True, text=True, env=env, timeout=30)
    assert broken.returncode != 0 and "token_sha256" in broken.stderr


def test_bucket_requests_carry_the_session_token():
    shaped = signing.Shaper(ENDPOINT, "us-east-1").request("AKID", {
        "method": "GET", "bucket": "bkt", "key": "", "query": {"list-type": "2"}, "session_token": "tok/en"})
    assert "X-Amz-Security-Token=tok%2Fen" in shaped["url"]
    assert "X-Amz-Security-Token=tok%2Fen" in shaped["canonical_request"]
    with pytest.raises(PresignError, match="access_key"):
        signing.Shaper(ENDPOINT, "us-east-1").request("", {"method": "GET", "bucket": "", "key": ""})
