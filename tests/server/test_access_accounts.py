"""Accounts and ownership against the real server: each user of the credentials file is
an account; a bucket belongs to its creator; nobody else gets in without a grant."""

from __future__ import annotations

import uuid

import httpx
import pytest
from botocore.exceptions import ClientError

from .helpers import MAIN, OTHER, client_error, error_of

BODY = b"owned bytes"


def _refused(call, code: str = "AccessDenied", status: int = 403) -> None:
    with pytest.raises(ClientError) as exc:
        call()
    err = client_error(exc.value)
    assert (err["status"], err["Code"]) == (status, code), err


@pytest.fixture
def two(endpoint):
    """(main's client, other's client, main's bucket with an object, other's bucket)."""
    main, other = endpoint.client(creds=MAIN), endpoint.client(creds=OTHER)
    mine, theirs = f"t-{uuid.uuid4().hex[:16]}", f"t-{uuid.uuid4().hex[:16]}"
    main.create_bucket(Bucket=mine)
    other.create_bucket(Bucket=theirs)
    main.put_object(Bucket=mine, Key="k", Body=BODY)
    other.put_object(Bucket=theirs, Key="k", Body=BODY)
    return main, other, mine, theirs


def test_list_buckets_shows_only_the_callers_buckets(two):
    main, other, mine, theirs = two
    main_names = {b["Name"] for b in main.list_buckets()["Buckets"]}
    other_names = {b["Name"] for b in other.list_buckets()["Buckets"]}
    assert mine in main_names and theirs not in main_names
    assert theirs in other_names and mine not in other_names
    assert main.list_buckets()["Owner"]["ID"] != other.list_buckets()["Owner"]["ID"]


@pytest.mark.parametrize("direction", ["main->other", "other->main"])
def test_neither_user_can_touch_the_others_bucket(two, direction):
    main, other, mine, theirs = two
    me, target = (main, theirs) if direction == "main->other" else (other, mine)
    own = mine if me is main else theirs
    _refused(lambda: me.list_objects_v2(Bucket=target))
    _refused(lambda: me.list_objects(Bucket=target))
    _refused(lambda: me.get_object(Bucket=target, Key="k"))
    _refused(lambda: me.head_object(Bucket=target, Key="k"), code="403")
    _refused(lambda: me.put_object(Bucket=target, Key="new", Body=b"x"))
    _refused(lambda: me.delete_object(Bucket=target, Key="k"))
    _refused(lambda: me.copy_object(Bucket=own, Key="stolen", CopySource={"Bucket": target, "Key": "k"}))
    _refused(lambda: me.copy_object(Bucket=target, Key="pushed", CopySource={"Bucket": own, "Key": "k"}))
    _refused(lambda: me.create_multipart_upload(Bucket=target, Key="mp"))
    _refused(lambda: me.get_bucket_encryption(Bucket=target))
    _refused(lambda: me.put_bucket_versioning(Bucket=target, VersioningConfiguration={"Status": "Enabled"}))
    _refused(lambda: me.delete_bucket(Bucket=target))
    _refused(lambda: me.create_bucket(Bucket=target), code="BucketAlreadyExists", status=409)
    # DeleteObjects reports the refusal per key, and deletes nothing
    result = me.delete_objects(Bucket=target, Delete={"Objects": [{"Key": "k"}]})
    assert [e["Code"] for e in result["Errors"]] == ["AccessDenied"] and not result.get("Deleted")
    # everything is still there, for its owner
    owner = other if me is main else main
    assert owner.get_object(Bucket=target, Key="k")["Body"].read() == BODY
    assert [o["Key"] for o in owner.list_objects_v2(Bucket=target)["Contents"]] == ["k"]
    assert me.list_objects_v2(Bucket=own)["KeyCount"] == 1  # its own still works


def test_pre_signed_urls_carry_their_signers_rights(endpoint, two):
    main, other, mine, theirs = two
    stolen = endpoint.presigner(creds=OTHER).presign("GET", mine, "k", expires_in=300)
    err = error_of(httpx.get(stolen.url, headers=stolen.headers))
    assert (err["status"], err["Code"]) == (403, "AccessDenied")
    own = endpoint.presigner(creds=MAIN).presign("GET", mine, "k", expires_in=300)
    assert httpx.get(own.url, headers=own.headers).content == BODY


def test_anonymous_requests_reach_authorization_and_are_refused(endpoint, two):
    main, other, mine, theirs = two
    for method, path in (("GET", f"/{mine}/k"), ("PUT", f"/{mine}/anon"), ("GET", f"/{mine}"),
                         ("DELETE", f"/{mine}/k"), ("GET", "/")):
        resp = httpx.request(method, f"{endpoint.url}{path}", content=b"x" if method == "PUT" else None)
        err = error_of(resp)
        assert (err["status"], err["Code"], err["Message"]) == (403, "AccessDenied", "Access Denied"), (method, path)
    # a bucket that does not exist is S3's 404, for anyone
    err = error_of(httpx.get(f"{endpoint.url}/no-such-{uuid.uuid4().hex[:8]}/k"))
    assert (err["status"], err["Code"]) == (404, "NoSuchBucket")
    assert main.get_object(Bucket=mine, Key="k")["Body"].read() == BODY
