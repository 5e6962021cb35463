"""The issue's policies, each as AWS users write them, against the contexts the server
builds from request facts: the refused and the allowed request of each."""

from __future__ import annotations

import json

from s3presign.server.access.actions import required
from s3presign.server.access.context import (
    AUTH_HEADER,
    AUTH_POST,
    AUTH_QUERY,
    RequestFacts,
    condition_keys,
    request_context,
)
from s3presign.server.access.policy import ANONYMOUS, Decision, RequestPrincipal, evaluate, parse_policy

BUCKET = "vault"
OWNER = RequestPrincipal("111122223333", "a" * 64, "arn:aws:iam::111122223333:root")


def policy(*statements):
    return parse_policy(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}), BUCKET)


def decide(p, operation, facts, who=OWNER, key="k"):
    (check, *_) = required(operation, BUCKET, key)
    return evaluate(p, request_context(who, check.action, check.resource, facts))


DENY_WITHOUT_KMS = policy({
    "Sid": "DenyUnencryptedObjectUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/*",
    "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
})


def presigned_put(**headers):
    return RequestFacts(headers=headers, auth_type=AUTH_QUERY, signature_version="v4",
                        signature_age_ms=1000, secure=True, source_ip="127.0.0.1", now=1_790_000_000)


def test_deny_put_without_kms_refuses_a_presigned_put_without_sse_kms():
    assert decide(DENY_WITHOUT_KMS, "PutObject", presigned_put()) is Decision.DENY
    assert decide(DENY_WITHOUT_KMS, "PutObject", presigned_put(**{"x-amz-server-side-encryption": "AES256"})) \
        is Decision.DENY


def test_deny_put_without_kms_lets_sse_kms_through_and_leaves_reads_alone():
    ok = presigned_put(**{"x-amz-server-side-encryption": "aws:kms",
                          "x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:us-east-1:111122223333:key/k"})
    assert decide(DENY_WITHOUT_KMS, "PutObject", ok) is Decision.NO_OPINION
    assert decide(DENY_WITHOUT_KMS, "GetObject", presigned_put()) is Decision.NO_OPINION
    # Multipart: CreateMultipartUpload is the s3:PutObject that carries the SSE headers.
    assert decide(DENY_WITHOUT_KMS, "CreateMultipartUpload", presigned_put()) is Decision.DENY


def test_require_a_specific_kms_key():
    p = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"StringNotEqualsIfExists": {
                    "s3:x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:us-east-1:111122223333:key/good"}}})
    good = presigned_put(**{"x-amz-server-side-encryption": "aws:kms",
                            "x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:us-east-1:111122223333:key/good"})
    bad = presigned_put(**{"x-amz-server-side-encryption": "aws:kms",
                           "x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:us-east-1:111122223333:key/bad"})
    assert decide(p, "PutObject", good) is Decision.NO_OPINION
    assert decide(p, "PutObject", bad) is Decision.DENY
    # IfExists: an absent key satisfies the condition, so the Deny applies.
    assert decide(p, "PutObject", presigned_put()) is Decision.DENY


def test_deny_sse_c_uploads_by_customer_algorithm():
    p = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}})
    assert decide(p, "PutObject", presigned_put(**{"x-amz-server-side-encryption-customer-algorithm": "AES256"})) \
        is Decision.DENY
    assert decide(p, "PutObject", presigned_put()) is Decision.NO_OPINION


SIGNATURE_AGE = policy({
    "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": f"arn:aws:s3:::{BUCKET}/*",
    "Condition": {"NumericGreaterThan": {"s3:signatureAge": 600000}},
})


def test_signature_age_refuses_an_older_presigned_url():
    old = RequestFacts(auth_type=AUTH_QUERY, signature_version="v4", signature_age_ms=600_001)
    young = RequestFacts(auth_type=AUTH_QUERY, signature_version="v4", signature_age_ms=599_999)
    assert decide(SIGNATURE_AGE, "GetObject", old) is Decision.DENY
    assert decide(SIGNATURE_AGE, "GetObject", young) is Decision.NO_OPINION


def test_signature_age_is_a_sigv4_key():
    # SigV2 has no signing date in the URL: the key is absent and a positive test fails.
    v2 = RequestFacts(auth_type=AUTH_QUERY, signature_version="v2", signature_age_ms=10**9)
    assert "s3:signatureage" not in condition_keys(v2)
    assert decide(SIGNATURE_AGE, "GetObject", v2) is Decision.NO_OPINION


NO_SIGV2 = policy({
    "Effect": "Deny", "Principal": "*", "Action": "s3:*",
    "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
    "Condition": {"StringEquals": {"s3:signatureversion": "AWS"}},
})


def test_signatureversion_refuses_sigv2_and_accepts_sigv4():
    for auth in (AUTH_HEADER, AUTH_QUERY):
        assert decide(NO_SIGV2, "GetObject", RequestFacts(auth_type=auth, signature_version="v2")) is Decision.DENY
        assert decide(NO_SIGV2, "ListObjectsV2", RequestFacts(auth_type=auth, signature_version="v2")) is Decision.DENY
        assert decide(NO_SIGV2, "GetObject", RequestFacts(auth_type=auth, signature_version="v4")) \
            is Decision.NO_OPINION


INSECURE = policy({
    "Sid": "AllowSSLRequestsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
    "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
})


def test_secure_transport_false_is_refused_for_everyone_even_the_owner():
    assert decide(INSECURE, "GetObject", RequestFacts(secure=False)) is Decision.DENY
    assert decide(INSECURE, "GetObject", RequestFacts(secure=False), who=ANONYMOUS) is Decision.DENY
    assert decide(INSECURE, "GetObject", RequestFacts(secure=True)) is Decision.NO_OPINION


def test_auth_type_post_only_uploads_from_browser_forms():
    p = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"StringNotEquals": {"s3:authType": "POST"}}})
    assert decide(p, "PostObject", RequestFacts(auth_type=AUTH_POST, signature_version="v4")) is Decision.NO_OPINION
    assert decide(p, "PutObject", RequestFacts(auth_type=AUTH_HEADER, signature_version="v4")) is Decision.DENY


def test_source_ip_allow_for_anonymous_reads():
    p = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}})
    assert decide(p, "GetObject", RequestFacts(source_ip="127.0.0.1"), who=ANONYMOUS) is Decision.ALLOW
    assert decide(p, "GetObject", RequestFacts(source_ip="::1"), who=ANONYMOUS) is Decision.ALLOW
    assert decide(p, "GetObject", RequestFacts(source_ip="192.0.2.1"), who=ANONYMOUS) is Decision.NO_OPINION


def test_current_time_and_epoch_time():
    p = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2026-12-31T23:59:59Z"}}})
    assert decide(p, "GetObject", RequestFacts(now=1_798_761_600)) is Decision.DENY          # 2027-01-01
    assert decide(p, "GetObject", RequestFacts(now=1_798_761_598)) is Decision.NO_OPINION
    q = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"NumericGreaterThan": {"aws:EpochTime": 1_798_761_599}}})
    assert decide(q, "GetObject", RequestFacts(now=1_798_761_600)) is Decision.DENY


def test_list_restricted_to_a_prefix_and_page_size():
    p = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}",
                "Condition": {"StringLike": {"s3:prefix": "public/*"},
                              "NumericLessThanEquals": {"s3:max-keys": "100"}}})
    ok = RequestFacts(query={"prefix": "public/a", "max-keys": "50"})
    assert decide(p, "ListObjectsV2", ok, who=ANONYMOUS) is Decision.ALLOW
    assert decide(p, "ListObjectsV2", RequestFacts(query={"prefix": "secret/", "max-keys": "50"}), who=ANONYMOUS) \
        is Decision.NO_OPINION
    assert decide(p, "ListObjectsV2", RequestFacts(query={"prefix": "public/"}), who=ANONYMOUS) is Decision.NO_OPINION


def test_existing_and_request_object_tags():
    p = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"StringEquals": {"s3:ExistingObjectTag/classification": "public"}}},
               {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"StringNotEquals": {"s3:RequestObjectTag/project": "apollo"}}})
    assert decide(p, "GetObject", RequestFacts(existing_tags={"classification": "public"}), who=ANONYMOUS) \
        is Decision.ALLOW
    assert decide(p, "GetObject", RequestFacts(existing_tags={"classification": "secret"}), who=ANONYMOUS) \
        is Decision.NO_OPINION
    assert decide(p, "PutObject", RequestFacts(request_tags={"project": "apollo"})) is Decision.NO_OPINION
    assert decide(p, "PutObject", RequestFacts(request_tags={"project": "gemini"})) is Decision.DENY
    assert decide(p, "PutObject", RequestFacts(request_tags={})) is Decision.DENY


def test_content_sha256_forbids_unsigned_payloads():
    p = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"StringEquals": {"s3:x-amz-content-sha256": "UNSIGNED-PAYLOAD"}}})
    assert decide(p, "PutObject", RequestFacts(headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})) is Decision.DENY
    assert decide(p, "PutObject", RequestFacts(headers={"x-amz-content-sha256": "e3b0c442" * 8})) \
        is Decision.NO_OPINION


def test_acl_and_version_id_keys():
    p = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/*",
                "Condition": {"StringEquals": {"s3:x-amz-acl": ["public-read", "public-read-write"]}}},
               {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObjectVersion",
                "Resource": f"arn:aws:s3:::{BUCKET}/*", "Condition": {"StringEquals": {"s3:VersionId": "old"}}})
    assert decide(p, "PutObject", RequestFacts(headers={"x-amz-acl": "public-read"})) is Decision.DENY
    assert decide(p, "PutObject", RequestFacts(headers={"x-amz-acl": "private"})) is Decision.NO_OPINION
    (check,) = required("GetObject", BUCKET, "k", version_id="old")
    assert check.action == "s3:GetObjectVersion"
    assert evaluate(p, request_context(OWNER, check.action, check.resource, RequestFacts(query={"versionId": "old"}))) \
        is Decision.DENY
