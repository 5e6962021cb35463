"""Malformed input gets S3's error, never a 500: sub-resources, methods, headers,
XML, dates, and a fuzzer over paths, queries and headers."""

from __future__ import annotations

import socket

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import Endpoint, error_of


def test_unknown_subresource_is_not_implemented(endpoint: Endpoint, bucket: str):
    for query in ("lifecycle=", "website=", "logging=", "replication="):
        err = error_of(endpoint.signed("GET", f"/{bucket}", query=query))
        assert (err["status"], err["Code"]) == (501, "NotImplemented"), query
        assert err["Message"] == "A header you provided implies functionality that is not implemented"
    endpoint.client().put_object(Bucket=bucket, Key="k", Body=b"x")
    err = error_of(endpoint.signed("GET", f"/{bucket}/k", query="retention="))
    assert (err["status"], err["Code"]) == (501, "NotImplemented")
    # ordinary parameters that are not sub-resources are ignored, as by S3
    assert endpoint.signed("GET", f"/{bucket}/k", query="foo=bar").status_code == 200


def test_unsupported_features_are_refused_not_ignored(endpoint, bucket):
    for header in ("x-amz-object-lock-mode", "x-amz-website-redirect-location", "If-None-Match"):
        err = error_of(endpoint.signed("PUT", f"/{bucket}/k", body=b"x", headers={header: "a=b"}))
        assert (err["status"], err["Code"]) == (501, "NotImplemented"), header
        assert err["Header"] == header.lower()


def test_method_not_allowed(endpoint, bucket):
    err = error_of(endpoint.signed("POST", f"/{bucket}/k", body=b""))
    assert (err["status"], err["Code"]) == (405, "MethodNotAllowed")
    assert err["Method"] == "POST" and err["ResourceType"] == "OBJECT"
    err = error_of(endpoint.signed("DELETE", "/"))
    assert (err["status"], err["Code"]) == (405, "MethodNotAllowed")


def test_oversized_header_section(endpoint, bucket):
    err = error_of(endpoint.signed("GET", f"/{bucket}", headers={"x-amz-meta-big": "v" * 9000}))
    assert (err["status"], err["Code"]) == (400, "RequestHeaderSectionTooLarge")


def test_missing_content_length_and_chunked_transfer(endpoint, bucket):
    with socket.create_connection(("127.0.0.1", endpoint.port)) as sock:
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        from .helpers import MAIN

        request = AWSRequest(method="PUT", url=f"{endpoint.url}/{bucket}/chunked", data=b"")
        request.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
        S3SigV4Auth(Credentials(*MAIN), "s3", "us-east-1").add_auth(request)
        lines = [f"PUT /{bucket}/chunked HTTP/1.1", f"Host: 127.0.0.1:{endpoint.port}", "Transfer-Encoding: chunked"]
        lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() not in ("content-length", "host")]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b"5\r\nhello\r\n0\r\n\r\n")
        reply = b""
        while b"</Error>" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 411") and b"<Code>MissingContentLength</Code>" in reply


def test_bad_dates_in_preconditions_are_ignored(endpoint, bucket):
    endpoint.client().put_object(Bucket=bucket, Key="k", Body=b"x")
    resp = endpoint.signed("GET", f"/{bucket}/k", headers={"If-Modified-Since": "yesterday-ish"})
    assert resp.status_code == 200 and resp.content == b"x"


def test_invalid_percent_encoding_in_key(endpoint, bucket):
    err = error_of(endpoint.signed("GET", f"/{bucket}/%FF%FE"))
    assert (err["status"], err["Code"]) == (400, "InvalidURI")


def test_non_http_garbage_is_not_a_crash(endpoint):
    with socket.create_connection(("127.0.0.1", endpoint.port)) as sock:
        sock.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400")


_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30)
_header_names = st.sampled_from([
    "Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "Content-MD5",
    "x-amz-checksum-crc32", "x-amz-server-side-encryption", "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key", "x-amz-storage-class", "x-amz-trailer",
    "x-amz-sdk-checksum-algorithm", "Content-Encoding", "x-amz-decoded-content-length",
])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "PUT", "HEAD", "DELETE", "POST"]),
    key=st.one_of(st.just(""), _text),
    query=st.sampled_from(["", "list-type=2&max-keys=x", "delete=", "encryption=", "location=",
                           "list-type=2&continuation-token=%%", "response-content-type=%", "uploads=",
                           "uploadId=x&partNumber=1", "cors="]),
    headers=st.dictionaries(_header_names, _text, max_size=4),
    body=st.binary(max_size=64),
)
def test_fuzzed_signed_requests_never_get_a_500(endpoint, bucket, method, key, query, headers, body):
    from urllib.parse import quote

    path = f"/{bucket}/{quote(key, safe='/')}" if key else f"/{bucket}"
    resp = endpoint.signed(method, path, query=query, headers=headers, body=body)
    assert resp.status_code < 500 or resp.status_code == 501, resp.content
