"""CopyObject against the real server: between every SSE mode (out of SSE-C with
the copy-source key headers), metadata directives, conditional copies and the
copy-onto-itself rule."""

from __future__ import annotations

import datetime as dt
import os

import botocore.exceptions
import pytest
from boto3.s3.transfer import TransferConfig

from .helpers import client_error
from .transfer_helpers import CUSTOMER_KEY, MiB, new_bucket

OTHER_KEY = bytes(range(100, 132))
# mode -> (PutObject/CopyObject arguments to write in it, arguments to read it, HEAD's SSE)
MODES = {
    "s3": ({"ServerSideEncryption": "AES256"}, {}, "AES256"),
    "kms": ({"ServerSideEncryption": "aws:kms"}, {}, "aws:kms"),
    "dsse": ({"ServerSideEncryption": "aws:kms:dsse"}, {}, "aws:kms:dsse"),
    "c": ({"SSECustomerAlgorithm": "AES256", "SSECustomerKey": CUSTOMER_KEY},
          {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": CUSTOMER_KEY}, None),
    "c-other": ({"SSECustomerAlgorithm": "AES256", "SSECustomerKey": OTHER_KEY},
                {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": OTHER_KEY}, None),
    "default": ({}, {}, "AES256"),  # the bucket default, whatever the source had
}


def _source_key(read: dict) -> dict:
    return {"CopySource" + k: v for k, v in read.items()}


@pytest.fixture(scope="module")
def tls_bucket(tls_endpoint):
    return new_bucket(tls_endpoint)


@pytest.mark.parametrize("source", ["s3", "kms", "c"])
@pytest.mark.parametrize("target", ["s3", "kms", "dsse", "c-other", "default"])
def test_copy_between_sse_modes(tls_endpoint, tls_bucket, source, target):
    s3 = tls_endpoint.client()
    data = os.urandom(3 * MiB + 7)
    write, read, _ = MODES[source]
    src = f"src-{source}-{target}"
    s3.put_object(Bucket=tls_bucket, Key=src, Body=data, ContentType="text/x-test", Metadata={"from": source}, **write)
    dst = f"dst-{source}-{target}"
    out_write, out_read, stored_as = MODES[target]
    result = s3.copy_object(Bucket=tls_bucket, Key=dst, CopySource={"Bucket": tls_bucket, "Key": src},
                            **out_write, **_source_key(read))
    assert result["CopyObjectResult"]["ETag"].startswith('"')
    got = s3.get_object(Bucket=tls_bucket, Key=dst, **out_read)
    assert got["Body"].read() == data
    assert got.get("ServerSideEncryption") == stored_as
    assert got["ContentType"] == "text/x-test" and got["Metadata"] == {"from": source}  # COPY directive
    if target == "c-other":
        with pytest.raises(botocore.exceptions.ClientError) as info:  # only the new key opens it
            s3.get_object(Bucket=tls_bucket, Key=dst, **MODES["c"][1])
        assert client_error(info.value)["status"] == 403


def test_copy_out_of_sse_c_needs_the_source_key(tls_endpoint, tls_bucket):
    s3 = tls_endpoint.client()
    s3.put_object(Bucket=tls_bucket, Key="locked", Body=b"x", **MODES["c"][0])
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.copy_object(Bucket=tls_bucket, Key="copy", CopySource={"Bucket": tls_bucket, "Key": "locked"})
    assert (client_error(info.value)["status"], client_error(info.value)["Code"]) == (400, "InvalidRequest")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.copy_object(Bucket=tls_bucket, Key="copy", CopySource={"Bucket": tls_bucket, "Key": "locked"},
                       **_source_key(MODES["c-other"][1]))
    assert (client_error(info.value)["status"], client_error(info.value)["Code"]) == (403, "AccessDenied")


def test_metadata_directive_replace(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="a", Body=b"body", ContentType="text/plain", Metadata={"old": "1"},
                  CacheControl="no-cache")
    s3.copy_object(Bucket=bucket, Key="b", CopySource={"Bucket": bucket, "Key": "a"}, MetadataDirective="REPLACE",
                   ContentType="application/json", Metadata={"new": "2"})
    head = s3.head_object(Bucket=bucket, Key="b")
    assert head["ContentType"] == "application/json" and head["Metadata"] == {"new": "2"}
    assert "CacheControl" not in head
    s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "a"}, Metadata={"ignored": "x"})
    head = s3.head_object(Bucket=bucket, Key="c")
    assert head["Metadata"] == {"old": "1"} and head["CacheControl"] == "no-cache"


def test_unknown_metadata_directive(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    response = endpoint.signed("PUT", f"/{bucket}/b", headers={
        "x-amz-copy-source": f"/{bucket}/a", "x-amz-metadata-directive": "MERGE"})
    assert response.status_code == 400 and b"<Code>InvalidArgument</Code>" in response.content


def test_copy_onto_itself_only_when_something_changes(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="self", Body=b"same", Metadata={"v": "1"})
    source = {"Bucket": bucket, "Key": "self"}
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="self", CopySource=source)
    error = client_error(info.value)
    assert (error["status"], error["Code"]) == (400, "InvalidRequest")
    assert error["Message"].startswith("This copy request is illegal because it is trying to copy an object to itself")
    s3.copy_object(Bucket=bucket, Key="self", CopySource=source, MetadataDirective="REPLACE", Metadata={"v": "2"})
    assert s3.head_object(Bucket=bucket, Key="self")["Metadata"] == {"v": "2"}
    s3.copy_object(Bucket=bucket, Key="self", CopySource=source, ServerSideEncryption="aws:kms")
    head = s3.head_object(Bucket=bucket, Key="self")
    assert head["ServerSideEncryption"] == "aws:kms" and head["Metadata"] == {"v": "2"}
    assert s3.get_object(Bucket=bucket, Key="self")["Body"].read() == b"same"


def test_conditional_copy(endpoint, bucket):
    s3 = endpoint.client()
    etag = s3.put_object(Bucket=bucket, Key="src", Body=b"conditional")["ETag"]
    source = {"Bucket": bucket, "Key": "src"}
    past = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    failing = [
        {"CopySourceIfMatch": '"00000000000000000000000000000000"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfUnmodifiedSince": past},
        {"CopySourceIfModifiedSince": future},
    ]
    for condition in failing:
        with pytest.raises(botocore.exceptions.ClientError) as info:
            s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, **condition)
        assert (client_error(info.value)["status"], client_error(info.value)["Code"]) == (412, "PreconditionFailed")
    passing = [
        {"CopySourceIfMatch": etag},
        {"CopySourceIfNoneMatch": '"00000000000000000000000000000000"'},
        {"CopySourceIfModifiedSince": past},
        {"CopySourceIfMatch": etag, "CopySourceIfUnmodifiedSince": past},  # S3: If-Match wins
    ]
    for condition in passing:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, **condition)
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"conditional"


def test_copy_of_a_multipart_object(endpoint, bucket):
    s3 = endpoint.client()
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    parts = [os.urandom(5 * MiB), b"end"]
    done = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=n,
                                                     Body=body)["ETag"]} for n, body in enumerate(parts, 1)]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={"Parts": done})
    result = s3.copy_object(Bucket=bucket, Key="flat", CopySource={"Bucket": bucket, "Key": "mp"})
    assert "-" not in result["CopyObjectResult"]["ETag"]  # one stream now: an ordinary ETag
    assert s3.get_object(Bucket=bucket, Key="flat")["Body"].read() == b"".join(parts)


def test_copy_source_errors(endpoint, bucket):
    s3 = endpoint.client()
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "missing"})
    assert client_error(info.value)["Code"] == "NoSuchKey"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": "no-such-bucket-here", "Key": "k"})
    assert client_error(info.value)["Code"] == "NoSuchBucket"
    response = endpoint.signed("PUT", f"/{bucket}/dst", headers={"x-amz-copy-source": "just-a-bucket"})
    assert response.status_code == 400 and b"<Code>InvalidArgument</Code>" in response.content


def test_copy_into_kms_under_sigv2_is_refused(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", ServerSideEncryption="aws:kms")
    with pytest.raises(botocore.exceptions.ClientError) as info:  # reading a KMS source needs SigV4
        endpoint.client("s3").copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert client_error(info.value)["Code"] == "InvalidArgument"


def test_boto3_managed_copy_uses_upload_part_copy(tls_endpoint, tls_bucket):
    """s3transfer copies a large object as UploadPartCopy ranges: out of SSE-C into SSE-KMS."""
    s3 = tls_endpoint.client()
    data = os.urandom(12 * MiB + 3)
    s3.put_object(Bucket=tls_bucket, Key="managed-src", Body=data, **MODES["c"][0])
    config = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.copy({"Bucket": tls_bucket, "Key": "managed-src"}, tls_bucket, "managed-dst", Config=config,
            ExtraArgs={"ServerSideEncryption": "aws:kms", **_source_key(MODES["c"][1])})
    got = s3.get_object(Bucket=tls_bucket, Key="managed-dst")
    assert got["ETag"].endswith('-3"') and got["ServerSideEncryption"] == "aws:kms"
    assert got["Body"].read() == data
