"""Helpers shared by the object handlers (no handler imports another)."""

from __future__ import annotations

import time

from s3presign.core.numbers import ascii_uint
from s3presign.core.s3errors import S3Error
from s3presign.server.handlers.context import Ctx
from s3presign.server.encryption import ObjectWriter
from s3presign.server.http import Response
from s3presign.server.sse import CustomerKey, SseRequest, parse_read_sse
from s3presign.server.storage import NULL, BucketInfo, ObjectMeta, Upload, valid_version_id

MAX_KEY_BYTES = 1024
MAX_USER_METADATA = 2048  # bytes of x-amz-meta-* names and values (UTF-8)
MAX_PARTS = 10_000
META_PREFIX = "x-amz-meta-"
# Headers stored with the object and returned on GET/HEAD.
STORED_HEADERS = ("content-disposition", "content-encoding", "content-language", "cache-control", "expires")
STORAGE_CLASSES = frozenset({
    "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
    "GLACIER", "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR", "SNOW", "EXPRESS_ONEZONE",
})
# Write headers that ask for features this server does not have: refused, not ignored.
UNSUPPORTED_WRITE_HEADERS = (
    "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold",
    "x-amz-website-redirect-location",
)
XML = ("Content-Type", "application/xml")
# The SSE-C refusals of a part or completion whose key is not the upload's.
_KEY_MISMATCH = frozenset({"SseCWrongKey", "SseCObjectNeedsKey", "SseCNotForThisObject"})


def check_key(key: str) -> None:
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise S3Error("KeyTooLong", elements={"Size": str(size), "MaxSizeAllowed": str(MAX_KEY_BYTES)})


def stored_headers(headers: dict[str, str]) -> tuple[str, dict[str, str], dict[str, str], dict[str, str]]:
    """(Content-Type, stored standard headers, user metadata, extra) of a write."""
    for name in UNSUPPORTED_WRITE_HEADERS:
        if name in headers:
            raise S3Error("NotImplemented", elements={"Header": name})
    stored = {n: headers[n] for n in STORED_HEADERS if n in headers}
    encoding = stored.get("content-encoding")
    if encoding is not None:  # aws-chunked describes the transfer, not the object
        parts = [e.strip() for e in encoding.split(",")]
        kept = [e for e in parts if e and e.lower() != "aws-chunked"]
        if not kept:
            del stored["content-encoding"]
        elif len(kept) < len(parts):
            stored["content-encoding"] = ", ".join(kept)
        # else: stored exactly as sent (S3 echoes "deflate, gzip" byte for byte)
    user = {n: v for n, v in headers.items() if n.startswith(META_PREFIX)}
    # header text is decoded as latin-1, one character per byte on the wire
    size = sum(len(n) - len(META_PREFIX) + len(v) for n, v in user.items())
    if size > MAX_USER_METADATA:
        raise S3Error("MetadataTooLarge", elements={"Size": str(size), "MaxSizeAllowed": str(MAX_USER_METADATA)})
    extra: dict[str, str] = {}
    storage_class = headers.get("x-amz-storage-class")
    if storage_class is not None:
        if storage_class not in STORAGE_CLASSES:
            raise S3Error("InvalidStorageClass", elements={"StorageClassRequested": storage_class})
        if storage_class != "STANDARD":
            extra["storage_class"] = storage_class
    return headers.get("content-type") or "binary/octet-stream", stored, user, extra


def default_sse(info: BucketInfo) -> SseRequest | None:
    config = info.config.get("encryption")
    return SseRequest.from_bucket_default(config) if config else None


def version_param(ctx: Ctx) -> str | None:
    """The ?versionId of a request (S3's InvalidArgument for one that cannot exist)."""
    version = ctx.req.query.get("versionId")
    if version is None:
        return None
    if not valid_version_id(version):
        raise S3Error("InvalidVersionId")
    return version


def part_number(ctx: Ctx) -> int:
    raw = ctx.req.query.get("partNumber", "")
    number = ascii_uint(raw, 5)
    if number is None or not 1 <= number <= MAX_PARTS:
        raise S3Error("InvalidPartNumber", elements={"ArgumentName": "partNumber", "ArgumentValue": raw})
    return number


def count_param(query: dict[str, str], name: str, error: str, default: int) -> int:
    """A non-negative count parameter (max-keys, max-parts...), S3's error otherwise."""
    raw = query.get(name)
    if raw is None:
        return default
    value = ascii_uint(raw, 10)
    if value is None or value > 2147483647:
        raise S3Error(error, elements={"ArgumentName": name, "ArgumentValue": raw})
    return value


def version_header(resp: Response, info: BucketInfo | None, meta: ObjectMeta) -> Response:
    """x-amz-version-id, as S3 sends it: for every version of a bucket that has had versioning."""
    if meta.version_id != NULL or (info is not None and info.versioning):
        resp.header("x-amz-version-id", meta.version_id)
    return resp


# --- multipart parts (UploadPart and UploadPartCopy) ------------------------------------


def customer_key(ctx: Ctx) -> CustomerKey | None:
    """The SSE-C key of a part or completion (naming an SSE mode there is refused)."""
    req = ctx.req
    return parse_read_sse(req.headers, secure=req.secure, allow_insecure_ssec=ctx.state.config.allow_insecure_ssec,
                          signature_version=ctx.signature_version)


def same_key(call):
    """Run ``call``; an SSE-C key other than the upload's is S3's mismatch error."""
    try:
        return call()
    except S3Error as err:
        if err.name in _KEY_MISMATCH:
            raise S3Error("SseCPartKeyMismatch") from None
        raise


def begin_part(ctx: Ctx, upload: Upload, number: int) -> ObjectWriter:
    """The encrypting writer of one part, after S3's SSE-C and SigV2-on-KMS checks."""
    key = customer_key(ctx)
    return same_key(lambda: ctx.state.encryption.begin_part(
        upload.envelope, number, key, bucket=ctx.bucket, key=ctx.key, upload_id=upload.upload_id,
        signature_version=ctx.signature_version))


def part_meta(number: int, size: int, etag: str, writer: ObjectWriter, checksum: dict[str, str] | None,
              blobs: list) -> ObjectMeta:
    """A staged part's record: its size, ETag, encryption record (salt, nonces) and blob."""
    return ObjectMeta(key="", size=size, etag=etag, last_modified=time.time(), envelope=writer.envelope,
                      checksum=checksum, extra={"part": number}, blobs=blobs)


async def upload_of(ctx: Ctx) -> Upload:
    return await ctx.state.store.get_upload(ctx.bucket, ctx.req.query.get("uploadId", ""), ctx.key)
