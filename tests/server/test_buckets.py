"""Bucket operations and listings, with boto3 (SigV4 and SigV2)."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from .helpers import Endpoint, client_error, error_of

SIGS = ["s3v4", "s3"]


def _raises(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return client_error(info.value)


def _name() -> str:
    return f"b-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize("sig", SIGS)
def test_bucket_lifecycle(endpoint: Endpoint, sig: str):
    s3 = endpoint.client(sig)
    name = _name()
    created = s3.create_bucket(Bucket=name)
    assert created["Location"] == f"/{name}"
    listed = s3.list_buckets()
    assert name in [b["Name"] for b in listed["Buckets"]]
    assert len(listed["Owner"]["ID"]) == 64
    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    err = _raises(s3.delete_bucket, Bucket=name)
    assert (err["status"], err["Code"]) == (409, "BucketNotEmpty")
    assert err["Message"] == "The bucket you tried to delete is not empty"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    assert _raises(s3.head_bucket, Bucket=name)["status"] == 404
    err = _raises(s3.delete_bucket, Bucket=name)
    assert (err["status"], err["Code"]) == (404, "NoSuchBucket")


def test_create_bucket_rules_in_us_east_1(endpoint):
    s3 = endpoint.client()
    name = _name()
    s3.create_bucket(Bucket=name)
    s3.create_bucket(Bucket=name)  # us-east-1 answers 200 to re-creating your own bucket
    err = _raises(s3.create_bucket, Bucket=_name(), CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert (err["status"], err["Code"]) == (400, "IllegalLocationConstraintException")
    assert err["Message"] == (
        "The eu-west-1 location constraint is incompatible for the region specific endpoint this request was sent to."
    )
    err = _raises(s3.create_bucket, Bucket=_name(), CreateBucketConfiguration={"LocationConstraint": "us-east-1"})
    assert (err["status"], err["Code"]) == (400, "InvalidLocationConstraint")
    for bad in ("ab", "UPPER", "under_score", "a..b", "192.168.1.1", "-start", "x" * 64):
        err = error_of(endpoint.signed("PUT", f"/{bad}"))
        assert (err["status"], err["Code"]) == (400, "InvalidBucketName"), bad


def test_create_bucket_rules_in_another_region(strict_endpoint: Endpoint):
    s3 = strict_endpoint.client()
    name = _name()
    err = _raises(s3.create_bucket, Bucket=name)
    assert (err["status"], err["Code"]) == (400, "IllegalLocationConstraintException")
    assert err["Message"].startswith("The unspecified location constraint is incompatible")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-central-1"
    err = _raises(s3.create_bucket, Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    assert (err["status"], err["Code"]) == (409, "BucketAlreadyOwnedByYou")


def test_create_bucket_malformed_xml(endpoint):
    err = error_of(endpoint.signed("PUT", f"/{_name()}", body=b"<CreateBucketConfiguration><Loc"))
    assert (err["status"], err["Code"]) == (400, "MalformedXML")


# --- listings -------------------------------------------------------------------------------------

KEYS = ["a.txt", "b/1", "b/2", "b/c/3", "c d/4", "d+e", "z"]


@pytest.fixture
def listing(endpoint, bucket) -> str:
    s3 = endpoint.client()
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


@pytest.mark.parametrize("sig", SIGS)
def test_list_v2_prefix_delimiter(endpoint, listing, sig):
    s3 = endpoint.client(sig)
    everything = s3.list_objects_v2(Bucket=listing)
    assert [o["Key"] for o in everything["Contents"]] == KEYS
    assert everything["KeyCount"] == len(KEYS) and not everything["IsTruncated"]
    first = everything["Contents"][0]
    assert first["Size"] == len(b"a.txt") and first["StorageClass"] == "STANDARD" and first["ETag"].startswith('"')
    grouped = s3.list_objects_v2(Bucket=listing, Delimiter="/")
    assert [o["Key"] for o in grouped["Contents"]] == ["a.txt", "d+e", "z"]
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["b/", "c d/"]
    nested = s3.list_objects_v2(Bucket=listing, Prefix="b/", Delimiter="/")
    assert [o["Key"] for o in nested["Contents"]] == ["b/1", "b/2"]
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["b/c/"]
    after = s3.list_objects_v2(Bucket=listing, StartAfter="b/2")
    assert [o["Key"] for o in after["Contents"]] == ["b/c/3", "c d/4", "d+e", "z"]
    assert "Owner" not in everything["Contents"][0]
    owned = s3.list_objects_v2(Bucket=listing, FetchOwner=True)
    assert "ID" in owned["Contents"][0]["Owner"]


def test_list_v2_pagination(endpoint, listing):
    s3 = endpoint.client()
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=listing, MaxKeys=2, Delimiter="/", **kwargs)
        pages += 1
        seen += [o["Key"] for o in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert page["KeyCount"] <= 2
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert sorted(seen) == ["a.txt", "b/", "c d/", "d+e", "z"] and pages == 3
    paginated = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=listing, PaginationConfig={"PageSize": 3}) for o in p["Contents"]]
    assert paginated == KEYS


def test_list_v2_encoding_type_url(endpoint, bucket):
    weird = ["sp ace", "plus+", "percent%", "ctrl\x01", "é/ü"]
    s3 = endpoint.client()
    for key in weird:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    raw = endpoint.signed("GET", f"/{bucket}", query="list-type=2&encoding-type=url")
    assert b"<EncodingType>url</EncodingType>" in raw.content and b"ctrl%01" in raw.content
    # boto3 asks for url encoding and decodes it: the keys come back exactly
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == sorted(weird)


def test_list_v1(endpoint, listing):
    for sig in SIGS:
        page = endpoint.client(sig).list_objects(Bucket=listing, Delimiter="/", MaxKeys=2)
        assert page["IsTruncated"] and page["NextMarker"] == "b/"
        rest = endpoint.client(sig).list_objects(Bucket=listing, Delimiter="/", Marker=page["NextMarker"])
        assert [o["Key"] for o in rest["Contents"]] == ["d+e", "z"]
        assert "Owner" in rest["Contents"][0]


def test_list_argument_errors(endpoint, listing):
    for query, code in (("list-type=2&max-keys=-1", "InvalidArgument"), ("list-type=2&max-keys=abc", "InvalidArgument"),
                        ("list-type=2&encoding-type=base64", "InvalidArgument"),
                        ("list-type=2&continuation-token=%21%21", "InvalidArgument")):
        err = error_of(endpoint.signed("GET", f"/{listing}", query=query))
        assert (err["status"], err["Code"]) == (400, code), query
    empty = endpoint.client().list_objects_v2(Bucket=listing, MaxKeys=0)
    assert empty["KeyCount"] == 0 and "Contents" not in empty


# --- default encryption --------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", SIGS)
def test_bucket_encryption_configuration(endpoint, bucket, sig):
    s3 = endpoint.client(sig)
    if sig == "s3":  # SigV2 cannot sign ?encryption, so S3 refuses it under SigV2
        err = _raises(s3.get_bucket_encryption, Bucket=bucket)
        assert (err["status"], err["Code"]) == (400, "InvalidRequest")
        return
    default = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert default["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["BucketKeyEnabled"] is True
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert put["ServerSideEncryption"] == "AES256"
    s3.delete_bucket_encryption(Bucket=bucket)
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule.get("BucketKeyEnabled") is False


def test_bucket_kms_default_applies_to_objects(endpoint, bucket):
    s3 = endpoint.client()
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"kms by default")
    assert put["ServerSideEncryption"] == "aws:kms" and put["SSEKMSKeyId"].startswith("arn:aws:kms:")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"kms by default"
    err = _raises(endpoint.client("s3").get_object, Bucket=bucket, Key="k")  # SigV2 cannot read KMS objects
    assert (err["status"], err["Code"]) == (400, "InvalidArgument")


def test_bucket_encryption_malformed(endpoint, bucket):
    import base64
    import hashlib

    body = b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    err = error_of(endpoint.signed("PUT", f"/{bucket}", query="encryption=", body=body, headers={"Content-MD5": md5}))
    assert (err["status"], err["Code"]) == (400, "MalformedXML")
