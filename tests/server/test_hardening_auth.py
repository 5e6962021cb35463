"""Hostile requests against the real server: each is answered as S3 answers it.

False accepts first (a signature replayed onto an operation it never
authorized), then client bytes that once raised (500s), then S3's refusals
for dates and numbers, then secret redaction in error bodies.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from .helpers import MAIN, Endpoint, error_of, send_raw
from .test_payload import CHUNKS, streaming_put

V4_ONLY = ("encryption", "ownershipControls", "publicAccessBlock", "retention", "legal-hold", "attributes")


def _target(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + "?" + parts.query


def _v2_bucket_url(endpoint: Endpoint, operation: str, bucket: str) -> str:
    """A SigV2 pre-signed bucket operation, signed by botocore."""
    return endpoint.client("s3").generate_presigned_url(operation, Params={"Bucket": bucket}, ExpiresIn=300)


def _put_encryption(endpoint: Endpoint, bucket: str) -> None:
    endpoint.client().put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
    )


# --- SigV2 cannot be replayed onto operations it does not sign ------------------------


@pytest.mark.parametrize("sub", V4_ONLY)
def test_v2_query_with_a_sigv4_only_subresource_appended_is_refused(endpoint, bucket, sub):
    _put_encryption(endpoint, bucket)
    url = _v2_bucket_url(endpoint, "delete_bucket", bucket)
    got = send_raw(endpoint, "DELETE", _target(url) + f"&{sub}")
    err = error_of(got)
    assert (err["status"], err["Code"]) == (400, "InvalidRequest")
    assert "AWS4-HMAC-SHA256" in err["Message"]
    rules = endpoint.client().get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_v2_list_url_cannot_read_the_encryption_configuration(endpoint, bucket):
    _put_encryption(endpoint, bucket)
    url = _v2_bucket_url(endpoint, "list_objects", bucket)
    assert send_raw(endpoint, "GET", _target(url)).status_code == 200
    err = error_of(send_raw(endpoint, "GET", _target(url) + "&encryption="))
    assert (err["status"], err["Code"]) == (400, "InvalidRequest")


def test_v2_header_auth_refuses_sigv4_only_operations_even_signed(endpoint, bucket):
    err = error_of(endpoint.signed("GET", f"/{bucket}", query="encryption", sig="v2"))
    assert (err["status"], err["Code"]) == (400, "InvalidRequest")
    assert endpoint.signed("GET", f"/{bucket}/", query="location", sig="v2").status_code == 200


def test_v2_appending_a_signed_subresource_breaks_the_signature(endpoint, bucket):
    url = _v2_bucket_url(endpoint, "list_objects", bucket)
    for sub in ("acl", "versioning", "tagging", "cors", "uploads", "lifecycle", "policy"):
        err = error_of(send_raw(endpoint, "GET", _target(url) + f"&{sub}"))
        assert (err["status"], err["Code"]) == (403, "SignatureDoesNotMatch"), sub


# --- SigV4 must sign host --------------------------------------------------------------


def test_v4_header_without_host_signed_is_refused(endpoint, bucket, monkeypatch):
    import botocore.auth

    endpoint.client().put_object(Bucket=bucket, Key="h.txt", Body=b"x")
    real = botocore.auth.SigV4Auth.headers_to_sign

    def without_host(self, request):
        headers = real(self, request)
        del headers["host"]
        return headers

    monkeypatch.setattr(botocore.auth.SigV4Auth, "headers_to_sign", without_host)
    got = endpoint.signed("GET", f"/{bucket}/h.txt")
    err = error_of(got)
    assert (err["status"], err["Code"], err["HeadersNotSigned"]) == (403, "AccessDenied", "host")


def test_v4_presigned_with_empty_signed_headers_is_refused(endpoint, bucket):
    endpoint.client().put_object(Bucket=bucket, Key="e.txt", Body=b"x")
    url = endpoint.presigner().presign("GET", bucket, "e.txt").url
    parts = urlsplit(url)
    pairs = [(k, "" if k == "X-Amz-SignedHeaders" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    err = error_of(send_raw(endpoint, "GET", parts.path + "?" + urlencode(pairs)))
    assert (err["status"], err["Code"]) == (403, "AccessDenied")


def test_v4_host_signed_binds_the_bucket_under_domain(endpoint, bucket):
    """A virtual-hosted signature names its bucket through the signed Host."""
    endpoint.client().put_object(Bucket=bucket, Key="v.txt", Body=b"x")
    host = f"{bucket}.{endpoint.domain}:{endpoint.port}"
    assert endpoint.signed("GET", "/v.txt", host=host).status_code == 200
    other = endpoint.signed("GET", "/v.txt", host=host, tamper=lambda h: h.__setitem__("Host", f"other-{bucket}.{endpoint.domain}:{endpoint.port}"))
    assert error_of(other)["Code"] == "SignatureDoesNotMatch"


# --- duplicate auth parameters ----------------------------------------------------------


@pytest.mark.parametrize("name", ["X-Amz-Signature", "X-Amz-Credential", "X-Amz-SignedHeaders", "X-Amz-Expires", "X-Amz-Date"])
def test_v4_duplicate_auth_parameter_is_refused(endpoint, bucket, name):
    endpoint.client().put_object(Bucket=bucket, Key="d.txt", Body=b"x")
    url = endpoint.presigner().presign("GET", bucket, "d.txt").url
    value = dict(parse_qsl(urlsplit(url).query))[name]
    err = error_of(send_raw(endpoint, "GET", _target(url) + "&" + urlencode({name: value})))
    assert (err["status"], err["Code"]) == (400, "AuthorizationQueryParametersError")


@pytest.mark.parametrize("name", ["Signature", "AWSAccessKeyId", "Expires"])
def test_v2_duplicate_auth_parameter_is_refused(endpoint, bucket, name):
    url = _v2_bucket_url(endpoint, "list_objects", bucket)
    value = dict(parse_qsl(urlsplit(url).query))[name]
    err = error_of(send_raw(endpoint, "GET", _target(url) + "&" + urlencode({name: value})))
    assert (err["status"], err["Code"]) == (400, "AuthorizationQueryParametersError")


def test_v4_header_with_a_component_twice_is_refused(endpoint, bucket):
    def twice(h):
        h["Authorization"] += ", Signature=" + "0" * 64

    err = error_of(endpoint.signed("GET", f"/{bucket}", tamper=twice))
    assert (err["status"], err["Code"]) == (400, "AuthorizationHeaderMalformed")


# --- non-ASCII signature bytes: a mismatch, never a 500 ---------------------------------


@pytest.mark.parametrize("bad", ["%C3%A9" * 32, "%FF%FE", "%C2%B2"])
def test_non_ascii_query_signatures(endpoint, bucket, bad):
    endpoint.client().put_object(Bucket=bucket, Key="n.txt", Body=b"x")
    for sig, name in (("v4", "X-Amz-Signature"), ("v2", "Signature")):
        url = endpoint.presigner(sig).presign("GET", bucket, "n.txt").url
        parts = urlsplit(url)
        query = "&".join(p for p in parts.query.split("&") if not p.startswith(name + "=")) + f"&{name}={bad}"
        err = error_of(send_raw(endpoint, "GET", parts.path + "?" + query))
        assert (err["status"], err["Code"]) == (403, "SignatureDoesNotMatch")


def test_non_ascii_header_signature(endpoint, bucket):
    def latin(h):
        h["Authorization"] = h["Authorization"].rsplit("=", 1)[0].encode() + "=\xe9\xe9".encode("latin-1")

    err = error_of(endpoint.signed("GET", f"/{bucket}", tamper=latin))
    assert (err["status"], err["Code"]) == (403, "SignatureDoesNotMatch")


@pytest.mark.parametrize("trailer", [False, True])
def test_non_ascii_chunk_and_trailer_signatures(endpoint, bucket, trailer):
    def chunk(body: bytes) -> bytes:
        head, sep, rest = body.partition(b"chunk-signature=")
        return head + sep + b"\xc3\xa9" * 32 + rest[64:]

    def trailer_sig(body: bytes) -> bytes:
        head, sep, _ = body.rpartition(b"x-amz-trailer-signature:")
        return head + sep + b"\xff\xfe" * 32 + b"\r\n\r\n"

    err = error_of(streaming_put(endpoint, f"/{bucket}/c.txt", CHUNKS, trailer=trailer,
                                 corrupt=trailer_sig if trailer else chunk))
    assert (err["status"], err["Code"]) == (403, "SignatureDoesNotMatch")


def test_non_ascii_post_form_signature(endpoint, bucket):
    form = endpoint.presigner().presign_post(bucket, "p.txt").fields if hasattr(endpoint.presigner(), "presign_post") else None
    if form is None:
        pytest.skip("presign_post not available")
    fields = dict(form)
    fields["x-amz-signature"] = "\xe9" * 64
    got = httpx.post(f"{endpoint.url}/{bucket}", data=fields, files={"file": ("p.txt", b"data")})
    err = error_of(got)
    assert err["status"] == 403 and err["Code"] in ("SignatureDoesNotMatch", "AccessDenied")


# --- numbers: ASCII digits only, bounded --------------------------------------------------


@pytest.mark.parametrize("value", ["%C2%B2", "1" * 5000, "%D9%A1", "+5", "1_0", "%201"])
def test_v4_expires_is_strict(endpoint, bucket, value):
    url = endpoint.client().generate_presigned_url("list_objects", Params={"Bucket": bucket})
    parts = urlsplit(url)
    query = "&".join(p for p in parts.query.split("&") if not p.startswith("X-Amz-Expires=")) + f"&X-Amz-Expires={value}"
    err = error_of(send_raw(endpoint, "GET", parts.path + "?" + query))
    assert (err["status"], err["Code"]) == (400, "AuthorizationQueryParametersError")


@pytest.mark.parametrize("value", ["%C2%B2", "9" * 5000, "-1"])
def test_v2_expires_is_strict_even_for_an_unknown_key(endpoint, bucket, value):
    for key in (MAIN[0], "AKIDNOSUCHUSER00"):
        got = send_raw(endpoint, "GET", f"/{bucket}?AWSAccessKeyId={key}&Signature=abc&Expires={value}")
        assert got.status_code in (400, 403), got.text
        assert error_of(got)["Code"] in ("AccessDenied", "InvalidAccessKeyId", "AuthorizationQueryParametersError")


def _streaming_with_length(endpoint: Endpoint, path: str, length: str, body: bytes):
    """An unsigned-payload aws-chunked PUT whose x-amz-decoded-content-length is
    ``length`` (any bytes, sent as latin-1, signed as the server will read them)."""
    headers = {
        "X-Amz-Content-SHA256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": length,
    }
    request = AWSRequest(method="PUT", url=f"{endpoint.url}{path}", headers=headers)
    SigV4Auth(BotoCredentials(*MAIN), "s3", endpoint.region).add_auth(request)
    sent = {k: v.encode("latin-1") if isinstance(v, str) else v for k, v in request.headers.items()}
    sent["Content-Length"] = str(len(body)).encode()
    return send_raw(endpoint, "PUT", path, body=body, headers=sent)


@pytest.mark.parametrize("value", ["\xb2", "1" * 5000, "+5", "-5", "\xbd", "0x5"])
def test_decoded_content_length_is_strict(endpoint, bucket, value):
    got = _streaming_with_length(endpoint, f"/{bucket}/dl.txt", value, b"5\r\nhello\r\n0\r\n\r\n")
    err = error_of(got)
    assert err["status"] in (400, 411) and err["Code"] == "MissingContentLength", got.text


def test_bad_chunk_size_is_malformed(endpoint, bucket):
    for size in (b"0x10", b"+10", b"1_0", b"f" * 40, b" 10"):
        body = size + b"\r\n" + b"a" * 16 + b"\r\n0\r\n\r\n"
        got = _streaming_with_length(endpoint, f"/{bucket}/cs.txt", "16", body)
        err = error_of(got)
        assert (err["status"], err["Code"]) == (400, "InvalidRequest"), size


# --- SigV2 dates ----------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{"x-amz-date": ""}, {"Date": "Wed, 31 Dec 1969 23:00:00 GMT"},
                                     {"x-amz-date": "Thu, 01 Jan 1920 00:00:00 GMT"}, {"Date": "not a date"}])
def test_v2_invalid_dates(endpoint, bucket, headers):
    def set_date(h):
        for name in [n for n in h if n.lower() in ("date", "x-amz-date")]:
            del h[name]
        h.update(headers)

    err = error_of(endpoint.signed("GET", f"/{bucket}", sig="v2", tamper=set_date))
    assert (err["status"], err["Code"]) == (403, "AccessDenied")
    assert err["Message"] == "AWS authentication requires a valid Date or x-amz-date header"


# --- SSE-C key material never echoed --------------------------------------------------------


def test_signature_mismatch_redacts_the_ssec_key(endpoint, bucket):
    key = os.urandom(32)
    b64 = base64.b64encode(key).decode()
    md5 = base64.b64encode(hashlib.md5(key).digest()).decode()
    headers = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": b64,
        "x-amz-server-side-encryption-customer-key-md5": md5,
    }

    def tamper(h):
        h["x-amz-server-side-encryption-customer-algorithm"] = "AES128"

    got = endpoint.signed("PUT", f"/{bucket}/k.txt", headers=headers, body=b"secret", tamper=tamper)
    err = error_of(got)
    assert err["Code"] == "SignatureDoesNotMatch"
    assert b64 not in got.text and md5 not in got.text
    assert bytes.fromhex(err["CanonicalRequestBytes"].replace(" ", "")).decode() == err["CanonicalRequest"]
    assert "x-amz-server-side-encryption-customer-key:<redacted>" in err["CanonicalRequest"]
    assert "redacted" in err["Message"]


def test_policy_expiration_must_be_iso8601(endpoint, bucket):
    import json

    from s3presign.core.policy import sign_policy_v4
    from s3presign.core.sigv4 import amz_date

    stamp, date = amz_date(int(time.time()))
    for expiration in ("20991231", "2099-12-31", "tomorrow", "2099-12-31 00:00:00Z"):
        policy = base64.b64encode(json.dumps({"expiration": expiration, "conditions": [{"bucket": bucket}, ["starts-with", "$key", ""]]}).encode()).decode()
        fields = {
            "key": "p.txt", "policy": policy, "x-amz-algorithm": "AWS4-HMAC-SHA256",
            "x-amz-credential": f"{MAIN[0]}/{date}/{endpoint.region}/s3/aws4_request", "x-amz-date": stamp,
            "x-amz-signature": sign_policy_v4(policy, MAIN[1], date, endpoint.region),
        }
        got = httpx.post(f"{endpoint.url}/{bucket}", data=fields, files={"file": ("p.txt", b"data")})
        err = error_of(got)
        assert (err["status"], err["Code"]) == (400, "InvalidPolicyDocument"), expiration
