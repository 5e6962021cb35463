"""Versioning as on S3, driven with boto3: Put/GetBucketVersioning, version ids,
delete markers, GET/HEAD/DELETE/CopySource with versionId, ListObjectVersions
and its paging markers, the null version, in every SSE mode; and the way
tools empty a bucket (ListObjectVersions + DeleteObjects with VersionId)."""

from __future__ import annotations

import os

import botocore.exceptions
import pytest

from .helpers import client_error

SSE_C_KEY = os.urandom(32)
MODES = {
    "none": {},
    "s3": {"ServerSideEncryption": "AES256"},
    "kms": {"ServerSideEncryption": "aws:kms"},
    "dsse": {"ServerSideEncryption": "aws:kms:dsse"},
    "c": {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSE_C_KEY},
}


def _read_args(mode: str) -> dict:
    return {k: v for k, v in MODES[mode].items() if k.startswith("SSECustomer")}


def _error(call, **kwargs) -> dict:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(**kwargs)
    return {**client_error(info.value), "headers": info.value.response["ResponseMetadata"]["HTTPHeaders"]}


def _enable(s3, bucket: str, status: str = "Enabled") -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def test_never_versioned_bucket(endpoint, bucket):
    s3 = endpoint.client()
    got = s3.get_bucket_versioning(Bucket=bucket)
    assert "Status" not in got and "MFADelete" not in got
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    assert "VersionId" not in put
    assert "VersionId" not in s3.get_object(Bucket=bucket, Key="k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")  # replaces the null version
    versions = s3.list_object_versions(Bucket=bucket)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions["Versions"]] == [("k", "null", True)]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"two"
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert "DeleteMarker" not in deleted
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)


def test_bad_versioning_configuration(endpoint, bucket):
    s3 = endpoint.client()
    err = _error(s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration={"Status": "On"})
    assert (err["status"], err["Code"]) == (400, "IllegalVersioningConfigurationException")
    err = _error(s3.get_object, Bucket=bucket, Key="k", VersionId="not a version")
    assert (err["status"], err["Code"]) == (400, "InvalidArgument")


@pytest.mark.parametrize("mode", list(MODES))
def test_versions_delete_markers_in_every_sse_mode(endpoint, bucket, mode):
    s3 = endpoint.client()
    _enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    extra, read = MODES[mode], _read_args(mode)
    v1 = s3.put_object(Bucket=bucket, Key="doc", Body=b"first", **extra)["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="doc", Body=b"second", **extra)["VersionId"]
    assert v1 != v2 and len(v1) == 32
    latest = s3.get_object(Bucket=bucket, Key="doc", **read)
    assert latest["Body"].read() == b"second" and latest["VersionId"] == v2
    old = s3.get_object(Bucket=bucket, Key="doc", VersionId=v1, **read)
    assert old["Body"].read() == b"first" and old["VersionId"] == v1
    assert s3.head_object(Bucket=bucket, Key="doc", VersionId=v1, **read)["ContentLength"] == 5
    if mode == "c":  # every version needs its key
        assert _error(s3.get_object, Bucket=bucket, Key="doc", VersionId=v1)["status"] == 400

    marker = s3.delete_object(Bucket=bucket, Key="doc")
    assert marker["DeleteMarker"] is True and marker["VersionId"] not in (v1, v2)
    err = _error(s3.get_object, Bucket=bucket, Key="doc", **read)
    assert (err["status"], err["Code"]) == (404, "NoSuchKey")
    assert err["headers"]["x-amz-delete-marker"] == "true"
    err = _error(s3.head_object, Bucket=bucket, Key="doc", VersionId=marker["VersionId"])
    assert err["status"] == 405 and err["headers"]["x-amz-delete-marker"] == "true"
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    listed = s3.list_object_versions(Bucket=bucket)
    assert [(v["VersionId"], v["IsLatest"], v["Size"]) for v in listed["Versions"]] == [(v2, False, 6), (v1, False, 5)]
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [(marker["VersionId"], True)]

    # removing the marker brings the newest version back; removing a version is permanent
    removed = s3.delete_object(Bucket=bucket, Key="doc", VersionId=marker["VersionId"])
    assert removed["DeleteMarker"] is True and removed["VersionId"] == marker["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="doc", **read)["Body"].read() == b"second"
    s3.delete_object(Bucket=bucket, Key="doc", VersionId=v2)
    assert s3.get_object(Bucket=bucket, Key="doc", **read)["Body"].read() == b"first"
    err = _error(s3.get_object, Bucket=bucket, Key="doc", VersionId=v2, **read)
    assert (err["status"], err["Code"]) == (404, "NoSuchVersion")


def test_suspended_bucket_writes_the_null_version(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="k", Body=b"before versioning")  # null
    _enable(s3, bucket)
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    _enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"suspended one")
    assert put["VersionId"] == "null"
    s3.put_object(Bucket=bucket, Key="k", Body=b"suspended two")  # replaces the null version only
    listed = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [("null", True), (kept, False)]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"suspended two"
    marker = s3.delete_object(Bucket=bucket, Key="k")  # the null version becomes a null delete marker
    assert marker["DeleteMarker"] is True and marker["VersionId"] == "null"
    listed = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listed["Versions"]] == [kept]
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == ["null"]


def test_copy_from_a_version(endpoint, bucket):
    s3 = endpoint.client()
    _enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="src", Body=b"v1 bytes")["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"v2 bytes")
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": v1})
    assert copied["CopySourceVersionId"] == v1 and copied["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"v1 bytes"
    # a copy of an older version onto its own key restores it as the newest
    s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src", "VersionId": v1})
    assert s3.get_object(Bucket=bucket, Key="src")["Body"].read() == b"v1 bytes"
    assert len(s3.list_object_versions(Bucket=bucket, Prefix="src")["Versions"]) == 3


def test_list_object_versions_pages(endpoint, bucket):
    s3 = endpoint.client()
    _enable(s3, bucket)
    expected = []
    for key in ("a", "b/1", "b/2", "c"):
        ids = [s3.put_object(Bucket=bucket, Key=key, Body=key.encode() * n)["VersionId"] for n in (1, 2, 3)]
        expected += [(key, v) for v in reversed(ids)]  # newest first within a key
    s3.delete_object(Bucket=bucket, Key="c")
    seen, kwargs = [], {}
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=2, **kwargs)
        entries = sorted(page.get("Versions", []) + page.get("DeleteMarkers", []),
                         key=lambda e: (e["Key"], -e["LastModified"].timestamp()))
        assert len(entries) <= 2
        seen += [(e["Key"], e["VersionId"]) for e in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    assert seen == expected
    rolled = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["b/"]
    assert {v["Key"] for v in rolled["Versions"]} == {"a", "c"}
    assert [v["Key"] for v in s3.list_object_versions(Bucket=bucket, Prefix="b/")["Versions"]] == ["b/1"] * 3 + ["b/2"] * 3


def test_emptying_a_bucket_as_s3_tests_and_tools_do(endpoint, bucket):
    s3 = endpoint.client()
    _enable(s3, bucket)
    for n in range(5):
        s3.put_object(Bucket=bucket, Key=f"k{n % 2}", Body=b"x" * n)
    s3.delete_object(Bucket=bucket, Key="k0")
    err = _error(s3.delete_bucket, Bucket=bucket)
    assert err["Code"] == "BucketNotEmpty"
    # ceph/s3-tests' nuke_bucket: list every version and marker, delete them by VersionId
    listed = s3.list_object_versions(Bucket=bucket)
    doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
              for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]
    assert len(doomed) == 6
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed})
    assert len(result["Deleted"]) == 6 and "Errors" not in result
    assert sum(1 for d in result["Deleted"] if d.get("DeleteMarker")) == 1
    assert not s3.list_object_versions(Bucket=bucket).get("Versions")
    s3.delete_bucket(Bucket=bucket)


def test_delete_objects_without_version_makes_markers(endpoint, bucket):
    s3 = endpoint.client()
    _enable(s3, bucket)
    s3.put_object(Bucket=bucket, Key="x", Body=b"x")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "x"}, {"Key": "never"}]})
    assert all(d["DeleteMarker"] and d["DeleteMarkerVersionId"] for d in result["Deleted"])
    assert len(s3.list_object_versions(Bucket=bucket)["DeleteMarkers"]) == 2


def test_multipart_upload_makes_a_version(endpoint, bucket):
    s3 = endpoint.client()
    _enable(s3, bucket)
    first = s3.put_object(Bucket=bucket, Key="mp", Body=b"small")["VersionId"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"part")["ETag"]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert done["VersionId"] not in (None, first)
    again = s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload,
                                         MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert (again["ETag"], again["VersionId"]) == (done["ETag"], done["VersionId"])
    assert s3.get_object(Bucket=bucket, Key="mp", VersionId=first)["Body"].read() == b"small"
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"part"


def test_the_null_version_is_named_once_the_bucket_has_had_versioning(endpoint, bucket):
    """S3 answers x-amz-version-id: null for the null version of a bucket that is (or
    was) versioned, on GET and HEAD, with and without ?versionId=null; a bucket that
    never had versioning names no version."""
    s3 = endpoint.client()
    s3.put_object(Bucket=bucket, Key="old", Body=b"written before versioning")  # the null version
    for call in (s3.get_object, s3.head_object):
        assert "VersionId" not in call(Bucket=bucket, Key="old")
    _enable(s3, bucket)
    for call in (s3.get_object, s3.head_object):
        assert call(Bucket=bucket, Key="old")["VersionId"] == "null"
        assert call(Bucket=bucket, Key="old", VersionId="null")["VersionId"] == "null"
    assert s3.get_object(Bucket=bucket, Key="old")["Body"].read() == b"written before versioning"
    _enable(s3, bucket, "Suspended")
    s3.put_object(Bucket=bucket, Key="new", Body=b"written while suspended")
    for call in (s3.get_object, s3.head_object):
        assert call(Bucket=bucket, Key="new")["VersionId"] == "null"
        assert call(Bucket=bucket, Key="old")["VersionId"] == "null"
    headers = s3.head_object(Bucket=bucket, Key="new")["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-version-id"] == "null"
