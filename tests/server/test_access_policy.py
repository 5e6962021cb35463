"""Bucket policies against the real server: Put/Get/DeleteBucketPolicy, GetBucketPolicyStatus,
and the policies issue 11's Bar names, driven with pre-signed URLs (ours and botocore's)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from botocore.exceptions import ClientError

from s3presign.core.sse import SSE

from .helpers import MAIN, OTHER, client_error, error_of

BODY = b"policy-governed bytes"


def _policy(bucket: str, *statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _deny(action: str, resource: str, condition: dict) -> dict:
    return {"Effect": "Deny", "Principal": "*", "Action": action, "Resource": resource, "Condition": condition}


def _send(request, body: bytes | None = None) -> httpx.Response:
    return httpx.request(request.method, request.url, content=body, headers=dict(request.headers))


def _denied(resp: httpx.Response) -> None:
    err = error_of(resp)
    assert (err["status"], err["Code"], err["Message"]) == (403, "AccessDenied", "Access Denied")


def test_put_get_delete_and_status(endpoint, bucket):
    s3 = endpoint.client()
    with pytest.raises(ClientError) as missing:
        s3.get_bucket_policy(Bucket=bucket)
    assert client_error(missing.value)["Code"] == "NoSuchBucketPolicy"
    text = _policy(bucket, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                            "Resource": f"arn:aws:s3:::{bucket}/*"})
    s3.put_bucket_policy(Bucket=bucket, Policy=text)
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == text
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    s3.delete_bucket_policy(Bucket=bucket)
    with pytest.raises(ClientError):
        s3.get_bucket_policy(Bucket=bucket)


def test_malformed_policy_is_refused_with_s3s_message(endpoint, bucket):
    with pytest.raises(ClientError) as exc:
        endpoint.client().put_bucket_policy(Bucket=bucket, Policy="not json")
    err = client_error(exc.value)
    assert (err["status"], err["Code"]) == (400, "MalformedPolicy")
    assert err["Message"] == "Policies must be valid JSON and the first byte must be '{'"


def test_deny_put_without_kms_refuses_presigned_puts_without_sse_kms(endpoint, bucket):
    endpoint.client().put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, _deny(
        "s3:PutObject", f"arn:aws:s3:::{bucket}/*",
        {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}})))
    presigner = endpoint.presigner()
    _denied(_send(presigner.presign("PUT", bucket, "plain"), BODY))
    _denied(_send(presigner.presign("PUT", bucket, "sse-s3", sse=SSE.s3()), BODY))
    ok = _send(presigner.presign("PUT", bucket, "kms", sse=SSE.kms()), BODY)
    assert ok.status_code == 200, ok.text
    assert ok.headers["x-amz-server-side-encryption"] == "aws:kms"
    # boto3 header-signed requests meet the same policy
    s3 = endpoint.client()
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="boto-plain", Body=BODY)
    assert client_error(exc.value)["Code"] == "AccessDenied"
    s3.put_object(Bucket=bucket, Key="boto-kms", Body=BODY, ServerSideEncryption="aws:kms")
    assert s3.get_object(Bucket=bucket, Key="kms")["Body"].read() == BODY


def test_signature_age_refuses_an_older_presigned_url(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="k", Body=BODY)
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, _deny(
        "s3:GetObject", f"arn:aws:s3:::{bucket}/*", {"NumericGreaterThan": {"s3:signatureAge": "60000"}})))
    presigner = endpoint.presigner()
    old = presigner.presign("GET", bucket, "k", expires_in=3600, now=time.time() - 300)
    _denied(_send(old))
    fresh = _send(presigner.presign("GET", bucket, "k", expires_in=3600))
    assert fresh.status_code == 200 and fresh.content == BODY


def test_signature_version_refuses_sigv2(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="k", Body=BODY)
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, _deny(
        "s3:*", f"arn:aws:s3:::{bucket}/*", {"StringEquals": {"s3:signatureversion": "AWS"}})))
    _denied(_send(endpoint.presigner("v2").presign("GET", bucket, "k")))
    with pytest.raises(ClientError) as exc:
        endpoint.client("s3").get_object(Bucket=bucket, Key="k")  # SigV2 in the header
    assert client_error(exc.value)["Code"] == "AccessDenied"
    assert _send(endpoint.presigner("v4").presign("GET", bucket, "k")).content == BODY


def test_a_policy_grant_opens_exactly_what_it_says(endpoint, bucket):
    main, other = endpoint.client(creds=MAIN), endpoint.client(creds=OTHER)
    main.put_object(Bucket=bucket, Key="shared/a", Body=BODY)
    main.put_object(Bucket=bucket, Key="private/b", Body=BODY)
    account = other.list_buckets()["Owner"]["ID"]  # canonical id of the other account
    main.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, {
        "Effect": "Allow", "Principal": {"CanonicalUser": account}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/shared/*"}))
    assert other.get_object(Bucket=bucket, Key="shared/a")["Body"].read() == BODY
    for call in (lambda: other.get_object(Bucket=bucket, Key="private/b"),
                 lambda: other.put_object(Bucket=bucket, Key="shared/new", Body=b"x"),
                 lambda: other.list_objects_v2(Bucket=bucket),
                 lambda: other.delete_object(Bucket=bucket, Key="shared/a")):
        with pytest.raises(ClientError) as exc:
            call()
        assert client_error(exc.value)["status"] == 403
    # anonymous: nothing, until the policy says everyone
    _denied(httpx.get(f"{endpoint.url}/{bucket}/shared/a"))
    main.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, {
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/shared/*"}))
    assert httpx.get(f"{endpoint.url}/{bucket}/shared/a").content == BODY
    _denied(httpx.get(f"{endpoint.url}/{bucket}/private/b"))


def test_no_policy_locks_its_owner_out(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket, {
        "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}))
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=bucket)
    assert client_error(exc.value)["Code"] == "AccessDenied"
    s3.delete_bucket_policy(Bucket=bucket)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
