"""S3's decision order: explicit deny, owner, policy allow, ACL, else AccessDenied; the
two-account Bar as pure decisions; Block Public Access."""

from __future__ import annotations

import json

import pytest

from s3presign.core.s3errors import S3Error
from s3presign.server.access import acl
from s3presign.server.access.actions import required
from s3presign.server.access.authorize import (
    BucketAccess,
    ObjectAccess,
    PublicAccessBlock,
    authorize,
    check_acl_write,
    check_policy_write,
    require,
)
from s3presign.server.access.context import RequestFacts, request_context
from s3presign.server.access.policy import ANONYMOUS, RequestPrincipal, is_public, parse_policy

MAIN = acl.Owner("a" * 64, "main")
ALT = acl.Owner("b" * 64, "alt")
MAIN_P = RequestPrincipal("111122223333", MAIN.id, "arn:aws:iam::111122223333:root")
ALT_P = RequestPrincipal("444455556666", ALT.id, "arn:aws:iam::444455556666:root")
B = "mains"


def bucket(**kw) -> BucketAccess:
    kw.setdefault("owner", MAIN)
    kw.setdefault("owner_account", MAIN_P.account_id)
    return BucketAccess(**kw)


def policy(*statements):
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), B)


def allowed(operation, who, b, obj=None, key="k", facts=RequestFacts(), **kw):
    """Every check of the operation passes."""
    for check in required(operation, B, key, **kw):
        ctx = request_context(who, check.action, check.resource, facts)
        if not authorize(check, ctx, b, obj).allowed:
            return False
    return True


OPS = ["ListObjectsV2", "ListObjectVersions", "GetObject", "HeadObject", "PutObject", "DeleteObject",
       "GetBucketAcl", "PutBucketPolicy", "GetObjectTagging", "CreateMultipartUpload", "AbortMultipartUpload"]


@pytest.mark.parametrize("op", OPS)
def test_without_a_grant_the_other_account_and_anonymous_are_refused_and_the_owner_is_not(op):
    b = bucket()
    o = ObjectAccess(MAIN)
    assert allowed(op, MAIN_P, b, o)
    assert not allowed(op, ALT_P, b, o)
    assert not allowed(op, ANONYMOUS, b, o)


def test_copy_from_the_other_accounts_bucket_is_refused_on_the_source_check():
    src = bucket()   # MAIN's bucket holds the source
    checks = required("CopyObject", "alts-bucket", "dst", source=(B, "src", None))
    assert [c.action for c in checks] == ["s3:GetObject", "s3:PutObject"] and checks[0].source
    ctx = request_context(ALT_P, checks[0].action, checks[0].resource, RequestFacts())
    assert not authorize(checks[0], ctx, src, ObjectAccess(MAIN)).allowed
    with pytest.raises(S3Error) as e:
        require(checks[0], ctx, src, ObjectAccess(MAIN))
    assert (e.value.status, e.value.code, e.value.message) == (403, "AccessDenied", "Access Denied")


def test_each_grant_opens_exactly_what_it_says():
    read_only = policy({"Effect": "Allow", "Principal": {"AWS": ALT_P.account_id}, "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{B}/shared/*"})
    b = bucket(policy=read_only, ownership=acl.OBJECT_WRITER)
    o = ObjectAccess(MAIN)
    assert allowed("GetObject", ALT_P, b, o, key="shared/a")
    assert not allowed("GetObject", ALT_P, b, o, key="private/a")
    assert not allowed("PutObject", ALT_P, b, o, key="shared/a")
    assert not allowed("ListObjectsV2", ALT_P, b, o)
    assert not allowed("GetObject", ANONYMOUS, b, o, key="shared/a")
    assert not allowed("GetObject", ALT_P, b, o, key="shared/a", version_id="v1")   # s3:GetObjectVersion not granted


def test_an_explicit_deny_beats_the_owner_and_the_acl():
    deny = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{B}"})
    b = bucket(policy=deny, ownership=acl.OBJECT_WRITER, acl=acl.canned_acl("authenticated-read", MAIN, bucket=True))
    assert not allowed("ListObjectsV2", ALT_P, b)
    assert not allowed("ListObjectsV2", MAIN_P, b)   # S3 applies a deny to the owner too


def test_no_policy_locks_the_owner_out_of_the_policy_itself():
    lockout = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                      "Resource": [f"arn:aws:s3:::{B}", f"arn:aws:s3:::{B}/*"]})
    b = bucket(policy=lockout)
    for op in ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"):
        assert allowed(op, MAIN_P, b)
        assert not allowed(op, ALT_P, b)
    assert not allowed("ListObjectsV2", MAIN_P, b) and not allowed("PutBucketAcl", MAIN_P, b)


def test_acl_grants_when_acls_are_enabled_and_not_when_enforced():
    public = acl.canned_acl("public-read", MAIN, bucket=True)
    writable = acl.canned_acl("public-read-write", MAIN, bucket=True)
    assert allowed("ListObjectsV2", ANONYMOUS, bucket(acl=public, ownership=acl.OBJECT_WRITER))
    assert not allowed("PutObject", ANONYMOUS, bucket(acl=public, ownership=acl.OBJECT_WRITER))
    assert allowed("PutObject", ANONYMOUS, bucket(acl=writable, ownership=acl.OBJECT_WRITER))
    assert allowed("DeleteObject", ANONYMOUS, bucket(acl=writable, ownership=acl.OBJECT_WRITER))
    assert not allowed("ListObjectsV2", ANONYMOUS, bucket(acl=public, ownership=acl.BUCKET_OWNER_ENFORCED))
    # Object reads use the object's ACL, not the bucket's.
    b = bucket(acl=public, ownership=acl.OBJECT_WRITER)
    assert not allowed("GetObject", ANONYMOUS, b, ObjectAccess(MAIN, acl.canned_acl("private", MAIN)))
    assert allowed("GetObject", ANONYMOUS, b, ObjectAccess(MAIN, acl.canned_acl("public-read", MAIN)))
    assert allowed("GetObjectAcl", ALT_P, b, ObjectAccess(MAIN, acl.AccessControlPolicy(
        MAIN, (acl.Grant(acl.Grantee("CanonicalUser", ALT.id), "READ_ACP"),))))


def test_authenticated_read_lets_any_account_but_not_anonymous():
    b = bucket(acl=acl.canned_acl("authenticated-read", MAIN, bucket=True), ownership=acl.OBJECT_WRITER)
    assert allowed("ListObjectsV2", ALT_P, b) and not allowed("ListObjectsV2", ANONYMOUS, b)


def test_object_owned_by_the_writer_is_governed_by_its_owner():
    # ObjectWriter: ALT wrote into MAIN's bucket; MAIN cannot read it without ALT's grant,
    # but can delete it (deletes are decided in the bucket's context).
    b = bucket(acl=acl.canned_acl("public-read-write", MAIN, bucket=True), ownership=acl.OBJECT_WRITER)
    alts = ObjectAccess(ALT, acl.canned_acl("private", ALT))
    assert allowed("GetObject", ALT_P, b, alts)
    assert not allowed("GetObject", MAIN_P, b, alts)
    assert allowed("DeleteObject", MAIN_P, b, alts)
    assert allowed("GetObject", MAIN_P, b, ObjectAccess(ALT, acl.canned_acl("bucket-owner-read", ALT, MAIN)))
    # A bucket policy cannot give away an object its bucket owner does not own.
    everyone = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{B}/*"})
    assert not allowed("GetObject", ANONYMOUS, bucket(policy=everyone, ownership=acl.OBJECT_WRITER), alts)
    assert allowed("GetObject", ANONYMOUS, bucket(policy=everyone, ownership=acl.OBJECT_WRITER), ObjectAccess(MAIN))
    # With BucketOwnerEnforced the bucket owner owns everything.
    assert allowed("GetObject", MAIN_P, bucket(), alts)


def test_anonymous_is_evaluated_the_same_way_and_gets_the_same_403():
    b = bucket()
    (check,) = required("GetObject", B, "k")
    ctx = request_context(ANONYMOUS, check.action, check.resource, RequestFacts())
    with pytest.raises(S3Error) as e:
        require(check, ctx, b, ObjectAccess(MAIN))
    assert (e.value.name, e.value.status, e.value.code) == ("AnonymousDenied", 403, "AccessDenied")
    everyone = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{B}/*"})
    require(check, ctx, bucket(policy=everyone), ObjectAccess(MAIN))


class TestBlockPublicAccess:
    everyone = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{B}/*"})

    def test_restrict_public_buckets_sets_a_public_policy_aside_for_outsiders(self):
        pab = PublicAccessBlock(restrict_public_buckets=True)
        b = bucket(policy=self.everyone, public_access_block=pab)
        assert not allowed("GetObject", ANONYMOUS, b, ObjectAccess(MAIN))
        assert not allowed("GetObject", ALT_P, b, ObjectAccess(MAIN))
        named = policy({"Effect": "Allow", "Principal": {"AWS": ALT_P.account_id}, "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{B}/*"})
        assert allowed("GetObject", ALT_P, bucket(policy=named, public_access_block=pab), ObjectAccess(MAIN))

    def test_ignore_public_acls(self):
        b = bucket(acl=acl.canned_acl("public-read", MAIN, bucket=True), ownership=acl.OBJECT_WRITER,
                   public_access_block=PublicAccessBlock(ignore_public_acls=True))
        assert not allowed("ListObjectsV2", ANONYMOUS, b)
        granted = acl.AccessControlPolicy(MAIN, (acl.Grant(acl.Grantee("CanonicalUser", ALT.id), "READ"),))
        assert allowed("ListObjectsV2", ALT_P, bucket(acl=granted, ownership=acl.OBJECT_WRITER,
                                                      public_access_block=PublicAccessBlock(ignore_public_acls=True)))

    def test_block_public_policy_refuses_putting_a_public_policy(self):
        b = bucket(public_access_block=PublicAccessBlock(block_public_policy=True))
        with pytest.raises(S3Error) as e:
            check_policy_write(self.everyone, b, MAIN_P.arn, B)
        assert (e.value.status, e.value.code) == (403, "AccessDenied")
        assert e.value.message == (
            'User: arn:aws:iam::111122223333:root is not authorized to perform: s3:PutBucketPolicy on resource: '
            '"arn:aws:s3:::mains" because public policies are blocked by the BlockPublicPolicy block public '
            "access setting.")
        named = policy({"Effect": "Allow", "Principal": {"AWS": ALT_P.account_id}, "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{B}/*"})
        check_policy_write(named, b, MAIN_P.arn, B)
        check_policy_write(self.everyone, bucket(), MAIN_P.arn, B)

    def test_block_public_acls_refuses_public_acls(self):
        b = bucket(public_access_block=PublicAccessBlock(block_public_acls=True), ownership=acl.OBJECT_WRITER)
        with pytest.raises(S3Error) as e:
            check_acl_write(acl.canned_acl("public-read", MAIN), b)
        assert (e.value.status, e.value.code) == (403, "AccessDenied")
        check_acl_write(acl.canned_acl("private", MAIN), b)
        check_acl_write(None, b)


@pytest.mark.parametrize(
    "statement, public",
    [
        ({"Principal": "*"}, True),
        ({"Principal": {"AWS": "*"}}, True),
        ({"Principal": {"AWS": "111122223333"}}, False),
        ({"Principal": "*", "Effect": "Deny"}, False),
        ({"Principal": "*", "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}, False),
        ({"Principal": "*", "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}}}, True),
        ({"Principal": "*", "Condition": {"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}}, False),
        ({"Principal": "*", "Condition": {"IpAddress": {"aws:SourceIp": "2001::/16"}}}, True),
        ({"Principal": "*", "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}}}, False),
        ({"Principal": "*", "Condition": {"StringEquals": {"aws:SourceAccount": "1111*"}}}, True),
        ({"Principal": "*", "Condition": {"StringEqualsIfExists": {"aws:SourceAccount": "111122223333"}}}, True),
        ({"Principal": "*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}, False),
        ({"Principal": "*", "Condition": {"StringEquals": {
            "s3:x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:us-east-1:111122223333:key/k"}}}, False),
        ({"Principal": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}, True),
    ],
)
def test_is_public_per_aws_definition(statement, public):
    s = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{B}/*", **statement}
    assert is_public(policy(s)) is public


def test_no_policy_is_not_public():
    assert is_public(None) is False
