"""GetObjectAttributes against the real server, with boto3: every attribute, multipart
parts, S3's errors, SSE-C objects needing their key, and authorization."""

from __future__ import annotations

import os

from s3presign.core.sse import customer_key_headers

from .helpers import OTHER, refused

ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]


def test_attributes_of_a_simple_and_a_multipart_object(endpoint, bucket):
    s3 = endpoint.client()
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"hello", ChecksumAlgorithm="SHA256")
    got = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=ALL)
    assert got["ETag"] == put["ETag"].strip('"') and got["ObjectSize"] == 5 and got["StorageClass"] == "STANDARD"
    assert got["Checksum"]["ChecksumSHA256"] == put["ChecksumSHA256"]
    assert "ObjectParts" not in got
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    parts = [s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=n, Body=os.urandom(5 << 20))
             for n in (1, 2)]
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": p["ETag"]} for n, p in zip((1, 2), parts)]})
    got = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts", "ObjectSize"])
    assert got["ObjectParts"]["TotalPartsCount"] == 2 and got["ObjectSize"] == 10 << 20
    assert "ETag" not in got


def test_errors_and_authorization(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    resp = endpoint.signed("GET", f"/{bucket}/k", query="attributes=", headers={"x-amz-object-attributes": "Nope"})
    assert resp.status_code == 400 and b"<Code>InvalidArgument</Code>" in resp.content
    resp = endpoint.signed("GET", f"/{bucket}/k", query="attributes=")
    assert resp.status_code == 400 and b"<Code>InvalidArgument</Code>" in resp.content
    assert refused(lambda: s3.get_object_attributes(Bucket=bucket, Key="missing", ObjectAttributes=["ETag"]))[0] == 404
    assert refused(lambda: endpoint.client(creds=OTHER).get_object_attributes(
        Bucket=bucket, Key="k", ObjectAttributes=["ETag"])) == (403, "AccessDenied")


def test_sse_c_object_needs_its_key(endpoint, bucket):
    s3 = endpoint.client()
    key = os.urandom(32)
    s3.put_object(Bucket=bucket, Key="c", Body=b"secret", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert refused(lambda: s3.get_object_attributes(Bucket=bucket, Key="c", ObjectAttributes=["ObjectSize"]))[0] == 400
    # botocore does not encode the key for this operation: send S3's headers as any client would
    headers = {"x-amz-object-attributes": "ObjectSize", "x-amz-server-side-encryption-customer-algorithm": "AES256",
               **customer_key_headers(key)}
    resp = endpoint.signed("GET", f"/{bucket}/c", query="attributes=", headers=headers)
    assert resp.status_code == 200 and b"<ObjectSize>6</ObjectSize>" in resp.content
