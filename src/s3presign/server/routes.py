"""Which handler serves a request: the routing rules, as data.

A route is (target, method, sub-resources), where target is "service",
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
from s3presign.server.handlers import buckets, copy, cors, multipart, objects, post
from s3presign.server.handlers.context import Ctx
from s3presign.server.http import Response

Handler = Callable[[Ctx], Awaitable[Response]]

ROUTES: dict[tuple[str, str, str], Handler] = {
    ("service", "GET", ""): buckets.list_buckets,
    ("bucket", "PUT", ""): buckets.create_bucket,
    ("bucket", "HEAD", ""): buckets.head_bucket,
    ("bucket", "DELETE", ""): buckets.delete_bucket,
    ("bucket", "GET", ""): buckets.list_objects,
    ("bucket", "GET", "location"): buckets.get_bucket_location,
    ("bucket", "PUT", "encryption"): buckets.put_bucket_encryption,
    ("bucket", "GET", "encryption"): buckets.get_bucket_encryption,
    ("bucket", "DELETE", "encryption"): buckets.delete_bucket_encryption,
    ("bucket", "GET", "versioning"): buckets.get_bucket_versioning,
    ("bucket", "PUT", "versioning"): buckets.put_bucket_versioning,
    ("bucket", "GET", "versions"): buckets.list_object_versions,
    ("bucket", "POST", "delete"): objects.delete_objects,
    ("object", "PUT", ""): objects.put_object,
    ("object", "PUT", "+copy"): copy.copy_object,
    ("object", "GET", ""): objects.get_object,
    ("object", "HEAD", ""): objects.get_object,
    ("object", "DELETE", ""): objects.delete_object,
    ("object", "GET", "versionId"): objects.get_object,
    ("object", "HEAD", "versionId"): objects.get_object,
    ("object", "DELETE", "versionId"): objects.delete_object,
    ("object", "GET", "partNumber"): objects.get_object,
    ("object", "HEAD", "partNumber"): objects.get_object,
    ("object", "GET", "partNumber&versionId"): objects.get_object,
    ("object", "HEAD", "partNumber&versionId"): objects.get_object,
    ("bucket", "GET", "uploads"): multipart.list_uploads,
    ("object", "POST", "uploads"): multipart.create_upload,
    ("object", "PUT", "partNumber&uploadId"): multipart.upload_part,
    ("object", "PUT", "partNumber&uploadId+copy"): copy.upload_part_copy,
    ("object", "POST", "uploadId"): multipart.complete_upload,
    ("object", "DELETE", "uploadId"): multipart.abort_upload,
    ("object", "GET", "uploadId"): multipart.list_parts,
    ("bucket", "POST", ""): post.post_object,
    ("bucket", "PUT", "cors"): cors.put_bucket_cors,
    ("bucket", "GET", "cors"): cors.get_bucket_cors,
    ("bucket", "DELETE", "cors"): cors.delete_bucket_cors,
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


def resolve(target: str, method: str, query_names: Iterable[str], headers: Mapping[str, str] | None = None) -> Handler:
    """The handler for a request, or S3's NotImplemented / MethodNotAllowed."""
    if method == "OPTIONS":  # a CORS preflight, whatever the URL names
        return cors.preflight
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
