"""The operations table: each operation's IAM actions and resources."""

from __future__ import annotations

import pytest

from s3presign.server.access.actions import IAM_ACTIONS, OPERATIONS, Check, required


@pytest.mark.parametrize(
    "operation, kw, expected",
    [
        ("ListBuckets", {}, [Check("s3:ListAllMyBuckets", "*")]),
        ("ListObjectsV2", {}, [Check("s3:ListBucket", "arn:aws:s3:::b")]),
        ("ListObjectVersions", {}, [Check("s3:ListBucketVersions", "arn:aws:s3:::b")]),
        ("HeadBucket", {}, [Check("s3:ListBucket", "arn:aws:s3:::b")]),
        ("GetObject", {}, [Check("s3:GetObject", "arn:aws:s3:::b/k")]),
        ("GetObject", {"version_id": "v"}, [Check("s3:GetObjectVersion", "arn:aws:s3:::b/k")]),
        ("HeadObject", {"version_id": "v"}, [Check("s3:GetObjectVersion", "arn:aws:s3:::b/k")]),
        ("DeleteObject", {"version_id": "v"}, [Check("s3:DeleteObjectVersion", "arn:aws:s3:::b/k")]),
        ("DeleteObjects", {}, [Check("s3:DeleteObject", "arn:aws:s3:::b/k")]),
        ("PutObject", {}, [Check("s3:PutObject", "arn:aws:s3:::b/k")]),
        ("PutObject", {"facts": frozenset({"acl", "tagging"})},
         [Check("s3:PutObject", "arn:aws:s3:::b/k"), Check("s3:PutObjectAcl", "arn:aws:s3:::b/k"),
          Check("s3:PutObjectTagging", "arn:aws:s3:::b/k")]),
        ("CopyObject", {"source": ("src", "a/b", None)},
         [Check("s3:GetObject", "arn:aws:s3:::src/a/b", source=True), Check("s3:PutObject", "arn:aws:s3:::b/k")]),
        ("CopyObject", {"source": ("src", "a", "v1")},
         [Check("s3:GetObjectVersion", "arn:aws:s3:::src/a", source=True), Check("s3:PutObject", "arn:aws:s3:::b/k")]),
        ("UploadPartCopy", {"source": ("src", "a", None)},
         [Check("s3:GetObject", "arn:aws:s3:::src/a", source=True), Check("s3:PutObject", "arn:aws:s3:::b/k")]),
        ("CompleteMultipartUpload", {}, [Check("s3:PutObject", "arn:aws:s3:::b/k")]),
        ("UploadPart", {}, [Check("s3:PutObject", "arn:aws:s3:::b/k")]),
        ("AbortMultipartUpload", {}, [Check("s3:AbortMultipartUpload", "arn:aws:s3:::b/k")]),
        ("ListParts", {}, [Check("s3:ListMultipartUploadParts", "arn:aws:s3:::b/k")]),
        ("ListMultipartUploads", {}, [Check("s3:ListBucketMultipartUploads", "arn:aws:s3:::b")]),
        ("GetBucketPolicy", {}, [Check("s3:GetBucketPolicy", "arn:aws:s3:::b")]),
        ("GetBucketPolicyStatus", {}, [Check("s3:GetBucketPolicyStatus", "arn:aws:s3:::b")]),
        ("PutBucketEncryption", {}, [Check("s3:PutEncryptionConfiguration", "arn:aws:s3:::b")]),
        ("DeleteBucketEncryption", {}, [Check("s3:PutEncryptionConfiguration", "arn:aws:s3:::b")]),
        ("GetBucketEncryption", {}, [Check("s3:GetEncryptionConfiguration", "arn:aws:s3:::b")]),
        ("DeleteBucketTagging", {}, [Check("s3:PutBucketTagging", "arn:aws:s3:::b")]),
        ("DeletePublicAccessBlock", {}, [Check("s3:PutBucketPublicAccessBlock", "arn:aws:s3:::b")]),
        ("DeleteBucketOwnershipControls", {}, [Check("s3:PutBucketOwnershipControls", "arn:aws:s3:::b")]),
        ("GetObjectAttributes", {},
         [Check("s3:GetObject", "arn:aws:s3:::b/k"), Check("s3:GetObjectAttributes", "arn:aws:s3:::b/k")]),
        ("GetObjectAttributes", {"version_id": "v"},
         [Check("s3:GetObjectVersion", "arn:aws:s3:::b/k"), Check("s3:GetObjectVersionAttributes", "arn:aws:s3:::b/k")]),
        ("PutObjectTagging", {"version_id": "v"}, [Check("s3:PutObjectVersionTagging", "arn:aws:s3:::b/k")]),
        ("GetObjectAcl", {"version_id": "v"}, [Check("s3:GetObjectVersionAcl", "arn:aws:s3:::b/k")]),
        ("CreateBucket", {"facts": frozenset({"acl", "ownership"})},
         [Check("s3:CreateBucket", "arn:aws:s3:::b"), Check("s3:PutBucketAcl", "arn:aws:s3:::b"),
          Check("s3:PutBucketOwnershipControls", "arn:aws:s3:::b")]),
    ],
)
def test_required(operation, kw, expected):
    assert required(operation, "b", "k", **kw) == expected


def test_every_action_the_table_names_is_a_known_iam_action_of_the_right_kind():
    for operation, needs in OPERATIONS.items():
        for need in needs:
            for action in filter(None, (need.action, need.versioned)):
                kind = IAM_ACTIONS[action]
                assert kind == ("object" if need.resource == "source-object" else need.resource), (operation, action)


def test_a_copy_without_its_source_is_a_programming_error():
    with pytest.raises(ValueError):
        required("CopyObject", "b", "k")
