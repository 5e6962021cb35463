"""The SigV2 and SigV4 presign paths reuse keyed HMAC states and cached header
blocks per presigner; every reuse must still give botocore's bytes.

The reference is botocore at a fixed clock (see test_botocore_equivalence.py for
the one deliberate SigV2 difference: botocore moves signed headers into the query).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl, urlsplit

import pytest

from s3presign import SSE, Credentials, Presigner
from s3presign.core import sigv2, sigv4

from .test_botocore_equivalence import FIXED, boto_client, boto_presign, frozen_botocore

SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def _v2_expected(url: str) -> tuple[str, dict[str, str]]:
    """botocore's SigV2 URL minus the headers it moved into the query, and those headers."""
    parts = urlsplit(url)
    moved = lambda name: (name.startswith("x-amz-") and name != "x-amz-security-token") or name in ("content-type", "content-md5")  # noqa: E731
    kept = [p for p in parts.query.split("&") if not moved(p.split("=")[0])]
    headers = {k: v for k, v in parse_qsl(parts.query, keep_blank_values=True) if moved(k)}
    return parts._replace(query="&".join(kept)).geturl(), headers


@pytest.mark.parametrize("token", [None, "FQoGZXIvYXdzEXAMPLE+token/with=chars"])
@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:9000"])
def test_sigv2_reuse_gives_botocore_bytes(token, endpoint):
    """Several URLs from one presigner (keyed HMAC copied, SSE header block cached),
    interleaving plain, SSE-S3, SSE-C-at-use, extra headers and sub-resources."""
    style = "path" if endpoint else "virtual"
    presigner = Presigner(Credentials("AKIDEXAMPLE", SECRET, token), "us-east-1", endpoint_url=endpoint,
                          addressing_style=style, signature_version="v2")
    client = boto_client("us-east-1", endpoint, style, "v2", token)
    s3, customer = SSE.s3(), SSE.customer()
    cases = [
        ("GET", "get_object", {}, None, {}, None),
        ("PUT", "put_object", {"ServerSideEncryption": "AES256"}, s3, {}, None),
        ("PUT", "put_object", {"SSECustomerAlgorithm": "AES256"}, customer, {}, None),
        ("PUT", "put_object", {"ServerSideEncryption": "AES256", "ContentType": "text/plain",
                               "Metadata": {"note": " padded "}}, s3,
         {"content-type": "text/plain", "x-amz-meta-note": " padded "}, None),
        ("PUT", "upload_part", {"UploadId": "abc+def/=", "PartNumber": 3}, None, {},
         {"uploadId": "abc+def/=", "partNumber": "3"}),
        ("GET", "get_object", {"ResponseContentType": "text/csv"}, None, {}, None),
    ]
    for _round in range(2):  # the second round runs entirely on cached state
        for method, operation, extra, sse, headers, query in cases:
            for key in ("reports/2026/q1 summary.pdf", "ünïcödé/ключ", "a+b=c&d"):
                params = {"Bucket": "my-bucket", "Key": key, **extra}
                expected_url, expected_headers = _v2_expected(boto_presign(client, operation, params, 3600))
                overrides = {"content-type": "text/csv"} if "ResponseContentType" in extra else None
                got = presigner.presign(method, "my-bucket", key, sse=sse, headers=headers or None,
                                        query=query, response_overrides=overrides, now=FIXED)
                assert got.url == expected_url
                assert got.headers == expected_headers


def test_one_sse_value_shared_by_presigners_with_different_tokens():
    """The cached SigV2 header block includes the session token: it must belong to
    one presigner, never leak into another's string to sign."""
    sse = SSE.s3()
    for token in ("token-one", None, "token-two"):
        presigner = Presigner(Credentials("AKIDEXAMPLE", SECRET, token), signature_version="v2",
                              addressing_style="virtual")
        got = presigner.presign("PUT", "my-bucket", "k", sse=sse, now=FIXED)
        expected_url, _ = _v2_expected(boto_presign(
            boto_client("us-east-1", None, "virtual", "v2", token), "put_object",
            {"Bucket": "my-bucket", "Key": "k", "ServerSideEncryption": "AES256"}, 3600))
        assert got.url == expected_url


def test_sigv2_signers_equal_plain_hmac_sha1():
    text = "PUT\n\ntext/plain\n1772604367\nx-amz-server-side-encryption:AES256\n/my-bucket/k"
    reference = base64.b64encode(hmac.new(SECRET.encode(), text.encode(), hashlib.sha1).digest()).decode()
    sign = sigv2.signer(SECRET)
    assert sign(text) == sign(text) == sigv2.sign(SECRET, text) == reference
    quoted = sigv2.signer(SECRET, for_query=True)(text)
    assert quoted == reference.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    assert "+" not in quoted and "/" not in quoted and "=" not in quoted


def test_sigv4_signer_equals_sign():
    key = sigv4.signing_key(SECRET, "20260304", "us-east-1")
    sign = sigv4.signer(key)
    for text in ("a", "AWS4-HMAC-SHA256\n20260304T050607Z\nscope\n" + "0" * 64, ""):
        assert sign(text) == sigv4.sign(key, text) == hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def test_sigv4_urls_across_days_use_each_days_key():
    """The per-day signer cache: URLs on two days, then the first day again."""
    import datetime as dt

    from unittest import mock

    import botocore.auth
    import botocore.signers

    presigner = Presigner(Credentials("AKIDEXAMPLE", SECRET), "eu-west-3", addressing_style="virtual")
    client = boto_client("eu-west-3", None, "virtual", "v4", None)
    for day in (FIXED, FIXED + dt.timedelta(days=1), FIXED):
        naive = day.replace(tzinfo=None)
        patches = frozen_botocore() + [
            mock.patch.object(botocore.auth, "get_current_datetime", return_value=naive),
            mock.patch.object(botocore.signers, "get_current_datetime", return_value=naive),
        ]
        for p in patches:
            p.start()
        try:
            expected = client.generate_presigned_url("get_object", Params={"Bucket": "my-bucket", "Key": "k"})
        finally:
            for p in reversed(patches):
                p.stop()
        assert presigner.presign("GET", "my-bucket", "k", now=day).url == expected
