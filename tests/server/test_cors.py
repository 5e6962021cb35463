"""CORS against the real server: the bucket sub-resource, unauthenticated
preflights allowed and refused, and Access-Control-* on real responses."""

from __future__ import annotations

import hashlib

import botocore.exceptions
import pytest

from .helpers import client_error, error_of, send_raw
from .transfer_helpers import presigned_get

APP = "https://app.example.com"
RULES = {"CORSRules": [
    {"ID": "uploads", "AllowedOrigins": [APP, "https://*.example.org"], "AllowedMethods": ["PUT", "POST"],
     "AllowedHeaders": ["content-type", "x-amz-server-side-encryption-*"], "ExposeHeaders": ["ETag"],
     "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"], "ExposeHeaders": ["ETag", "x-amz-request-id"]},
]}


@pytest.fixture
def cors_bucket(endpoint, bucket):
    endpoint.client().put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    return bucket


def preflight(endpoint, path, origin=APP, method="PUT", headers=None):
    sent = {"Access-Control-Request-Method": method} if method else {}
    if origin:
        sent["Origin"] = origin
    if headers:
        sent["Access-Control-Request-Headers"] = headers
    return send_raw(endpoint, "OPTIONS", path, headers=sent)


def test_put_get_delete_bucket_cors(endpoint, bucket):
    s3 = endpoint.client()
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.get_bucket_cors(Bucket=bucket)
    assert (client_error(info.value)["status"], client_error(info.value)["Code"]) == (404, "NoSuchCORSConfiguration")
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES["CORSRules"]
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(botocore.exceptions.ClientError):
        s3.get_bucket_cors(Bucket=bucket)


@pytest.mark.parametrize("rule, code", [
    ({"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}, "InvalidRequest"),
    ({"AllowedOrigins": ["https://*.*.example.com"], "AllowedMethods": ["GET"]}, "InvalidRequest"),
])
def test_invalid_cors_configuration(endpoint, bucket, rule, code):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        endpoint.client().put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
    assert (client_error(info.value)["status"], client_error(info.value)["Code"]) == (400, code)


def test_preflight_allowed_without_credentials(endpoint, cors_bucket):
    got = preflight(endpoint, f"/{cors_bucket}/photo.jpg", headers="Content-Type, x-amz-server-side-encryption-customer-key")
    assert got.status_code == 200
    assert got.headers["access-control-allow-origin"] == APP
    assert got.headers["access-control-allow-methods"] == "PUT, POST"
    assert got.headers["access-control-allow-headers"] == "content-type, x-amz-server-side-encryption-customer-key"
    assert got.headers["access-control-expose-headers"] == "ETag"
    assert got.headers["access-control-max-age"] == "600"
    assert got.headers["access-control-allow-credentials"] == "true"
    wildcard = preflight(endpoint, f"/{cors_bucket}/x", origin="https://cdn.example.org", method="POST")
    assert wildcard.status_code == 200 and wildcard.headers["access-control-allow-origin"] == "https://cdn.example.org"
    anyone = preflight(endpoint, f"/{cors_bucket}/x", origin="https://elsewhere.net", method="GET")
    assert anyone.status_code == 200 and anyone.headers["access-control-allow-origin"] == "*"


def test_preflight_of_a_presigned_upload_part_url(endpoint, cors_bucket):
    """A browser preflights the exact pre-signed URL, query and all."""
    url = endpoint.presigner().presign("PUT", cors_bucket, "big", query={"uploadId": "x", "partNumber": "3"}).url
    got = preflight(endpoint, url[len(endpoint.url):])
    assert got.status_code == 200 and got.headers["access-control-allow-origin"] == APP


@pytest.mark.parametrize("origin, method, headers", [
    ("https://evil.example.net", "PUT", None),      # origin not listed
    (APP, "DELETE", None),                          # method not allowed
    (APP, "PUT", "x-custom-header"),                # header not allowed
    ("https://a.b.example.org.evil", "PUT", None),  # the wildcard is not a suffix match
])
def test_preflight_refused(endpoint, cors_bucket, origin, method, headers):
    got = preflight(endpoint, f"/{cors_bucket}/k", origin=origin, method=method, headers=headers)
    error = error_of(got)
    assert (error["status"], error["Code"]) == (403, "AccessForbidden")
    assert error["Message"].startswith("CORSResponse: This CORS request is not allowed.")
    assert "access-control-allow-origin" not in got.headers


def test_preflight_without_configuration_or_origin(endpoint, bucket):
    no_rules = error_of(preflight(endpoint, f"/{bucket}/k"))
    assert (no_rules["status"], no_rules["Code"]) == (403, "AccessForbidden")
    assert no_rules["Message"] == "CORSResponse: CORS is not enabled for this bucket."
    no_origin = error_of(preflight(endpoint, f"/{bucket}/k", origin=None))
    assert (no_origin["status"], no_origin["Code"]) == (400, "BadRequest")
    bad_method = error_of(preflight(endpoint, f"/{bucket}/k", method="BREW"))
    assert (bad_method["status"], bad_method["Code"]) == (400, "BadRequest")


def test_real_responses_carry_cors_headers(endpoint, cors_bucket):
    endpoint.client().put_object(Bucket=cors_bucket, Key="pic", Body=b"pixels")
    url = endpoint.presigner().presign("GET", cors_bucket, "pic").url
    target = url[len(endpoint.url):]
    got = send_raw(endpoint, "GET", target, headers={"Origin": "https://site.example.net"})
    assert got.status_code == 200 and got.content == b"pixels"
    assert got.headers["access-control-allow-origin"] == "*"
    assert got.headers["access-control-expose-headers"] == "ETag, x-amz-request-id"
    plain = presigned_get(endpoint, cors_bucket, "pic")  # no Origin: no CORS headers
    assert "access-control-allow-origin" not in plain.headers
    put = endpoint.presigner().presign("PUT", cors_bucket, "up")
    sent = send_raw(endpoint, "PUT", put.url[len(endpoint.url):], body=b"from a browser", headers={"Origin": APP})
    assert sent.status_code == 200
    assert sent.headers["access-control-allow-origin"] == APP and sent.headers["access-control-expose-headers"] == "ETag"
    assert sent.headers["etag"] == f'"{hashlib.md5(b"from a browser").hexdigest()}"'


def test_errors_carry_cors_headers_so_the_browser_can_read_them(endpoint, cors_bucket):
    url = endpoint.presigner().presign("PUT", cors_bucket, "k").url
    tampered = url[len(endpoint.url):].replace("X-Amz-Signature=", "X-Amz-Signature=0")
    got = send_raw(endpoint, "PUT", tampered, body=b"x", headers={"Origin": APP})
    assert error_of(got)["Code"] == "SignatureDoesNotMatch"
    assert got.headers["access-control-allow-origin"] == APP


def test_sse_c_key_header_allowed_by_pattern(endpoint, cors_bucket):
    got = preflight(endpoint, f"/{cors_bucket}/k",
                    headers="x-amz-server-side-encryption-customer-algorithm,x-amz-server-side-encryption-customer-key-md5")
    assert got.status_code == 200
