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


# --- configured accounts (aws_account_id, canonical_user_id, display_name) -------------

ALICE = ("AKIDALICE0000000", "alice/secret")
ALICE2 = ("AKIDALICETWO0000", "alice-two/secret")   # a second user of Alice's account
BOB = ("AKIDBOB000000000", "bob/secret")
BOB_ID = "b0b" + "0" * 61
ACCOUNTS_FILE = f"""
[alice]
aws_access_key_id = {ALICE[0]}
aws_secret_access_key = {ALICE[1]}
aws_account_id = 111122223333
display_name = Alice Example

[alice-ci]
aws_access_key_id = {ALICE2[0]}
aws_secret_access_key = {ALICE2[1]}
aws_account_id = 111122223333

[bob]
aws_access_key_id = {BOB[0]}
aws_secret_access_key = {BOB[1]}
canonical_user_id = {BOB_ID}
display_name = bob
"""


def _serve_with(tmp_path, text: str, name: str = "data"):
    from .helpers import start_server

    creds = tmp_path / f"{name}-accounts.ini"
    creds.write_text(text)
    return start_server(tmp_path / name, "--credentials", str(creds), credentials=False)


def test_configured_accounts_show_in_owner_elements_and_acls(tmp_path):
    server = _serve_with(tmp_path, ACCOUNTS_FILE)
    try:
        alice, alice2, bob = (server.client(creds=c) for c in (ALICE, ALICE2, BOB))
        owner = alice.list_buckets()["Owner"]
        assert owner["DisplayName"] == "Alice Example" and len(owner["ID"]) == 64
        assert bob.list_buckets()["Owner"] == {"ID": BOB_ID, "DisplayName": "bob"}
        bucket = f"t-{uuid.uuid4().hex[:16]}"
        alice.create_bucket(Bucket=bucket)
        alice.put_object(Bucket=bucket, Key="k", Body=BODY)
        # one account, two users: the same owner, the same buckets
        assert alice2.list_buckets()["Owner"]["ID"] == owner["ID"]
        assert [b["Name"] for b in alice2.list_buckets()["Buckets"]] == [bucket]
        assert alice2.get_object(Bucket=bucket, Key="k")["Body"].read() == BODY
        # another account: nothing until a grant names its canonical id
        _refused(lambda: bob.get_object(Bucket=bucket, Key="k"))
        alice.put_object_acl(Bucket=bucket, Key="k", GrantRead=f'id="{BOB_ID}"')
        acl = alice.get_object_acl(Bucket=bucket, Key="k")
        assert acl["Owner"] == owner
        assert {"Grantee": {"Type": "CanonicalUser", "ID": BOB_ID, "DisplayName": "bob"}, "Permission": "READ"} \
            in acl["Grants"]
        assert bob.get_object(Bucket=bucket, Key="k")["Body"].read() == BODY
        assert alice.get_bucket_acl(Bucket=bucket)["Owner"] == owner
        # x-amz-expected-bucket-owner takes the account id
        assert alice.head_bucket(Bucket=bucket, ExpectedBucketOwner="111122223333")
        _refused(lambda: alice.get_bucket_acl(Bucket=bucket, ExpectedBucketOwner="999999999999"))
    finally:
        server.stop()
    # stable across restarts, and a renamed display name shows on existing buckets and ACLs
    renamed = ACCOUNTS_FILE.replace("display_name = Alice Example", "display_name = Alice B. Example")
    creds = tmp_path / "data-accounts.ini"
    creds.write_text(renamed)
    from .helpers import start_server

    server = start_server(tmp_path / "data", "--credentials", str(creds), credentials=False)
    try:
        alice = server.client(creds=ALICE)
        assert alice.list_buckets()["Owner"] == {"ID": owner["ID"], "DisplayName": "Alice B. Example"}
        assert alice.get_bucket_acl(Bucket=bucket)["Owner"]["DisplayName"] == "Alice B. Example"
        assert alice.get_object_acl(Bucket=bucket, Key="k")["Owner"]["DisplayName"] == "Alice B. Example"
    finally:
        server.stop()


@pytest.mark.parametrize("line, setting, message", [
    ("display_name = bob", "aws_account_id = 12345", "must be 12 digits"),
    (f"canonical_user_id = {BOB_ID}", "canonical_user_id = xyz", "64 lower-case hex"),
    ("display_name = Alice Example", f"canonical_user_id = {BOB_ID}", "two accounts"),
    ("display_name = bob", "display_name = " + "x" * 200, "display_name must be"),
])
def test_bad_account_settings_are_refused_at_start(tmp_path, line, setting, message):
    import subprocess
    import sys

    creds = tmp_path / "bad.ini"
    creds.write_text(ACCOUNTS_FILE.replace(line, setting))
    out = subprocess.run([sys.executable, "-m", "s3presign", "serve", "--port", "0", "--data-dir", str(tmp_path / "d"),
                          "--credentials", str(creds)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert message in out.stderr, out.stderr
