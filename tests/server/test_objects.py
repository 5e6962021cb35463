"""Object operations with boto3 (SigV4 and SigV2): bodies, headers, ranges,
preconditions, response overrides, keys S3 allows, multi-object delete."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from pathlib import Path

import httpx
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from .helpers import Endpoint, client_error, error_of

SIGS = ["s3v4", "s3"]


def _raises(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return client_error(info.value)


@pytest.mark.parametrize("sig", SIGS)
def test_put_get_head_delete(endpoint: Endpoint, bucket: str, sig: str):
    s3 = endpoint.client(sig)
    body = os.urandom(200_000)
    put = s3.put_object(
        Bucket=bucket, Key="dir/file.bin", Body=body,
        ContentType="application/x-test", ContentDisposition='attachment; filename="f.bin"',
        ContentEncoding="identity", CacheControl="max-age=60", ContentLanguage="en",
        Metadata={"color": "blue", "Mixed-Case": "Value"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="dir/file.bin")
    assert got["Body"].read() == body
    assert got["ContentLength"] == len(body) and got["ETag"] == put["ETag"]
    assert got["ContentType"] == "application/x-test"
    assert got["ContentDisposition"] == 'attachment; filename="f.bin"'
    assert got["ContentEncoding"] == "identity" and got["CacheControl"] == "max-age=60"
    assert got["ContentLanguage"] == "en"
    assert got["Metadata"] == {"color": "blue", "mixed-case": "Value"}
    assert got["ServerSideEncryption"] == "AES256"
    head = s3.head_object(Bucket=bucket, Key="dir/file.bin")
    assert head["ContentLength"] == len(body) and head["ETag"] == put["ETag"]
    assert head["Metadata"] == got["Metadata"]
    s3.delete_object(Bucket=bucket, Key="dir/file.bin")
    err = _raises(s3.get_object, Bucket=bucket, Key="dir/file.bin")
    assert (err["status"], err["Code"]) == (404, "NoSuchKey")
    assert err["Message"] == "The specified key does not exist." and err["Key"] == "dir/file.bin"
    assert _raises(s3.head_object, Bucket=bucket, Key="dir/file.bin")["status"] == 404
    s3.delete_object(Bucket=bucket, Key="never-existed")  # S3: 204 all the same


def test_default_content_type_and_empty_object(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b"" and got["ContentLength"] == 0
    assert got["ETag"] == f'"{hashlib.md5(b"").hexdigest()}"'
    assert got["ContentType"] == "binary/octet-stream"


def test_missing_bucket(endpoint):
    err = _raises(endpoint.client().put_object, Bucket="no-such-bucket-here", Key="k", Body=b"x")
    assert (err["status"], err["Code"]) == (404, "NoSuchBucket")
    assert err["BucketName"] == "no-such-bucket-here"
    err = _raises(endpoint.client().get_object, Bucket="no-such-bucket-here", Key="k")
    assert err["Code"] == "NoSuchBucket"


def test_upload_file_and_download_file(endpoint, bucket, tmp_path: Path):
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    single_part = TransferConfig(multipart_threshold=64 * 1024 * 1024)
    for sig in SIGS:
        s3 = endpoint.client(sig)
        s3.upload_file(str(source), bucket, f"up-{sig}", Config=single_part)
        target = tmp_path / f"out-{sig}.bin"
        s3.download_file(bucket, f"up-{sig}", str(target), Config=TransferConfig(multipart_threshold=1024 * 1024, multipart_chunksize=1024 * 1024))
        assert target.read_bytes() == source.read_bytes()


# --- ranges -----------------------------------------------------------------------------------


@pytest.fixture
def digits(endpoint, bucket) -> tuple[str, bytes]:
    body = bytes(range(256)) * 1000  # crosses several 64 KiB encryption packages
    endpoint.client().put_object(Bucket=bucket, Key="digits", Body=body)
    return bucket, body


@pytest.mark.parametrize(
    "header, start, end",
    [
        ("bytes=0-0", 0, 0),
        ("bytes=10-19", 10, 19),
        ("bytes=65530-131080", 65530, 131080),
        ("bytes=255990-", 255990, 255999),
        ("bytes=-7", 255993, 255999),
        ("bytes=-999999", 0, 255999),
        ("bytes=200000-999999", 200000, 255999),
    ],
)
def test_ranges(endpoint, digits, header, start, end):
    bucket, body = digits
    got = endpoint.client().get_object(Bucket=bucket, Key="digits", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes {start}-{end}/{len(body)}"
    assert got["Body"].read() == body[start : end + 1]


def test_unsatisfiable_and_ignored_ranges(endpoint, digits):
    bucket, body = digits
    s3 = endpoint.client()
    for header in ("bytes=256000-", "bytes=-0", "bytes=999999-1000000"):
        err = _raises(s3.get_object, Bucket=bucket, Key="digits", Range=header)
        assert (err["status"], err["Code"]) == (416, "InvalidRange")
        assert err["Message"] == "The requested range is not satisfiable"
        assert err["ActualObjectSize"] == str(len(body))
    for header in ("bytes=9-3", "chars=0-3", "bytes=0-1,5-6", "garbage"):
        got = s3.get_object(Bucket=bucket, Key="digits", Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert got["Body"].read() == body


# --- preconditions -------------------------------------------------------------------------------


def test_preconditions(endpoint, digits):
    bucket, _ = digits
    s3 = endpoint.client()
    head = s3.head_object(Bucket=bucket, Key="digits")
    etag, modified = head["ETag"], head["LastModified"]
    before, after = modified - dt.timedelta(days=1), modified + dt.timedelta(days=1)

    ok = [dict(IfMatch=etag), dict(IfNoneMatch='"other"'), dict(IfModifiedSince=before),
          dict(IfUnmodifiedSince=after), dict(IfMatch=etag, IfUnmodifiedSince=before)]
    for conditions in ok:
        assert s3.get_object(Bucket=bucket, Key="digits", **conditions)["ResponseMetadata"]["HTTPStatusCode"] == 200

    for conditions in (dict(IfMatch='"other"'), dict(IfUnmodifiedSince=before)):
        err = _raises(s3.get_object, Bucket=bucket, Key="digits", **conditions)
        assert (err["status"], err["Code"]) == (412, "PreconditionFailed")
        assert err["Message"] == "At least one of the pre-conditions you specified did not hold"

    for conditions in (dict(IfNoneMatch=etag), dict(IfModifiedSince=after), dict(IfNoneMatch="*")):
        err = _raises(s3.get_object, Bucket=bucket, Key="digits", **conditions)
        assert err["status"] == 304
        err = _raises(s3.head_object, Bucket=bucket, Key="digits", **conditions)
        assert err["status"] == 304


def test_response_overrides(endpoint, digits):
    bucket, _ = digits
    for sig in SIGS:
        got = endpoint.client(sig).get_object(
            Bucket=bucket, Key="digits", ResponseContentType="text/csv",
            ResponseContentDisposition="inline", ResponseCacheControl="no-cache",
            ResponseContentLanguage="de", ResponseContentEncoding="gzip",
            ResponseExpires=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc),
        )
        assert got["ContentType"] == "text/csv" and got["ContentDisposition"] == "inline"
        assert got["CacheControl"] == "no-cache" and got["ContentLanguage"] == "de"
        assert got["ContentEncoding"] == "gzip"
        assert got["ResponseMetadata"]["HTTPHeaders"]["expires"].startswith("Tue, 01 Jan 2030")


# --- keys -------------------------------------------------------------------------------------------

ODD_KEYS = [
    "ünïcødé/ключ/键/🙂", "../../escape", "..", "a//b///c", "/leading", "trailing/", "sp ace+plus%25",
    "tab\there", "new\nline", "ctrl\x01char", "?query#frag", "k" * 1024, "é" * 512,
]


@pytest.mark.parametrize("sig", SIGS)
def test_any_key_is_stored_and_returned_exactly(endpoint, bucket, sig):
    s3 = endpoint.client(sig)
    for i, key in enumerate(ODD_KEYS):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode(), key
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(ODD_KEYS)
    # keys never become paths: nothing escaped the data dir, every stored name is opaque
    data_dir = endpoint.data_dir
    assert not (data_dir.parent / "escape").exists()
    for path in data_dir.rglob("*"):
        assert ".." not in path.name and "escape" not in str(path)


def test_key_length_limit(endpoint, bucket):
    err = _raises(endpoint.client().put_object, Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert (err["status"], err["Code"]) == (400, "KeyTooLongError")


def test_metadata_size_limit(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="m", Body=b"", Metadata={"a": "x" * 2000})
    err = _raises(s3.put_object, Bucket=bucket, Key="m", Body=b"", Metadata={"a": "x" * 1100, "b": "y" * 1100})
    assert (err["status"], err["Code"]) == (400, "MetadataTooLarge")


# --- DeleteObjects ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", SIGS)
def test_delete_objects(endpoint, bucket, sig):
    s3 = endpoint.client(sig)
    for key in ("a", "b", "c d"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "c d"}, {"Key": "missing"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["a", "c d", "missing"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["b"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_requires_a_digest_and_valid_xml(endpoint, bucket):
    body = b"<Delete><Object><Key>a</Key></Object></Delete>"
    err = error_of(endpoint.signed("POST", f"/{bucket}", query="delete=", body=body))
    assert (err["status"], err["Code"]) == (400, "InvalidRequest")
    assert err["Message"] == "Missing required header for this request: Content-MD5"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    ok = endpoint.signed("POST", f"/{bucket}", query="delete=", body=body, headers={"Content-MD5": md5})
    assert ok.status_code == 200 and b"<Deleted><Key>a</Key></Deleted>" in ok.content
    bad = b"<Delete><Object><Key>a</Key></Object>"
    md5 = base64.b64encode(hashlib.md5(bad).digest()).decode()
    err = error_of(endpoint.signed("POST", f"/{bucket}", query="delete=", body=bad, headers={"Content-MD5": md5}))
    assert (err["status"], err["Code"]) == (400, "MalformedXML")
    many = b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>"
    md5 = base64.b64encode(hashlib.md5(many).digest()).decode()
    err = error_of(endpoint.signed("POST", f"/{bucket}", query="delete=", body=many, headers={"Content-MD5": md5}))
    assert (err["status"], err["Code"]) == (400, "MalformedXML")


def test_presigned_put_then_get_with_plain_http(endpoint, bucket):
    """Our presigner's URLs, used by a plain HTTP client."""
    for sig in ("v4", "v2"):
        presigner = endpoint.presigner(sig)
        put = presigner.presign("PUT", bucket, f"plain-{sig}/ü b.txt", headers={"Content-Type": "text/plain"})
        assert httpx.put(put.url, content=b"via presigned PUT", headers=put.headers).status_code == 200
        get = presigner.presign("GET", bucket, f"plain-{sig}/ü b.txt")
        resp = httpx.get(get.url, headers=get.headers)
        assert resp.content == b"via presigned PUT" and resp.headers["content-type"] == "text/plain"
        head = presigner.presign("HEAD", bucket, f"plain-{sig}/ü b.txt")
        assert httpx.head(head.url).headers["content-length"] == str(len(b"via presigned PUT"))
        delete = presigner.presign("DELETE", bucket, f"plain-{sig}/ü b.txt")
        assert httpx.delete(delete.url).status_code == 204


def test_content_encoding_comes_back_as_sent(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="enc", Body=b"x", ContentEncoding="deflate, gzip")
    assert s3.head_object(Bucket=bucket, Key="enc")["ContentEncoding"] == "deflate, gzip"
    assert s3.get_object(Bucket=bucket, Key="enc")["ContentEncoding"] == "deflate, gzip"
