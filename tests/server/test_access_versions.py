"""Per-version ACLs and tags against the real server: PutObjectAcl (canned, grant headers,
XML body) and Put/Get/DeleteObjectTagging, each on the current version or on
``?versionId=``; the policy keys s3:RequestObjectTag/<key>, s3:RequestObjectTagKeys and
s3:ExistingObjectTag/<key>; GET of a missing key (404 for who may list, 403 for others);
x-amz-expected-bucket-owner; copy sources read on their object's ACL."""

from __future__ import annotations

import json
import uuid

import httpx

from .helpers import MAIN, OTHER, error_of, refused

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def _name() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"


def _tags(resp) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resp["TagSet"]}


def _versioned(endpoint) -> tuple[str, str, str]:
    """A versioned bucket with key "k" in two versions: (bucket, old, new)."""
    s3 = endpoint.client()
    bucket = _name()
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"old")["VersionId"]
    new = s3.put_object(Bucket=bucket, Key="k", Body=b"new")["VersionId"]
    return bucket, old, new


def test_object_acl_per_version(endpoint):
    s3 = endpoint.client()
    bucket, old, new = _versioned(endpoint)
    resp = s3.put_object_acl(Bucket=bucket, Key="k", VersionId=old, ACL="public-read")
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-version-id"] == old
    grants = s3.get_object_acl(Bucket=bucket, Key="k", VersionId=old)["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in grants
    assert all(g["Grantee"].get("URI") != ALL_USERS for g in s3.get_object_acl(Bucket=bucket, Key="k")["Grants"])
    # the grant opens exactly that version to anyone
    assert httpx.get(f"{endpoint.url}/{bucket}/k?versionId={old}").content == b"old"
    assert error_of(httpx.get(f"{endpoint.url}/{bucket}/k"))["status"] == 403
    # the current version, and the body's data is unchanged by the ACL write
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert httpx.get(f"{endpoint.url}/{bucket}/k").content == b"new"
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=old)["Body"].read() == b"old"
    assert refused(lambda: s3.put_object_acl(Bucket=bucket, Key="k", VersionId="nosuchversion", ACL="private"))[0] in (400, 404)


def test_object_acl_grant_headers_and_xml_body(endpoint, bucket):
    main, other = endpoint.client(creds=MAIN), endpoint.client(creds=OTHER)
    main.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert refused(lambda: other.get_object(Bucket=bucket, Key="k")) == (403, "AccessDenied")
    other_id = other.list_buckets()["Owner"]["ID"]
    main.put_object_acl(Bucket=bucket, Key="k", GrantRead=f'id="{other_id}"')
    assert other.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    assert refused(lambda: other.get_object_acl(Bucket=bucket, Key="k")) == (403, "AccessDenied")  # READ is not READ_ACP
    acl = main.get_object_acl(Bucket=bucket, Key="k")
    owner = acl["Owner"]
    # the XML body: READ_ACP only, READ taken away
    main.put_object_acl(Bucket=bucket, Key="k", AccessControlPolicy={"Owner": owner, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "CanonicalUser", "ID": other_id}, "Permission": "READ_ACP"}]})
    assert refused(lambda: other.get_object(Bucket=bucket, Key="k")) == (403, "AccessDenied")
    perms = {(g["Grantee"].get("ID"), g["Permission"]) for g in other.get_object_acl(Bucket=bucket, Key="k")["Grants"]}
    assert perms == {(owner["ID"], "FULL_CONTROL"), (other_id, "READ_ACP")}
    # WRITE_ACP is needed to change it; a canned ACL and grants together are refused
    assert refused(lambda: other.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")) == (403, "AccessDenied")
    assert refused(lambda: main.put_object_acl(Bucket=bucket, Key="k", ACL="private", GrantRead=f'id="{other_id}"'))[0] == 400
    assert refused(lambda: main.put_object_acl(Bucket=bucket, Key="nokey", ACL="private")) == (404, "NoSuchKey")


def test_object_acl_refused_while_acls_are_disabled(endpoint):
    s3 = endpoint.client()
    bucket = _name()
    s3.create_bucket(Bucket=bucket, ObjectOwnership="BucketOwnerEnforced")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert refused(lambda: s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")) == \
        (400, "AccessControlListNotSupported")


def test_object_tagging_per_version(endpoint):
    s3 = endpoint.client()
    bucket, old, new = _versioned(endpoint)
    resp = s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=old,
                                 Tagging={"TagSet": [{"Key": "era", "Value": "old"}]})
    assert resp["VersionId"] == old
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "era", "Value": "new"},
                                                                     {"Key": "x", "Value": ""}]})
    assert _tags(s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=old)) == {"era": "old"}
    current = s3.get_object_tagging(Bucket=bucket, Key="k")
    assert _tags(current) == {"era": "new", "x": ""} and current["VersionId"] == new
    head = s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"]
    assert head["x-amz-tagging-count"] == "2"
    resp = s3.delete_object_tagging(Bucket=bucket, Key="k", VersionId=old)
    assert resp["VersionId"] == old and resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert _tags(s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=old)) == {}
    assert _tags(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"era": "new", "x": ""}
    # S3's limits and errors
    many = {"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]}
    assert refused(lambda: s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=many))[0] == 400
    assert _tags(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"era": "new", "x": ""}
    assert refused(lambda: s3.put_object_tagging(Bucket=bucket, Key="none", Tagging={"TagSet": []})) == (404, "NoSuchKey")
    # the body is unchanged by tagging
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"new"


def test_object_tagging_needs_the_object_owner(endpoint, bucket):
    main, other = endpoint.client(creds=MAIN), endpoint.client(creds=OTHER)
    main.put_object(Bucket=bucket, Key="k", Body=b"x")
    tagset = {"TagSet": [{"Key": "a", "Value": "b"}]}
    assert refused(lambda: other.put_object_tagging(Bucket=bucket, Key="k", Tagging=tagset)) == (403, "AccessDenied")
    assert refused(lambda: other.delete_object_tagging(Bucket=bucket, Key="k")) == (403, "AccessDenied")
    assert refused(lambda: other.get_object_tagging(Bucket=bucket, Key="k")) == (403, "AccessDenied")
    # a malformed body from someone without access is still 403, not an XML error
    r = endpoint.signed("PUT", f"/{bucket}/k", query="tagging", body=b"<nope", creds=OTHER)
    assert error_of(r)["status"] == 403


def _policy(s3, bucket: str, *statements: dict) -> None:
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


def test_request_object_tag_conditions(endpoint, bucket):
    main, other = endpoint.client(creds=MAIN), endpoint.client(creds=OTHER)
    _policy(main, bucket,
            {"Effect": "Deny", "Principal": "*", "Action": ["s3:PutObject", "s3:PutObjectTagging"],
             "Resource": f"arn:aws:s3:::{bucket}/*",
             "Condition": {"StringNotEquals": {"s3:RequestObjectTag/project": "apollo"}}},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*",
             "Condition": {"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["secret"]}}})
    assert refused(lambda: main.put_object(Bucket=bucket, Key="a", Body=b"x")) == (403, "AccessDenied")
    assert refused(lambda: main.put_object(Bucket=bucket, Key="a", Body=b"x", Tagging="project=gemini")) == \
        (403, "AccessDenied")
    main.put_object(Bucket=bucket, Key="a", Body=b"x", Tagging="project=apollo")
    assert refused(lambda: main.put_object(Bucket=bucket, Key="b", Body=b"x", Tagging="project=apollo&secret=1")) == \
        (403, "AccessDenied")
    # CopyObject with REPLACE tags, and PutObjectTagging's body
    main.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "a"},
                     TaggingDirective="REPLACE", Tagging="project=apollo")
    assert refused(lambda: main.copy_object(Bucket=bucket, Key="d", CopySource={"Bucket": bucket, "Key": "a"},
                                          TaggingDirective="REPLACE", Tagging="project=x")) == (403, "AccessDenied")
    main.put_object_tagging(Bucket=bucket, Key="a", Tagging={"TagSet": [{"Key": "project", "Value": "apollo"}]})
    assert refused(lambda: main.put_object_tagging(Bucket=bucket, Key="a", Tagging={
        "TagSet": [{"Key": "project", "Value": "other"}]})) == (403, "AccessDenied")
    assert _tags(main.get_object_tagging(Bucket=bucket, Key="a")) == {"project": "apollo"}
    assert other  # the other account is refused by ownership anyway


def test_existing_object_tag_grants_reads(endpoint, bucket):
    main, other = endpoint.client(creds=MAIN), endpoint.client(creds=OTHER)
    main.put_object(Bucket=bucket, Key="public", Body=b"p", Tagging="classification=public")
    main.put_object(Bucket=bucket, Key="secret", Body=b"s", Tagging="classification=secret")
    _policy(main, bucket, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                           "Resource": f"arn:aws:s3:::{bucket}/*",
                           "Condition": {"StringEquals": {"s3:ExistingObjectTag/classification": "public"}}})
    assert other.get_object(Bucket=bucket, Key="public")["Body"].read() == b"p"
    assert httpx.get(f"{endpoint.url}/{bucket}/public").content == b"p"
    assert refused(lambda: other.get_object(Bucket=bucket, Key="secret")) == (403, "AccessDenied")
    # retagging changes what the policy allows
    main.put_object_tagging(Bucket=bucket, Key="secret", Tagging={"TagSet": [{"Key": "classification",
                                                                              "Value": "public"}]})
    assert other.get_object(Bucket=bucket, Key="secret")["Body"].read() == b"s"


def test_missing_key_is_404_only_for_who_may_list(endpoint):
    main, other = endpoint.client(creds=MAIN), endpoint.client(creds=OTHER)
    private, listed = _name(), _name()
    main.create_bucket(Bucket=private)
    main.create_bucket(Bucket=listed, ACL="public-read")
    assert refused(lambda: main.get_object(Bucket=private, Key="nope")) == (404, "NoSuchKey")
    assert refused(lambda: other.get_object(Bucket=private, Key="nope")) == (403, "AccessDenied")
    assert error_of(httpx.get(f"{endpoint.url}/{private}/nope"))["status"] == 403
    assert refused(lambda: other.get_object(Bucket=listed, Key="nope")) == (404, "NoSuchKey")
    assert error_of(httpx.get(f"{endpoint.url}/{listed}/nope"))["Code"] == "NoSuchKey"
    main.put_object(Bucket=listed, Key="exists", Body=b"x")
    assert refused(lambda: other.get_object(Bucket=listed, Key="exists")) == (403, "AccessDenied")


def test_expected_bucket_owner(endpoint, bucket):
    main, other = endpoint.client(creds=MAIN), endpoint.client(creds=OTHER)
    main.put_object(Bucket=bucket, Key="k", Body=b"x")
    main_account = main.get_bucket_acl(Bucket=bucket)["Owner"]["ID"]   # a canonical id, not an account id
    assert refused(lambda: main.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner="111122223333")) == \
        (403, "AccessDenied")
    assert refused(lambda: main.list_objects_v2(Bucket=bucket, ExpectedBucketOwner=main_account)) == (403, "AccessDenied")
    # a copy's source bucket is checked against x-amz-source-expected-bucket-owner
    dest = _name()
    other.create_bucket(Bucket=dest)
    main.put_bucket_acl(Bucket=bucket, ACL="public-read")
    main.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert refused(lambda: other.copy_object(Bucket=dest, Key="c", CopySource={"Bucket": bucket, "Key": "k"},
                                           ExpectedSourceBucketOwner="111122223333")) == (403, "AccessDenied")
    other.copy_object(Bucket=dest, Key="c", CopySource={"Bucket": bucket, "Key": "k"})


def test_copy_source_read_on_its_object_acl(endpoint, bucket):
    main, other = endpoint.client(creds=MAIN), endpoint.client(creds=OTHER)
    main.put_object(Bucket=bucket, Key="src", Body=b"data")
    dest = _name()
    other.create_bucket(Bucket=dest)
    src = {"Bucket": bucket, "Key": "src"}
    assert refused(lambda: other.copy_object(Bucket=dest, Key="c", CopySource=src)) == (403, "AccessDenied")
    other_id = other.list_buckets()["Owner"]["ID"]
    main.put_object_acl(Bucket=bucket, Key="src", GrantRead=f'id="{other_id}"')
    other.copy_object(Bucket=dest, Key="c", CopySource=src)
    assert other.get_object(Bucket=dest, Key="c")["Body"].read() == b"data"
