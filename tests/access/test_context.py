"""Request facts -> condition keys: what the wiring will hand the evaluator."""

from s3presign.server.access.context import (
    AUTH_QUERY,
    RequestFacts,
    condition_keys,
    principal_keys,
    request_context,
)
from s3presign.server.access.policy import ANONYMOUS, RequestPrincipal


def test_keys_from_a_full_set_of_facts():
    f = RequestFacts(
        headers={"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": "k1",
                 "x-amz-server-side-encryption-customer-algorithm": "AES256", "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
                 "x-amz-acl": "private", "host": "ignored"},
        query={"prefix": "p/", "delimiter": "/", "max-keys": "5", "versionId": "v1", "other": "x"},
        auth_type=AUTH_QUERY, signature_version="v4", signature_age_ms=1234, secure=True, source_ip="::1",
        now=1_767_225_600, existing_tags={"Team": "blue"}, request_tags={"env": "prod", "cost": ""},
        username="alice", resource_account="111122223333",
    )
    assert condition_keys(f) == {
        "aws:securetransport": ("true",),
        "aws:currenttime": ("2026-01-01T00:00:00Z",),
        "aws:epochtime": ("1767225600",),
        "aws:sourceip": ("::1",),
        "aws:username": ("alice",),
        "s3:resourceaccount": ("111122223333",),
        "aws:resourceaccount": ("111122223333",),
        "s3:authtype": ("REST-QUERY-STRING",),
        "s3:signatureversion": ("AWS4-HMAC-SHA256",),
        "s3:signatureage": ("1234",),
        "s3:x-amz-server-side-encryption": ("aws:kms",),
        "s3:x-amz-server-side-encryption-aws-kms-key-id": ("k1",),
        "s3:x-amz-server-side-encryption-customer-algorithm": ("AES256",),
        "s3:x-amz-content-sha256": ("UNSIGNED-PAYLOAD",),
        "s3:x-amz-acl": ("private",),
        "s3:prefix": ("p/",),
        "s3:delimiter": ("/",),
        "s3:max-keys": ("5",),
        "s3:versionid": ("v1",),
        "s3:existingobjecttag/team": ("blue",),
        "s3:requestobjecttag/env": ("prod",),
        "s3:requestobjecttag/cost": ("",),
        "s3:requestobjecttagkeys": ("env", "cost"),
    }


def test_an_anonymous_plain_request_has_only_the_global_keys():
    assert set(condition_keys(RequestFacts(now=0))) == {"aws:securetransport", "aws:currenttime", "aws:epochtime"}
    assert condition_keys(RequestFacts(now=0))["aws:securetransport"] == ("false",)


def test_sigv2_maps_to_AWS():
    assert condition_keys(RequestFacts(signature_version="v2"))["s3:signatureversion"] == ("AWS",)


def test_principal_keys():
    root = RequestPrincipal("111122223333", "a" * 64, "arn:aws:iam::111122223333:root")
    assert principal_keys(root) == {"aws:principaltype": ("Account",), "aws:principalaccount": ("111122223333",),
                                    "aws:userid": ("111122223333",),
                                    "aws:principalarn": ("arn:aws:iam::111122223333:root",)}
    assert principal_keys(ANONYMOUS) == {"aws:principaltype": ("Anonymous",)}
    ctx = request_context(root, "s3:GetObject", "arn:aws:s3:::b/k", RequestFacts(now=0))
    assert ctx.keys["aws:principalarn"] == ("arn:aws:iam::111122223333:root",) and ctx.action == "s3:GetObject"
