"""Bucket ACLs against the real server: canned ACLs on CreateBucket, Put/GetBucketAcl, and
each grant opening exactly what it says (legacy buckets: ACLs enabled); refused while
ACLs are disabled (current defaults: BucketOwnerEnforced)."""

from __future__ import annotations

import uuid

import httpx

from .helpers import MAIN, OTHER, error_of, refused, start_server

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def _name() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"


def test_public_read_bucket_lists_for_anyone_and_nothing_more(endpoint):
    main, other = endpoint.client(creds=MAIN), endpoint.client(creds=OTHER)
    bucket = _name()
    main.create_bucket(Bucket=bucket, ACL="public-read")
    main.put_object(Bucket=bucket, Key="k", Body=b"x")
    grants = main.get_bucket_acl(Bucket=bucket)["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in grants
    listing = httpx.get(f"{endpoint.url}/{bucket}?list-type=2")
    assert listing.status_code == 200 and b"<Key>k</Key>" in listing.content
    assert [o["Key"] for o in other.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
    # READ on the bucket is listing only: no writes, no deletes, no ACL reads
    err = error_of(httpx.put(f"{endpoint.url}/{bucket}/anon", content=b"x"))
    assert (err["status"], err["Code"]) == (403, "AccessDenied")
    assert refused(lambda: other.put_object(Bucket=bucket, Key="o", Body=b"x")) == (403, "AccessDenied")
    assert refused(lambda: other.delete_object(Bucket=bucket, Key="k")) == (403, "AccessDenied")
    assert refused(lambda: other.get_bucket_acl(Bucket=bucket)) == (403, "AccessDenied")
    # back to private: closed again
    main.put_bucket_acl(Bucket=bucket, ACL="private")
    assert error_of(httpx.get(f"{endpoint.url}/{bucket}?list-type=2"))["status"] == 403
    assert refused(lambda: other.list_objects_v2(Bucket=bucket)) == (403, "AccessDenied")


def test_grants_to_one_account(endpoint):
    main, other = endpoint.client(creds=MAIN), endpoint.client(creds=OTHER)
    bucket = _name()
    main.create_bucket(Bucket=bucket)
    other_id = other.list_buckets()["Owner"]["ID"]
    main.put_bucket_acl(Bucket=bucket, GrantWrite=f'id="{other_id}"')
    other.put_object(Bucket=bucket, Key="from-other", Body=b"x")
    assert refused(lambda: other.list_objects_v2(Bucket=bucket)) == (403, "AccessDenied")  # WRITE is not READ
    assert error_of(httpx.put(f"{endpoint.url}/{bucket}/anon", content=b"x"))["status"] == 403
    assert refused(lambda: main.put_bucket_acl(Bucket=bucket, GrantRead='id="' + "0" * 64 + '"'))[0] == 400


def test_public_read_write_takes_anonymous_writes(endpoint):
    main = endpoint.client(creds=MAIN)
    bucket = _name()
    main.create_bucket(Bucket=bucket, ACL="public-read-write")
    resp = httpx.put(f"{endpoint.url}/{bucket}/anon", content=b"anonymous bytes",
                     headers={"x-amz-acl": "bucket-owner-full-control"})
    assert resp.status_code == 200, resp.text
    assert main.get_object(Bucket=bucket, Key="anon")["Body"].read() == b"anonymous bytes"
    # under ObjectWriter an anonymous upload is not the bucket owner's to read, only to delete
    assert httpx.put(f"{endpoint.url}/{bucket}/ungranted", content=b"x").status_code == 200
    assert refused(lambda: main.get_object(Bucket=bucket, Key="ungranted")) == (403, "AccessDenied")
    main.delete_object(Bucket=bucket, Key="ungranted")


def test_acls_disabled_under_current_defaults(tmp_path):
    server = start_server(tmp_path / "data", "--new-bucket-defaults", "current")
    try:
        s3 = server.client()
        assert refused(lambda: s3.create_bucket(Bucket=_name(), ACL="public-read")) == (
            400, "InvalidBucketAclWithObjectOwnership")
        bucket = _name()
        s3.create_bucket(Bucket=bucket)
        assert refused(lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read")) == (
            400, "AccessControlListNotSupported")
        grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]
    finally:
        server.stop()


def test_object_acls_set_at_write(endpoint):
    main, other = endpoint.client(creds=MAIN), endpoint.client(creds=OTHER)
    bucket = _name()
    main.create_bucket(Bucket=bucket)
    main.put_object(Bucket=bucket, Key="public", Body=b"for all", ACL="public-read")
    main.put_object(Bucket=bucket, Key="private", Body=b"mine")
    assert httpx.get(f"{endpoint.url}/{bucket}/public").content == b"for all"
    assert error_of(httpx.get(f"{endpoint.url}/{bucket}/private"))["status"] == 403
    grants = main.get_object_acl(Bucket=bucket, Key="public")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in grants
    assert other.get_object(Bucket=bucket, Key="public")["Body"].read() == b"for all"
    assert refused(lambda: other.get_object(Bucket=bucket, Key="private")) == (403, "AccessDenied")
    # a copy takes the ACL its own request names, not its source's
    main.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "public"})
    assert error_of(httpx.get(f"{endpoint.url}/{bucket}/copied"))["status"] == 403


def test_object_writer_owns_what_it_writes(endpoint):
    """ObjectWriter (legacy): another account's upload is its own unless it grants the bucket owner."""
    main, other = endpoint.client(creds=MAIN), endpoint.client(creds=OTHER)
    bucket = _name()
    main.create_bucket(Bucket=bucket)
    main.put_bucket_acl(Bucket=bucket, GrantWrite=f'id="{other.list_buckets()["Owner"]["ID"]}"',
                        GrantFullControl=f'id="{main.list_buckets()["Owner"]["ID"]}"')
    other.put_object(Bucket=bucket, Key="theirs", Body=b"x")
    other.put_object(Bucket=bucket, Key="shared", Body=b"y", ACL="bucket-owner-full-control")
    assert other.get_object(Bucket=bucket, Key="theirs")["Body"].read() == b"x"
    assert refused(lambda: main.get_object(Bucket=bucket, Key="theirs")) == (403, "AccessDenied")
    assert main.get_object(Bucket=bucket, Key="shared")["Body"].read() == b"y"
    owner = other.get_object_acl(Bucket=bucket, Key="theirs")["Owner"]["ID"]
    assert owner == other.list_buckets()["Owner"]["ID"]


def test_object_acls_refused_while_acls_are_disabled(tmp_path):
    server = start_server(tmp_path / "data", "--new-bucket-defaults", "current")
    try:
        s3 = server.client()
        bucket = _name()
        s3.create_bucket(Bucket=bucket)
        assert refused(lambda: s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="public-read")) == (
            400, "AccessControlListNotSupported")
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
        assert error_of(httpx.get(f"{server.url}/{bucket}/k"))["status"] == 403
    finally:
        server.stop()
