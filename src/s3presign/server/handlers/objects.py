"""Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects.

Every object is encrypted through server.encryption (SSE-S3 when the request
and the bucket name nothing); storage only ever sees ciphertext.
"""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator, Iterator
from urllib.parse import quote

from s3presign.core.s3errors import S3Error
from s3presign.server import checksums, xml
from s3presign.server.auth import Payload
from s3presign.server.handlers.conditions import byte_range, not_modified
from s3presign.server.handlers.context import Ctx
from s3presign.server.http import Response, http_date
from s3presign.server.encryption import ObjectReader
from s3presign.server.sse import SSE_S3, CustomerKey, SseRequest, parse_read_sse, parse_write_sse
from s3presign.server.handlers.writing import LARGE_BODY, encrypt_into
from s3presign.server.offload import read_ahead
from s3presign.server.storage import ObjectMeta

MAX_KEY_BYTES = 1024
MAX_USER_METADATA = 2048  # bytes of x-amz-meta-* names and values (UTF-8)
MAX_DELETE_KEYS = 1000
SMALL_OBJECT = 1 << 20  # read and decrypt in one go below this stored size
READER_CACHE = 4096
META_PREFIX = "x-amz-meta-"
# Headers stored with the object and returned on GET/HEAD.
STORED_HEADERS = ("content-disposition", "content-encoding", "content-language", "cache-control", "expires")
# GET query parameters that override a response header.
RESPONSE_OVERRIDES = {
    "response-content-type": "content-type",
    "response-content-language": "content-language",
    "response-expires": "expires",
    "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
}
STORAGE_CLASSES = frozenset({
    "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
    "GLACIER", "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR", "SNOW", "EXPRESS_ONEZONE",
})
# Write headers that ask for features this server does not have: refused, not ignored.
UNSUPPORTED_WRITE_HEADERS = (
    "x-amz-copy-source", "x-amz-tagging", "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold",
    "x-amz-website-redirect-location",
)


def check_key(key: str) -> None:
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise S3Error("KeyTooLong", elements={"Size": str(len(key.encode("utf-8", "surrogatepass"))), "MaxSizeAllowed": str(MAX_KEY_BYTES)})


def stored_headers(headers: dict[str, str]) -> tuple[str, dict[str, str], dict[str, str], dict[str, str]]:
    """(Content-Type, stored standard headers, user metadata, extra) of a write."""
    for name in UNSUPPORTED_WRITE_HEADERS:
        if name in headers:
            raise S3Error("NotImplemented", elements={"Header": name})
    stored = {n: headers[n] for n in STORED_HEADERS if n in headers}
    encoding = stored.get("content-encoding")
    if encoding is not None:  # aws-chunked describes the transfer, not the object
        kept = [e.strip() for e in encoding.split(",") if e.strip() and e.strip().lower() != "aws-chunked"]
        if kept:
            stored["content-encoding"] = ",".join(kept)
        else:
            del stored["content-encoding"]
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


def bucket_default_sse(ctx: Ctx) -> SseRequest | None:
    config = ctx.state.storage.bucket(ctx.bucket).config.get("encryption")
    return SseRequest.from_bucket_default(config) if config else None


async def put_object(ctx: Ctx) -> Response:
    req, state = ctx.req, ctx.state
    headers = req.headers
    check_key(ctx.key)
    for name in ("if-match", "if-none-match"):  # S3's conditional writes: not here yet
        if name in headers:
            raise S3Error("NotImplemented", elements={"Header": name})
    content_type, stored, user, extra = stored_headers(headers)
    bucket_default = bucket_default_sse(ctx)  # NoSuchBucket before the body is read
    sse = parse_write_sse(
        headers, secure=req.secure, allow_insecure_ssec=state.config.allow_insecure_ssec,
        signature_version=ctx.signature_version,
    )
    payload = Payload(req, ctx.auth)
    writer = state.encryption.begin_write(
        sse, bucket_default, bucket=ctx.bucket, key=ctx.key, signature_version=ctx.signature_version
    )
    sink = state.storage.writer(ctx.bucket, ctx.key)
    try:
        await encrypt_into(sink, writer, payload.chunks(), large=payload.expected_size >= LARGE_BODY)
        payload.finish()
        etag = writer.etag(payload.md5_hex)
        checksum = payload.checksum_record
        meta = ObjectMeta(
            key=ctx.key, size=payload.size, etag=etag, last_modified=time.time(),
            content_type=content_type, headers=stored, user_meta=user,
            envelope=writer.envelope, checksum=checksum, extra=extra,
        )
        await asyncio.get_running_loop().run_in_executor(None, sink.commit, meta)
    except BaseException:
        sink.abort()
        raise
    resp = Response(200).header("ETag", f'"{etag}"').extend(writer.response_headers.items())
    if checksum:
        resp.header(checksums.header(checksum["algorithm"]), checksum["value"])
    return resp


def _object_headers(resp: Response, meta: ObjectMeta, query: dict[str, str]) -> None:
    """Content-Type, the stored headers, user metadata; response-* overrides win."""
    values = {"content-type": meta.content_type, **meta.headers}
    for param, name in RESPONSE_OVERRIDES.items():
        if param in query:
            values[name] = query[param]
    resp.extend(values.items())
    resp.extend(meta.user_meta.items())
    storage_class = meta.extra.get("storage_class")
    if storage_class:
        resp.header("x-amz-storage-class", storage_class)


def _reader(ctx: Ctx, meta: ObjectMeta, customer_key: CustomerKey | None) -> ObjectReader:
    """The decrypting reader of an object version. SSE-S3 readers are kept per
    version: they depend only on the stored envelope and the master key (no
    request input, no key state to re-check, unlike SSE-C and SSE-KMS)."""
    state = ctx.state
    cacheable = customer_key is None and meta.envelope.get("mode") == SSE_S3
    if cacheable:
        hit = state.readers.get((ctx.bucket, ctx.key))
        if hit is not None and hit[0] is meta:
            return hit[1]
    reader = state.encryption.open_read(
        meta.envelope, customer_key, bucket=ctx.bucket, key=ctx.key, signature_version=ctx.signature_version
    )
    if cacheable:
        if len(state.readers) >= READER_CACHE:
            state.readers.clear()
        state.readers[(ctx.bucket, ctx.key)] = (meta, reader)
    return reader


async def get_object(ctx: Ctx) -> Response:
    req, state = ctx.req, ctx.state
    head = req.method == "HEAD"
    customer_key = parse_read_sse(
        req.headers, secure=req.secure, allow_insecure_ssec=state.config.allow_insecure_ssec,
        signature_version=ctx.signature_version,
    )
    obj = state.storage.open(ctx.bucket, ctx.key)
    try:
        meta = obj.meta
        reader = _reader(ctx, meta, customer_key)
        headers = req.headers
        etag = f'"{meta.etag}"'
        resp = Response(200)
        resp.header("Last-Modified", http_date(meta.last_modified)).header("ETag", etag)
        if not_modified(headers, meta.etag, meta.last_modified):
            obj.close()
            resp.status = 304
            return resp
        size = meta.size
        window = byte_range(headers.get("range"), size)
        if window is None:
            start, end = 0, size - 1
        else:
            start, end = window
            resp.status = 206
            resp.header("Content-Range", f"bytes {start}-{end}/{size}")
        _object_headers(resp, meta, req.query if "response-" in req.raw_query else {})
        resp.extend(reader.response_headers.items())
        resp.header("Accept-Ranges", "bytes").header("Content-Length", str(end - start + 1))
        if meta.checksum and window is None and headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            resp.header(checksums.header(meta.checksum["algorithm"]), meta.checksum["value"])
        if head:
            obj.close()
            return resp
        offset, length = reader.cipher_range(start, end)
        if length <= SMALL_OBJECT:
            decryptor = reader.decryptor(start, end)
            resp.body = decryptor.feed(obj.pread(offset, length)) + decryptor.close()
        else:
            resp.body = _plaintext(reader, obj.read(offset, length), start, end)
        return resp
    except BaseException:
        obj.close()
        raise


async def _plaintext(reader: ObjectReader, stored: Iterator[bytes], start: int, end: int) -> AsyncIterator[bytes]:
    """Decrypt a large range while a helper thread reads the next stored chunk."""
    decryptor = reader.decryptor(start, end)
    async for chunk in read_ahead(stored):
        plain = decryptor.feed(chunk)
        if plain:
            yield plain
    tail = decryptor.close()
    if tail:
        yield tail


async def delete_object(ctx: Ctx) -> Response:
    check_key(ctx.key)
    ctx.state.storage.delete(ctx.bucket, ctx.key)
    return Response(204)


async def delete_objects(ctx: Ctx) -> Response:
    """POST ?delete: up to 1000 keys; errors per key, never for a missing key."""
    body = await ctx.read_body(2 * 1024 * 1024, require_digest=True)
    root = xml.parse(body)
    if xml.local(root.tag) != "Delete":
        raise S3Error("MalformedXML")
    quiet = (xml.text(root, "Quiet") or "").strip().lower() == "true"
    objects = xml.children(root, "Object")
    if not objects or len(objects) > MAX_DELETE_KEYS:
        raise S3Error("MalformedXML")
    storage = ctx.state.storage
    storage.bucket(ctx.bucket)
    encode = (ctx.req.query.get("encoding-type") == "url")
    parts: list[str] = []
    for item in objects:
        key = xml.text(item, "Key")
        if key is None:
            raise S3Error("MalformedXML")
        shown = quote(key, safe="/") if encode else key
        version = xml.text(item, "VersionId")
        try:
            if version not in (None, "null"):
                raise S3Error("InvalidVersionId")
            check_key(key)
            storage.delete(ctx.bucket, key)
        except S3Error as err:
            parts.append(xml.tree("Error", xml.el("Key", shown), xml.el("VersionId", version),
                                  xml.el("Code", err.code), xml.el("Message", err.message)))
            continue
        if not quiet:
            parts.append(xml.tree("Deleted", xml.el("Key", shown), xml.el("VersionId", version)))
    return Response(200, body=xml.document("DeleteResult", parts)).header("Content-Type", "application/xml")
