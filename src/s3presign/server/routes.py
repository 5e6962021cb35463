"""Which handler serves a request: the routing rules, as data.

A route is (target, method, sub-resources) -> (handler, operation), where target is "service",
"bucket" or "object" and the sub-resources are the S3 sub-resource names in
the query, sorted and joined with "&" ("" for none). An object PUT carrying
x-amz-copy-source is a copy (CopyObject, UploadPartCopy): its sub-resources
gain a "+copy" suffix, so the copy has its own row and no handler dispatches
to another.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Awaitable, Callable, Iterable, Mapping
from urllib.parse import unquote

from s3presign.core.errors import PresignError
from s3presign.core.presign import check_bucket_name
from s3presign.core.s3errors import S3Error
from s3presign.server.handlers import acl, attributes, buckets, copy, cors, multipart, objects, ownership, policy, post, tagging
from s3presign.server.handlers.context import Ctx
from s3presign.server.http import Response

Handler = Callable[[Ctx], Awaitable[Response]]

ROUTES: dict[tuple[str, str, str], tuple[Handler, str]] = {
    ("service", "GET", ""): (buckets.list_buckets, "ListBuckets"),
    ("bucket", "PUT", ""): (buckets.create_bucket, "CreateBucket"),
    ("bucket", "HEAD", ""): (buckets.head_bucket, "HeadBucket"),
    ("bucket", "DELETE", ""): (buckets.delete_bucket, "DeleteBucket"),
    ("bucket", "GET", ""): (buckets.list_objects, "ListObjects"),
    ("bucket", "GET", "location"): (buckets.get_bucket_location, "GetBucketLocation"),
    ("bucket", "PUT", "encryption"): (buckets.put_bucket_encryption, "PutBucketEncryption"),
    ("bucket", "GET", "encryption"): (buckets.get_bucket_encryption, "GetBucketEncryption"),
    ("bucket", "DELETE", "encryption"): (buckets.delete_bucket_encryption, "DeleteBucketEncryption"),
    ("bucket", "GET", "versioning"): (buckets.get_bucket_versioning, "GetBucketVersioning"),
    ("bucket", "PUT", "versioning"): (buckets.put_bucket_versioning, "PutBucketVersioning"),
    ("bucket", "GET", "versions"): (buckets.list_object_versions, "ListObjectVersions"),
    ("bucket", "POST", "delete"): (objects.delete_objects, "DeleteObjects"),
    ("object", "PUT", ""): (objects.put_object, "PutObject"),
    ("object", "PUT", "+copy"): (copy.copy_object, "CopyObject"),
    ("object", "GET", ""): (objects.get_object, "GetObject"),
    ("object", "HEAD", ""): (objects.get_object, "HeadObject"),
    ("object", "DELETE", ""): (objects.delete_object, "DeleteObject"),
    ("object", "GET", "versionId"): (objects.get_object, "GetObject"),
    ("object", "HEAD", "versionId"): (objects.get_object, "HeadObject"),
    ("object", "DELETE", "versionId"): (objects.delete_object, "DeleteObject"),
    ("object", "GET", "partNumber"): (objects.get_object, "GetObject"),
    ("object", "HEAD", "partNumber"): (objects.get_object, "HeadObject"),
    ("object", "GET", "partNumber&versionId"): (objects.get_object, "GetObject"),
    ("object", "HEAD", "partNumber&versionId"): (objects.get_object, "HeadObject"),
    ("bucket", "GET", "uploads"): (multipart.list_uploads, "ListMultipartUploads"),
    ("object", "POST", "uploads"): (multipart.create_upload, "CreateMultipartUpload"),
    ("object", "PUT", "partNumber&uploadId"): (multipart.upload_part, "UploadPart"),
    ("object", "PUT", "partNumber&uploadId+copy"): (copy.upload_part_copy, "UploadPartCopy"),
    ("object", "POST", "uploadId"): (multipart.complete_upload, "CompleteMultipartUpload"),
    ("object", "DELETE", "uploadId"): (multipart.abort_upload, "AbortMultipartUpload"),
    ("object", "GET", "uploadId"): (multipart.list_parts, "ListParts"),
    ("bucket", "POST", ""): (post.post_object, "PostObject"),
    ("bucket", "PUT", "cors"): (cors.put_bucket_cors, "PutBucketCors"),
    ("bucket", "GET", "cors"): (cors.get_bucket_cors, "GetBucketCors"),
    ("bucket", "DELETE", "cors"): (cors.delete_bucket_cors, "DeleteBucketCors"),
    ("bucket", "PUT", "policy"): (policy.put_bucket_policy, "PutBucketPolicy"),
    ("bucket", "GET", "policy"): (policy.get_bucket_policy, "GetBucketPolicy"),
    ("bucket", "DELETE", "policy"): (policy.delete_bucket_policy, "DeleteBucketPolicy"),
    ("bucket", "GET", "policyStatus"): (policy.get_bucket_policy_status, "GetBucketPolicyStatus"),
    ("bucket", "PUT", "acl"): (acl.put_bucket_acl, "PutBucketAcl"),
    ("bucket", "GET", "acl"): (acl.get_bucket_acl, "GetBucketAcl"),
    ("object", "GET", "acl"): (acl.get_object_acl, "GetObjectAcl"),
    ("object", "GET", "acl&versionId"): (acl.get_object_acl, "GetObjectAcl"),
    ("object", "PUT", "acl"): (acl.put_object_acl, "PutObjectAcl"),
    ("object", "PUT", "acl&versionId"): (acl.put_object_acl, "PutObjectAcl"),
    ("bucket", "PUT", "tagging"): (tagging.put_bucket_tagging, "PutBucketTagging"),
    ("bucket", "GET", "tagging"): (tagging.get_bucket_tagging, "GetBucketTagging"),
    ("bucket", "DELETE", "tagging"): (tagging.delete_bucket_tagging, "DeleteBucketTagging"),
    ("object", "GET", "attributes"): (attributes.get_object_attributes, "GetObjectAttributes"),
    ("object", "GET", "attributes&versionId"): (attributes.get_object_attributes, "GetObjectAttributes"),
    ("object", "GET", "tagging"): (tagging.get_object_tagging, "GetObjectTagging"),
    ("object", "GET", "tagging&versionId"): (tagging.get_object_tagging, "GetObjectTagging"),
    ("object", "PUT", "tagging"): (tagging.put_object_tagging, "PutObjectTagging"),
    ("object", "PUT", "tagging&versionId"): (tagging.put_object_tagging, "PutObjectTagging"),
    ("object", "DELETE", "tagging"): (tagging.delete_object_tagging, "DeleteObjectTagging"),
    ("object", "DELETE", "tagging&versionId"): (tagging.delete_object_tagging, "DeleteObjectTagging"),
    ("bucket", "PUT", "ownershipControls"): (ownership.put_ownership_controls, "PutBucketOwnershipControls"),
    ("bucket", "GET", "ownershipControls"): (ownership.get_ownership_controls, "GetBucketOwnershipControls"),
    ("bucket", "DELETE", "ownershipControls"): (ownership.delete_ownership_controls, "DeleteBucketOwnershipControls"),
    ("bucket", "PUT", "publicAccessBlock"): (ownership.put_public_access_block, "PutPublicAccessBlock"),
    ("bucket", "GET", "publicAccessBlock"): (ownership.get_public_access_block, "GetPublicAccessBlock"),
    ("bucket", "DELETE", "publicAccessBlock"): (ownership.delete_public_access_block, "DeletePublicAccessBlock"),
}

# Every query name that selects an S3 operation. One that has no row above is
# answered NotImplemented, never silently treated as the plain operation.
SUBRESOURCES = frozenset({
    "accelerate", "acl", "analytics", "attributes", "cors", "delete", "encryption",
    "intelligent-tiering", "inventory", "legal-hold", "lifecycle", "location", "logging",
    "metadataTable", "metrics", "notification", "object-lock", "ownershipControls",
    "partNumber", "policy", "policyStatus", "publicAccessBlock", "replication",
    "requestPayment", "restore", "retention", "select", "session", "tagging", "torrent",
    "uploadId", "uploads", "versionId", "versioning", "versions", "website", "renameObject",
})
_RESOURCE_TYPE = {"service": "SERVICE", "bucket": "BUCKET", "object": "OBJECT"}


def resolve(target: str, method: str, query_names: Iterable[str],
            headers: Mapping[str, str] | None = None) -> tuple[Handler, str | None]:
    """(handler, S3 operation name) of a request, or S3's NotImplemented / MethodNotAllowed.
    The operation names the row of access.actions.OPERATIONS that authorizes it; a CORS
    preflight has none (it is not an S3 operation and is never authorized)."""
    if method == "OPTIONS":  # a CORS preflight, whatever the URL names
        return cors.preflight, None
    subs = "&".join(sorted({n for n in query_names if n in SUBRESOURCES})) if query_names else ""
    if method == "PUT" and target == "object" and headers is not None and "x-amz-copy-source" in headers:
        subs += "+copy"
    handler = ROUTES.get((target, method, subs))
    if handler is not None:
        return handler
    if subs:
        raise S3Error("NotImplemented")
    raise S3Error("MethodNotAllowed", elements={"Method": method, "ResourceType": _RESOURCE_TYPE[target]})


def unauthenticated(target: str, method: str, query_names: Iterable[str]) -> bool:
    """Requests S3 serves without a signed request: CORS preflights, and POST object
    (its form carries a signed policy, checked by the handler)."""
    if method == "OPTIONS":
        return True
    return method == "POST" and target == "bucket" and not any(n in SUBRESOURCES for n in query_names)


def split_path(raw_path: str, virtual_bucket: str | None) -> tuple[str, str, str]:
    """(target, bucket, key) of a path; the key percent-decoded, exactly as sent."""
    path = raw_path[1:] if raw_path.startswith("/") else raw_path
    if virtual_bucket is not None:
        bucket, raw_key = virtual_bucket, path
    else:
        raw_bucket, _, raw_key = path.partition("/")
        bucket = unquote(raw_bucket)
        if not bucket:
            return "service", "", ""
    try:
        key = unquote(raw_key, errors="strict")
    except UnicodeDecodeError:
        raise S3Error("InvalidURI", elements={"URI": raw_path}) from None
    if not _valid_bucket(bucket):
        raise S3Error("InvalidBucketName", elements={"BucketName": bucket})
    return ("object" if key else "bucket"), bucket, key


@lru_cache(maxsize=1024)
def _valid_bucket(name: str) -> bool:
    """S3's bucket naming rules (the core's), remembered per name."""
    try:
        check_bucket_name(name)
    except PresignError:
        return False
    return True


def virtual_bucket(host: str, domain: str | None) -> str | None:
    """The bucket named by a virtual-hosted Host header (bucket.DOMAIN[:port])."""
    if not domain or not host:
        return None
    name = host.lower()
    if not name.startswith("["):
        name = name.rpartition(":")[0] if ":" in name else name
    if name.endswith("." + domain):
        return name[: -len(domain) - 1]
    return None
