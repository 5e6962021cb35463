"""S3 operations -> the IAM actions they need, and on which resource: the one table.

Follows AWS's "Required permissions for Amazon S3 API operations" and "Actions,
resources, and condition keys for Amazon S3". A request's checks are
``required(operation, bucket, key, ...)``: each is an (action, resource ARN) pair
that authorization must allow, in order; the first refused one refuses the request.
"""

from __future__ import annotations

from dataclasses import dataclass

BUCKET = "bucket"          # arn:aws:s3:::bucket
OBJECT = "object"          # arn:aws:s3:::bucket/key
SOURCE = "source-object"   # CopyObject / UploadPartCopy: arn:aws:s3:::src-bucket/src-key
ACCOUNT = "account"        # ListBuckets: no resource ("*")

ARN_PREFIX = "arn:aws:s3:::"

# Every S3 action a bucket policy may name, with the resource type it applies to.
# Policy validation uses it ("Policy has invalid action", "Action does not apply to any
# resource(s) in statement"); the operations below use only some of them.
IAM_ACTIONS: dict[str, str] = {
    name: kind
    for kind, names in {
        OBJECT: (
            "AbortMultipartUpload BypassGovernanceRetention DeleteObject DeleteObjectTagging "
            "DeleteObjectVersion DeleteObjectVersionTagging GetObject GetObjectAcl "
            "GetObjectAttributes GetObjectLegalHold GetObjectRetention GetObjectTagging "
            "GetObjectTorrent GetObjectVersion GetObjectVersionAcl GetObjectVersionAttributes "
            "GetObjectVersionForReplication GetObjectVersionTagging GetObjectVersionTorrent "
            "ListMultipartUploadParts ObjectOwnerOverrideToBucketOwner PutObject PutObjectAcl "
            "PutObjectLegalHold PutObjectRetention PutObjectTagging PutObjectVersionAcl "
            "PutObjectVersionTagging ReplicateDelete ReplicateObject ReplicateTags RestoreObject"
        ),
        BUCKET: (
            "CreateBucket DeleteBucket DeleteBucketOwnershipControls DeleteBucketPolicy "
            "DeleteBucketWebsite GetAccelerateConfiguration GetAnalyticsConfiguration "
            "GetBucketAcl GetBucketCORS GetBucketLocation GetBucketLogging "
            "GetBucketNotification GetBucketObjectLockConfiguration GetBucketOwnershipControls "
            "GetBucketPolicy GetBucketPolicyStatus GetBucketPublicAccessBlock "
            "GetBucketRequestPayment GetBucketTagging GetBucketVersioning GetBucketWebsite "
            "GetEncryptionConfiguration GetIntelligentTieringConfiguration "
            "GetInventoryConfiguration GetLifecycleConfiguration GetMetricsConfiguration "
            "GetReplicationConfiguration ListBucket ListBucketMultipartUploads "
            "ListBucketVersions PutAccelerateConfiguration PutAnalyticsConfiguration "
            "PutBucketAcl PutBucketCORS PutBucketLogging PutBucketNotification "
            "PutBucketObjectLockConfiguration PutBucketOwnershipControls PutBucketPolicy "
            "PutBucketPublicAccessBlock PutBucketRequestPayment PutBucketTagging "
            "PutBucketVersioning PutBucketWebsite PutEncryptionConfiguration "
            "PutIntelligentTieringConfiguration PutInventoryConfiguration "
            "PutLifecycleConfiguration PutMetricsConfiguration PutReplicationConfiguration"
        ),
        ACCOUNT: "ListAllMyBuckets GetAccountPublicAccessBlock PutAccountPublicAccessBlock",
    }.items()
    for name in ("s3:" + n for n in names.split())
}


@dataclass(frozen=True, slots=True)
class Need:
    """One permission an operation needs.

    ``versioned``: the action instead when the request names a version (``versionId``).
    ``when``: a request fact that makes this need apply at all: "acl" (a canned ACL or
    grant headers), "tagging" (tags given), or None (always).
    """

    action: str
    resource: str
    versioned: str | None = None
    when: str | None = None


def _n(action: str, resource: str, versioned: str | None = None, when: str | None = None) -> Need:
    return Need("s3:" + action, resource, "s3:" + versioned if versioned else None, when)


_WRITE_EXTRAS = (_n("PutObjectAcl", OBJECT, when="acl"), _n("PutObjectTagging", OBJECT, when="tagging"))

OPERATIONS: dict[str, tuple[Need, ...]] = {
    # --- service ---------------------------------------------------------------------
    "ListBuckets": (_n("ListAllMyBuckets", ACCOUNT),),
    # --- buckets ---------------------------------------------------------------------
    "CreateBucket": (
        _n("CreateBucket", BUCKET),
        _n("PutBucketAcl", BUCKET, when="acl"),
        _n("PutBucketOwnershipControls", BUCKET, when="ownership"),
    ),
    "DeleteBucket": (_n("DeleteBucket", BUCKET),),
    "HeadBucket": (_n("ListBucket", BUCKET),),
    "GetBucketLocation": (_n("GetBucketLocation", BUCKET),),
    "ListObjects": (_n("ListBucket", BUCKET),),
    "ListObjectsV2": (_n("ListBucket", BUCKET),),
    "ListObjectVersions": (_n("ListBucketVersions", BUCKET),),
    "ListMultipartUploads": (_n("ListBucketMultipartUploads", BUCKET),),
    "GetBucketVersioning": (_n("GetBucketVersioning", BUCKET),),
    "PutBucketVersioning": (_n("PutBucketVersioning", BUCKET),),
    "GetBucketPolicy": (_n("GetBucketPolicy", BUCKET),),
    "PutBucketPolicy": (_n("PutBucketPolicy", BUCKET),),
    "DeleteBucketPolicy": (_n("DeleteBucketPolicy", BUCKET),),
    "GetBucketPolicyStatus": (_n("GetBucketPolicyStatus", BUCKET),),
    "GetBucketEncryption": (_n("GetEncryptionConfiguration", BUCKET),),
    "PutBucketEncryption": (_n("PutEncryptionConfiguration", BUCKET),),
    "DeleteBucketEncryption": (_n("PutEncryptionConfiguration", BUCKET),),
    "GetBucketCors": (_n("GetBucketCORS", BUCKET),),
    "PutBucketCors": (_n("PutBucketCORS", BUCKET),),
    "DeleteBucketCors": (_n("PutBucketCORS", BUCKET),),
    "GetBucketTagging": (_n("GetBucketTagging", BUCKET),),
    "PutBucketTagging": (_n("PutBucketTagging", BUCKET),),
    "DeleteBucketTagging": (_n("PutBucketTagging", BUCKET),),
    "GetBucketAcl": (_n("GetBucketAcl", BUCKET),),
    "PutBucketAcl": (_n("PutBucketAcl", BUCKET),),
    "GetBucketOwnershipControls": (_n("GetBucketOwnershipControls", BUCKET),),
    "PutBucketOwnershipControls": (_n("PutBucketOwnershipControls", BUCKET),),
    "DeleteBucketOwnershipControls": (_n("PutBucketOwnershipControls", BUCKET),),
    "GetPublicAccessBlock": (_n("GetBucketPublicAccessBlock", BUCKET),),
    "PutPublicAccessBlock": (_n("PutBucketPublicAccessBlock", BUCKET),),
    "DeletePublicAccessBlock": (_n("PutBucketPublicAccessBlock", BUCKET),),
    # --- objects ---------------------------------------------------------------------
    "PutObject": (_n("PutObject", OBJECT), *_WRITE_EXTRAS),
    "PostObject": (_n("PutObject", OBJECT), *_WRITE_EXTRAS),
    "GetObject": (_n("GetObject", OBJECT, "GetObjectVersion"),),
    "HeadObject": (_n("GetObject", OBJECT, "GetObjectVersion"),),
    "GetObjectAttributes": (
        _n("GetObject", OBJECT, "GetObjectVersion"),
        _n("GetObjectAttributes", OBJECT, "GetObjectVersionAttributes"),
    ),
    "DeleteObject": (_n("DeleteObject", OBJECT, "DeleteObjectVersion"),),
    # DeleteObjects is checked per key: each entry is a DeleteObject of its own
    # (S3 reports a refused key as an <Error> in the result, not as the request's 403).
    "DeleteObjects": (_n("DeleteObject", OBJECT, "DeleteObjectVersion"),),
    "CopyObject": (
        _n("GetObject", SOURCE, "GetObjectVersion"),
        _n("PutObject", OBJECT),
        *_WRITE_EXTRAS,
    ),
    "GetObjectAcl": (_n("GetObjectAcl", OBJECT, "GetObjectVersionAcl"),),
    "PutObjectAcl": (_n("PutObjectAcl", OBJECT, "PutObjectVersionAcl"),),
    "GetObjectTagging": (_n("GetObjectTagging", OBJECT, "GetObjectVersionTagging"),),
    "PutObjectTagging": (_n("PutObjectTagging", OBJECT, "PutObjectVersionTagging"),),
    "DeleteObjectTagging": (_n("DeleteObjectTagging", OBJECT, "DeleteObjectVersionTagging"),),
    # --- multipart -------------------------------------------------------------------
    "CreateMultipartUpload": (_n("PutObject", OBJECT), *_WRITE_EXTRAS),
    "UploadPart": (_n("PutObject", OBJECT),),
    "UploadPartCopy": (_n("GetObject", SOURCE, "GetObjectVersion"), _n("PutObject", OBJECT)),
    "CompleteMultipartUpload": (_n("PutObject", OBJECT),),
    "AbortMultipartUpload": (_n("AbortMultipartUpload", OBJECT),),
    "ListParts": (_n("ListMultipartUploadParts", OBJECT),),
}


def bucket_arn(bucket: str) -> str:
    return ARN_PREFIX + bucket


def object_arn(bucket: str, key: str) -> str:
    return f"{ARN_PREFIX}{bucket}/{key}"


@dataclass(frozen=True, slots=True)
class Check:
    action: str
    resource: str   # the ARN, "*" for account-level actions
    source: bool = False   # the copy source's check (its bucket's policy decides)


def required(
    operation: str,
    bucket: str | None = None,
    key: str | None = None,
    *,
    version_id: str | None = None,
    source: tuple[str, str, str | None] | None = None,
    facts: frozenset[str] = frozenset(),
) -> list[Check]:
    """The checks for one request. ``source`` = (bucket, key, version id) of a copy;
    ``facts`` holds the conditional needs that apply ("acl", "tagging", "ownership")."""
    checks = []
    for need in OPERATIONS[operation]:
        if need.when is not None and need.when not in facts:
            continue
        if need.resource == ACCOUNT:
            checks.append(Check(need.action, "*"))
        elif need.resource == BUCKET:
            checks.append(Check(need.action, bucket_arn(bucket or "")))
        elif need.resource == SOURCE:
            if source is None:
                raise ValueError(f"{operation} needs its copy source")
            sb, sk, sv = source
            action = need.versioned if sv is not None and need.versioned else need.action
            checks.append(Check(action, object_arn(sb, sk), source=True))
        else:
            action = need.versioned if version_id is not None and need.versioned else need.action
            checks.append(Check(action, object_arn(bucket or "", key or "")))
    return checks
