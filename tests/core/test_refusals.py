"""Every refused input raises PresignError (a ValueError) whose message names the fix."""

import datetime as dt

import pytest

from s3presign import SSE, Credentials, PresignError, Presigner

CREDS = Credentials("AKIDEXAMPLE", "secret")
V4 = Presigner(CREDS, "eu-west-1")
V2 = Presigner(CREDS, "eu-west-1", signature_version="v2")
KEY = bytes(range(32))


@pytest.mark.parametrize(
    "presigner, call, fix",
    [
        (V2, lambda p: p.presign("PUT", "bucket", "k", sse=SSE.kms()), "signature_version='v4'"),
        (V2, lambda p: p.presign("PUT", "bucket", "k", sse=SSE.dsse()), "signature_version='v4'"),
        (V2, lambda p: p.presign("GET", "bucket", "k", sse=SSE.kms()), "signature_version='v4'"),
        (V2, lambda p: p.presign("PUT", "bucket", "k", sse=SSE.customer(KEY)), "SSE.customer() without a key"),
        (V2, lambda p: p.presign_post("bucket", "k", sse=SSE.kms()), "signature_version='v4'"),
        (V4, lambda p: p.presign("GET", "bucket", "k", expires_in=0), "1 to 604800"),
        (V4, lambda p: p.presign("GET", "bucket", "k", expires_in=-1), "1 to 604800"),
        (V4, lambda p: p.presign("GET", "bucket", "k", expires_in=604801), "1 to 604800"),
        (V4, lambda p: p.presign("GET", "bucket", "k", expires_in=365 * 86400), "1 to 604800"),
        (V2, lambda p: p.presign("GET", "bucket", "k", expires_in=0), "at least 1 second"),
        (V4, lambda p: p.presign("GET", "bucket", "k", expires_in=1.5), "whole seconds"),
        (V4, lambda p: p.presign("DELETE", "bucket", "k", sse=SSE.s3()), "drop sse="),
        (V4, lambda p: p.presign("DELETE", "bucket", "k", sse=SSE.customer()), "drop sse="),
        (V4, lambda p: p.presign("GET", "Bucket", "k"), "naming rules"),
        (V4, lambda p: p.presign("GET", "ab", "k"), "3 to 63"),
        (V4, lambda p: p.presign("GET", "a..b", "k"), "adjacent dots"),
        (V4, lambda p: p.presign("GET", "192.168.1.1", "k"), "IP address"),
        (V4, lambda p: p.presign("GET", "bucket_x", "k"), "naming rules"),
        (V4, lambda p: p.presign("GET", "bucket", ""), "key is empty"),
        (V4, lambda p: p.presign("GET", "bucket", "k" * 1025), "1024 bytes"),
        (V4, lambda p: p.presign("PATCH", "bucket", "k"), "GET, PUT, HEAD, DELETE or POST"),
        (V4, lambda p: p.presign("PUT", "bucket", "k", headers={"x-amz-server-side-encryption": "AES256"}), "sse=SSE"),
        (V4, lambda p: p.presign("PUT", "bucket", "k", headers={"user-agent": "x"}), "cannot be signed"),
        (V4, lambda p: p.presign("GET", "bucket", "k", query={"X-Amz-Date": "x"}), "reserved"),
        (V4, lambda p: p.presign("PUT", "bucket", "k", query={"uploadId": "u", "partNumber": "0"}), "1 to 10000"),
        (V4, lambda p: p.presign("GET", "bucket", "k", response_overrides={"x": "y"}), "content-type"),
        (V4, lambda p: p.presign("GET", "bucket", "k", now=dt.datetime(2026, 1, 1)), "timezone-aware"),
        (V4, lambda p: p.presign_post("bucket", "k", content_length_range=(10, 1)), "MIN <= MAX"),
        (V4, lambda p: p.presign_post("bucket", "k", conditions=[["bogus"]]), "starts-with"),
        (V4, lambda p: p.presign_post("bucket", "", ), "key is empty"),
    ],
)
def test_refused_with_the_fix_named(presigner, call, fix):
    with pytest.raises(PresignError) as info:
        call(presigner)
    assert isinstance(info.value, ValueError)
    assert fix in str(info.value)


@pytest.mark.parametrize(
    "build, fix",
    [
        (lambda: SSE.customer(b"short"), "exactly 32 bytes"),
        (lambda: SSE.customer("a" * 32), "not text"),
        (lambda: SSE.kms(context={"a": 1}), "strings to strings"),
        (lambda: SSE.kms(key_id=""), "non-empty"),
        (lambda: SSE.parse("rot13"), "use none, s3"),
        (lambda: SSE.parse("c-key"), "--sse-c-key-file"),
        (lambda: Credentials("", "x"), "access key"),
        (lambda: Presigner(CREDS, "Not A Region"), "us-east-1"),
        (lambda: Presigner(CREDS, addressing_style="dns"), "auto, virtual, path"),
        (lambda: Presigner(CREDS, signature_version="v3"), "'v4' or 'v2'"),
        (lambda: Presigner(CREDS, endpoint_url="ftp://x"), "http://127.0.0.1:9000"),
    ],
)
def test_constructors_refuse(build, fix):
    with pytest.raises(PresignError, match=None) as info:
        build()
    assert fix in str(info.value)


def test_dotted_bucket_virtual_https_is_refused_with_a_clear_message():
    presigner = Presigner(CREDS, "eu-west-1", addressing_style="virtual")
    with pytest.raises(PresignError, match="TLS certificate.*addressing_style='path'"):
        presigner.presign("GET", "my.dotted.bucket", "k")
    # over plain http a dotted virtual host is fine
    plain = Presigner(CREDS, "eu-west-1", endpoint_url="http://s3.local:9000", addressing_style="virtual")
    assert plain.presign("GET", "my.dotted.bucket", "k").url.startswith("http://my.dotted.bucket.s3.local:9000/k?")


def test_valid_cells_of_the_table_are_accepted():
    for presigner in (V4, V2):
        for sse in (None, SSE.s3(), SSE.customer()):
            assert presigner.presign("PUT", "bucket", "k", sse=sse).url
    for sse in (SSE.kms("alias/a"), SSE.dsse(), SSE.customer(KEY)):
        assert V4.presign("PUT", "bucket", "k", sse=sse).url


def test_sse_c_key_never_in_url_and_key_at_use_names_the_headers():
    fixed = V4.presign("PUT", "bucket", "k", sse=SSE.customer(KEY))
    import base64
    import hashlib

    b64 = base64.b64encode(KEY).decode()
    assert b64 not in fixed.url and KEY.hex() not in fixed.url
    assert fixed.headers["x-amz-server-side-encryption-customer-key"] == b64
    assert fixed.headers["x-amz-server-side-encryption-customer-key-md5"] == base64.b64encode(hashlib.md5(KEY).digest()).decode()
    at_use = V2.presign("PUT", "bucket", "k", sse=SSE.customer())
    assert at_use.headers == {"x-amz-server-side-encryption-customer-algorithm": "AES256"}
    assert at_use.required_headers == (
        "x-amz-server-side-encryption-customer-key",
        "x-amz-server-side-encryption-customer-key-md5",
    )
    full = at_use.headers_with_key(KEY)
    assert full["x-amz-server-side-encryption-customer-key"] == b64
    assert "customer-key" not in at_use.url
    assert repr(SSE.customer(KEY)).count(b64) == 0


def test_sigv2_keeps_sse_headers_as_headers():
    request = V2.presign("PUT", "bucket", "k", sse=SSE.s3(), headers={"content-type": "text/plain"})
    assert "x-amz-server-side-encryption" not in request.url
    assert "content-type" not in request.url
    assert request.headers == {"content-type": "text/plain", "x-amz-server-side-encryption": "AES256"}


def test_kms_context_is_serialised_for_the_caller():
    import base64
    import json

    request = V4.presign("PUT", "bucket", "k", sse=SSE.kms(context={"project": "x", "team": "y"}))
    encoded = request.headers["x-amz-server-side-encryption-context"]
    assert json.loads(base64.b64decode(encoded)) == {"project": "x", "team": "y"}


def test_curl_and_dict_forms():
    request = V4.presign("PUT", "bucket", "k", sse=SSE.customer(), now=1767225600)
    curl = request.to_curl("file.bin")
    lines = curl.splitlines()
    assert lines[1].startswith("SSE_C_KEY_B64=$(base64 < key.bin") and "openssl dgst -md5" in lines[2]
    assert lines[-1].startswith("curl --fail-with-body -X PUT")
    assert "x-amz-server-side-encryption-customer-algorithm: AES256" in curl
    assert "$SSE_C_KEY_B64" in curl and "--upload-file file.bin" in curl
    data = request.to_dict()
    assert data["expires_at"] == "2026-01-01T01:00:00Z"
    assert data["required_headers"] == list(request.required_headers)
