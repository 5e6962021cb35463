"""New-bucket defaults against the real server: AWS's current ones by default (SSE-C writes
blocked, BucketOwnerEnforced, Block Public Access on), the pre-2023 ones with
--new-bucket-defaults legacy; Ownership Controls and Public Access Block APIs."""

from __future__ import annotations

import json
import os
import uuid

import httpx
import pytest
from botocore.exceptions import ClientError

from s3presign.core.sse import SSE

from .helpers import client_error, start_server

KEY = os.urandom(32)
SSEC = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY}
NOT_BLOCKED = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                          "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]}}]}
BLOCKED = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                      "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]}}]}


@pytest.fixture(scope="module")
def current(tmp_path_factory):
    """A server with the default --new-bucket-defaults (current), SSE-C allowed over HTTP."""
    server = start_server(tmp_path_factory.mktemp("current") / "data", "--allow-insecure-ssec",
                          "--new-bucket-defaults", "current")
    yield server
    server.stop()


def _new(endpoint, **kwargs) -> str:
    name = f"t-{uuid.uuid4().hex[:16]}"
    endpoint.client().create_bucket(Bucket=name, **kwargs)
    return name


def _error(call) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as exc:
        call()
    err = client_error(exc.value)
    return err["status"], err["Code"], err.get("Message", "")


def test_sse_c_writes_are_refused_until_the_owner_unblocks_them(current):
    s3 = current.client()
    bucket = _new(current)
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["BlockedEncryptionTypes"]["EncryptionType"] == ["SSE-C"]
    denied = (403, "AccessDenied", "Access Denied")
    assert _error(lambda: s3.put_object(Bucket=bucket, Key="c", Body=b"x", **SSEC)) == denied
    assert _error(lambda: s3.create_multipart_upload(Bucket=bucket, Key="mp", **SSEC)) == denied
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
    assert _error(lambda: s3.copy_object(Bucket=bucket, Key="c2", CopySource={"Bucket": bucket, "Key": "plain"},
                                         **SSEC)) == denied
    put = current.presigner().presign("PUT", bucket, "presigned", sse=SSE.customer())
    resp = httpx.put(put.url, content=b"x", headers=put.headers_with_key(KEY))
    assert resp.status_code == 403 and b"<Code>AccessDenied</Code>" in resp.content

    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=NOT_BLOCKED)
    s3.put_object(Bucket=bucket, Key="c", Body=b"secret", **SSEC)
    assert httpx.put(put.url, content=b"y", headers=put.headers_with_key(KEY)).status_code == 200
    # blocked again: existing SSE-C objects are still readable, new writes are not
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration=BLOCKED)
    assert s3.get_object(Bucket=bucket, Key="c", **SSEC)["Body"].read() == b"secret"
    assert _error(lambda: s3.put_object(Bucket=bucket, Key="c3", Body=b"x", **SSEC)) == denied
    # a configuration that does not mention blocked types keeps them
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    assert _error(lambda: s3.put_object(Bucket=bucket, Key="c3", Body=b"x", **SSEC)) == denied


def test_current_defaults_ownership_and_public_access_block(current):
    s3 = current.client()
    bucket = _new(current)
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert pab == {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                   "RestrictPublicBuckets": True}
    public = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]})
    status, code, _ = _error(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=public))
    assert (status, code) == (403, "AccessDenied")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert pab == {"BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
                   "RestrictPublicBuckets": False}
    s3.put_bucket_policy(Bucket=bucket, Policy=public)  # no longer blocked
    s3.delete_public_access_block(Bucket=bucket)
    assert _error(lambda: s3.get_public_access_block(Bucket=bucket))[:2] == (404, "NoSuchPublicAccessBlockConfiguration")

    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "ObjectWriter"}]
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    assert _error(lambda: s3.get_bucket_ownership_controls(Bucket=bucket))[:2] == (404, "OwnershipControlsNotFoundError")


def test_create_bucket_object_ownership_header(current):
    s3 = current.client()
    bucket = _new(current, ObjectOwnership="BucketOwnerPreferred")
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerPreferred"}]
    status, code, _ = _error(lambda: s3.create_bucket(Bucket=f"t-{uuid.uuid4().hex[:16]}",
                                                      ObjectOwnership="Nobody"))
    assert (status, code) == (400, "InvalidArgument")


def test_legacy_defaults(endpoint):
    """The shared suite's server runs --new-bucket-defaults legacy."""
    s3 = endpoint.client()
    bucket = _new(endpoint)
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert "BlockedEncryptionTypes" not in rule
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "ObjectWriter"}]
    assert _error(lambda: s3.get_public_access_block(Bucket=bucket))[:2] == (404, "NoSuchPublicAccessBlockConfiguration")
    s3.put_object(Bucket=bucket, Key="c", Body=b"x", **SSEC)
